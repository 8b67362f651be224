#include "common/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace canopy {
namespace {

TEST(ManualClock, MovesOnlyWhenAdvanced) {
  ManualClock clock(1'000'000);
  EXPECT_EQ(clock.wall_ms(), 1'000'000);
  EXPECT_EQ(clock.monotonic_ms(), 0);
  clock.advance_ms(3 * 86'400'000LL);  // three days, no waiting
  EXPECT_EQ(clock.wall_ms(), 1'000'000 + 3 * 86'400'000LL);
  EXPECT_EQ(clock.monotonic_ms(), 3 * 86'400'000LL);
  clock.advance_ms(-5);  // time never goes back
  EXPECT_EQ(clock.monotonic_ms(), 3 * 86'400'000LL);
}

TEST(ManualClock, WallCorrectionLeavesMonotonicTime) {
  ManualClock clock(1'000'000);
  clock.advance_ms(10);
  clock.set_wall_ms(50);
  EXPECT_EQ(clock.wall_ms(), 50);
  EXPECT_EQ(clock.monotonic_ms(), 10);
}

TEST(ManualClock, SleeperWakesWhenTimeReachesItsDeadline) {
  ManualClock clock;
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    clock.sleep_for_ms(1000);
    woke = true;
  });
  while (clock.sleepers() == 0) std::this_thread::yield();
  clock.advance_ms(999);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(woke.load());  // one millisecond short
  clock.advance_ms(1);
  sleeper.join();
  EXPECT_TRUE(woke.load());
  EXPECT_EQ(clock.sleepers(), 0);
}

TEST(ManualClock, AdvanceOnSleepMovesTimeItself) {
  ManualClock clock(0, /*advance_on_sleep=*/true);
  clock.sleep_for_ms(250);
  clock.sleep_for_ms(0);
  EXPECT_EQ(clock.monotonic_ms(), 250);
  EXPECT_EQ(clock.wall_ms(), 250);
}

TEST(ManualClock, SleepUnlessStoppedEndsAtItsDeadlineOrAtTheStop) {
  ManualClock clock(0, /*advance_on_sleep=*/true);
  const std::atomic<bool> never{false};
  clock.sleep_for_ms_unless(250, never);
  EXPECT_EQ(clock.monotonic_ms(), 250) << "slept the whole time, in slices";

  ManualClock still;  // moves only when told, so only the stop can end this sleep
  std::atomic<bool> stop{false};
  std::thread sleeper([&] { still.sleep_for_ms_unless(60'000, stop); });
  while (still.sleepers() == 0) std::this_thread::yield();
  stop = true;
  still.advance_ms(100);  // the end of the slice it sleeps in; the stop ends the rest
  sleeper.join();
  EXPECT_EQ(still.monotonic_ms(), 100);
}

TEST(SystemClock, MonotonicTimeDoesNotGoBack) {
  Clock& clock = system_clock();
  const std::int64_t a = clock.monotonic_ms();
  clock.sleep_for_ms(2);
  EXPECT_GE(clock.monotonic_ms(), a + 2);
  EXPECT_GT(clock.wall_ms(), 1'700'000'000'000);
}

}  // namespace
}  // namespace canopy
