// Retry backoff: it grows, it is jittered, and so are polls.
#include "common/backoff.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace canopy {
namespace {

TEST(BackoffTest, GrowsWithJitterAndPollsAreJittered) {
  Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(1000));
  for (int i = 0; i < 20; ++i) {
    auto wait = backoff.next_failure();
    EXPECT_GE(wait.count(), 100);
    EXPECT_LE(wait.count(), std::min(1000, 100 << std::min(i, 10)));
  }
  backoff.reset();
  EXPECT_EQ(backoff.next_failure().count(), 100) << "the first wait after a success is the initial one";
  for (int i = 0; i < 50; ++i) {
    auto wait = backoff.jittered(std::chrono::seconds(30));
    EXPECT_GE(wait.count(), 24000);
    EXPECT_LE(wait.count(), 36000);
  }
}

}  // namespace
}  // namespace canopy
