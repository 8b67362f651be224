// The atomic writes of common/files.h under every failure FaultEnv injects:
// whatever operation fails, the file holds its old content or its new
// content, never a mix and never nothing; and when a power cut follows a
// write that did not return success, the old content.
#include <gtest/gtest.h>

#include "common/files.h"
#include "fault_env.h"
#include "test_support.h"

namespace canopy::testing {
namespace {

class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override { write_bytes(file_, kOld); }

  static constexpr const char* kOld = "old state\n";
  const std::string new_ = std::string(5000, 'n');
  TempDir dir_;
  fs::path file_ = dir_ / "state.json";
  FaultEnv env_;
};

TEST_F(EnvTest, AFailureAtAnyOperationKeepsTheOldContent) {
  std::int64_t failing = 1;
  for (;; ++failing) {
    env_.reset();
    env_.fail_from_operation(failing);
    Status written = write_file_atomic(file_, new_, 0600, env_);
    if (written.ok()) break;
    EXPECT_NE(written.error().message.find("injected failure"), std::string::npos) << written.error().message;
    // Renamed but not yet durable when only the directory sync failed.
    const std::string now = read_bytes(file_);
    EXPECT_TRUE(now == kOld || (now == new_ && failing == 6)) << "operation " << failing;
    env_.drop_unsynced();
    EXPECT_EQ(read_bytes(file_), kOld) << "operation " << failing << ", then a power cut";
  }
  // create, set_mode, append, sync, rename, sync_dir: the write succeeds only
  // once none of its six operations fails, and then it is durable.
  EXPECT_EQ(failing, 7);
  env_.drop_unsynced();
  EXPECT_EQ(read_bytes(file_), new_);
}

TEST_F(EnvTest, APowerCutAfterTheRenameButBeforeTheDirectorySyncKeepsTheOldContent) {
  env_.fail_from_operation(6);  // the directory sync
  ASSERT_FALSE(write_file_atomic(file_, new_, 0600, env_).ok());
  EXPECT_EQ(read_bytes(file_), new_) << "renamed, but not durable yet";
  env_.drop_unsynced();
  EXPECT_EQ(read_bytes(file_), kOld);
}

TEST_F(EnvTest, ReplaceWithoutSyncIsLostByAPowerCutButNeverTorn) {
  ASSERT_TRUE(replace_file_atomic(file_, new_, 0644, env_).ok());
  EXPECT_EQ(read_bytes(file_), new_);
  env_.drop_unsynced();
  EXPECT_EQ(read_bytes(file_), kOld);
}

TEST_F(EnvTest, AFullDiskFailsTheWriteAndKeepsTheOldContent) {
  env_.fill_disk_after_bytes(100);
  Status written = write_file_atomic(file_, new_, 0600, env_);
  ASSERT_FALSE(written.ok());
  EXPECT_NE(written.error().message.find("No space left on device"), std::string::npos);
  EXPECT_EQ(read_bytes(file_), kOld);
  env_.drop_unsynced();
  EXPECT_EQ(read_bytes(file_), kOld);
  EXPECT_EQ(list_files(dir_.path()), std::vector<std::string>{"state.json"}) << "the temp file is removed";
}

}  // namespace
}  // namespace canopy::testing
