#include "common/subprocess.h"

#include <gtest/gtest.h>
#include <signal.h>

#include "test_support.h"

namespace canopy {
namespace {

TEST(Subprocess, ReportsExitCodeAndCapturesOutput) {
  testing::TempDir dir;
  auto child = Subprocess::start({{"/bin/sh", "-c", "echo out; echo err >&2; echo $GREETING; exit 3"},
                                  {{"GREETING", "hello"}},
                                  dir / "out",
                                  dir / "err"});
  ASSERT_TRUE(child.ok()) << child.error().message;
  EXPECT_EQ(child->wait(), 3);
  EXPECT_EQ(testing::read_bytes(dir / "out"), "out\nhello\n");
  EXPECT_EQ(testing::read_bytes(dir / "err"), "err\n");
}

TEST(Subprocess, MissingProgramIsAClearError) {
  auto child = Subprocess::start({{"/nonexistent/program"}, {}, {}, {}});
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.error().code, ErrorCode::kNotFound);
  EXPECT_NE(child.error().message.find("/nonexistent/program"), std::string::npos);
}

TEST(Subprocess, SignalEndsChild) {
  auto child = Subprocess::start({{"/bin/sleep", "30"}, {}, {}, {}});
  ASSERT_TRUE(child.ok());
  child->signal(SIGKILL);
  EXPECT_EQ(child->wait(), 128 + SIGKILL);
}

}  // namespace
}  // namespace canopy
