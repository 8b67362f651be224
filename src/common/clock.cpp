#include "common/clock.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace canopy {

void Clock::sleep_for_ms_unless(std::int64_t duration_ms, const std::atomic<bool>& stop) {
  const std::int64_t until = monotonic_ms() + duration_ms;
  for (std::int64_t now = monotonic_ms(); !stop.load() && now < until; now = monotonic_ms())
    sleep_for_ms(std::min<std::int64_t>(100, until - now));
}

std::int64_t SystemClock::wall_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t SystemClock::monotonic_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void SystemClock::sleep_for_ms(std::int64_t duration_ms) {
  if (duration_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(duration_ms));
}

Clock& system_clock() {
  static SystemClock clock;
  return clock;
}

std::int64_t ManualClock::wall_ms() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return wall_at_zero_ms_ + monotonic_ms_;
}

std::int64_t ManualClock::monotonic_ms() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return monotonic_ms_;
}

void ManualClock::sleep_for_ms(std::int64_t duration_ms) {
  if (duration_ms <= 0) return;
  std::unique_lock<std::mutex> lock(mutex_);
  if (advance_on_sleep_) {
    monotonic_ms_ += duration_ms;
    moved_.notify_all();
    return;
  }
  const std::int64_t deadline = monotonic_ms_ + duration_ms;
  ++sleepers_;
  moved_.wait(lock, [&] { return monotonic_ms_ >= deadline; });
  --sleepers_;
}

void ManualClock::advance_ms(std::int64_t duration_ms) {
  if (duration_ms <= 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  monotonic_ms_ += duration_ms;
  moved_.notify_all();
}

void ManualClock::set_wall_ms(std::int64_t wall_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  wall_at_zero_ms_ = wall_ms - monotonic_ms_;
}

int ManualClock::sleepers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sleepers_;
}

}  // namespace canopy
