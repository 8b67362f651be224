#include "common/files.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "test_support.h"

namespace canopy {
namespace {

using testing::TempDir;

TEST(AtomicWrite, WritesContentAndMode) {
  TempDir dir;
  auto path = dir / "state.json";
  ASSERT_TRUE(write_file_atomic(path, "hello", 0600).ok());
  EXPECT_EQ(*read_file(path), "hello");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(write_file_atomic(path, "world").ok());
  EXPECT_EQ(*read_file(path), "world");
  EXPECT_EQ(testing::list_files(dir.path()), std::vector<std::string>{"state.json"}) << "no temp file left";
}

TEST(AtomicWrite, FailsCleanlyInMissingDirectory) {
  TempDir dir;
  auto status = write_file_atomic(dir / "missing" / "x", "data");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kIo);
  EXPECT_NE(status.error().message.find("missing"), std::string::npos);
}

// A child rewrites one file in a tight loop, alternating two contents of
// different sizes; the parent kills it with SIGKILL at varying instants. The
// file must always hold one whole version: this is how we know a crash at
// any instant leaves the old or the new state, never a mix.
TEST(AtomicWrite, SurvivesKillNineAtAnyInstant) {
  TempDir dir;
  auto path = dir / "state";
  const std::string a(100000, 'a');
  const std::string b(70000, 'b');
  ASSERT_TRUE(write_file_atomic(path, a).ok());
  for (int round = 0; round < 20; ++round) {
    pid_t child = ::fork();
    if (child == 0) {
      for (int i = 0;; ++i) (void)write_file_atomic(path, i % 2 ? a : b);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(2000 + round * 1500));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    auto content = read_file(path);
    ASSERT_TRUE(content.ok());
    EXPECT_TRUE(*content == a || *content == b)
        << "torn file of " << content->size() << " bytes in round " << round;
  }
}

TEST(ConfinedPath, AcceptsPlainRelativePaths) {
  EXPECT_TRUE(is_confined_relative_path("model.onnx"));
  EXPECT_TRUE(is_confined_relative_path("golden/input_0.pb"));
  EXPECT_TRUE(is_confined_relative_path("a/./b"));
}

TEST(ConfinedPath, RejectsEscapes) {
  EXPECT_FALSE(is_confined_relative_path(""));
  EXPECT_FALSE(is_confined_relative_path("/etc/passwd"));
  EXPECT_FALSE(is_confined_relative_path("../x"));
  EXPECT_FALSE(is_confined_relative_path("a/../../x"));
  EXPECT_FALSE(is_confined_relative_path("a/.."));
  EXPECT_FALSE(is_confined_relative_path("a\\..\\x"));
  EXPECT_FALSE(is_confined_relative_path(std::string("a\0b", 3)));
}

TEST(TempFile, DiscardedUnlessCommitted) {
  TempDir dir;
  {
    auto temp = TempFile::create(dir.path(), "upload-");
    ASSERT_TRUE(temp.ok());
    ASSERT_TRUE(temp->write("partial").ok());
  }
  EXPECT_TRUE(testing::list_files(dir.path()).empty());
  auto temp = TempFile::create(dir.path(), "upload-");
  ASSERT_TRUE(temp->write("complete").ok());
  ASSERT_TRUE(temp->commit_to(dir / "final").ok());
  EXPECT_EQ(testing::list_files(dir.path()), std::vector<std::string>{"final"});
}

}  // namespace
}  // namespace canopy
