// The simulation's virtual time: a sleep on the clock file at 1000x takes a
// thousandth of its virtual length in real time, and the file keeps the
// time where the simulation stopped.
#include "sim/virtual_time.h"

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "test_support.h"

namespace canopy::sim {
namespace {

constexpr std::int64_t kStartMs = 1'772'323'200'000;  // 2026-03-01T00:00:00Z

TEST(VirtualTime, AMinuteOfSleepAt1000xTakesSixtyRealMilliseconds) {
  testing::TempDir dir;
  auto time = VirtualTime::start(dir / "clock", kStartMs, 1000);
  ASSERT_TRUE(time.ok()) << time.error().message;
  // An agent's view: the file, opened on its own.
  auto agent_clock = SharedFileClock::open(dir / "clock");
  ASSERT_TRUE(agent_clock.ok());
  const std::int64_t asleep_at = (*agent_clock)->monotonic_ms();
  const auto began = std::chrono::steady_clock::now();
  (*agent_clock)->sleep_for_ms(60'000);
  const double real_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count();
  const std::int64_t slept_ms = (*agent_clock)->monotonic_ms() - asleep_at;
  std::cout << "60 s of virtual sleep at 1000x: " << real_ms << " ms real, woke " << slept_ms - 60'000
            << " virtual ms after the deadline\n";
  EXPECT_GE(slept_ms, 60'000);
  // 60 ms at this speed; the bounds leave room for a loaded machine.
  EXPECT_GE(real_ms, 55);
  EXPECT_LT(real_ms, 1000);
  EXPECT_EQ((*agent_clock)->wall_ms() - kStartMs, (*agent_clock)->monotonic_ms());
}

TEST(VirtualTime, RefusesASpeedThatIsNotPositive) {
  testing::TempDir dir;
  auto time = VirtualTime::start(dir / "clock", kStartMs, 0);
  ASSERT_FALSE(time.ok());
  EXPECT_EQ(time.error().code, ErrorCode::kInvalidArgument);
}

TEST(VirtualTime, TheFileKeepsTheTimeWhereItStopped) {
  testing::TempDir dir;
  std::int64_t stopped_at = 0;
  {
    auto time = VirtualTime::start(dir / "clock", kStartMs, 1000);
    ASSERT_TRUE(time.ok());
    (*time)->clock().sleep_for_ms(5'000);
    stopped_at = (*time)->clock().wall_ms();
  }
  auto reader = SharedFileClock::open(dir / "clock");
  ASSERT_TRUE(reader.ok());
  EXPECT_GE((*reader)->wall_ms(), stopped_at);
  EXPECT_GE((*reader)->wall_ms(), kStartMs + 5'000);
}

}  // namespace
}  // namespace canopy::sim
