// Time for everything that schedules, expires or records: wall time (Unix
// milliseconds, for records and the wire), monotonic time (for intervals and
// deadlines) and sleeping. Rules, leases, tokens, budgets and the world
// simulator take a Clock instead of reading the system clock, so a test can
// move time by days without waiting and a simulation can run faster than
// real time.
//
// Thread-safety: every method of every clock may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace canopy {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch, UTC. May jump (NTP, a manual move).
  virtual std::int64_t wall_ms() const = 0;
  // Milliseconds since an arbitrary start; never goes backwards.
  virtual std::int64_t monotonic_ms() const = 0;
  // Returns once monotonic_ms() has moved on by `duration_ms` (at once for 0
  // or less).
  virtual void sleep_for_ms(std::int64_t duration_ms) = 0;
  // Like sleep_for_ms, but returns early once `stop` is set; a stop is
  // noticed within about 100 ms of real time. This one sleeps in slices of
  // 100 ms of the clock's time; a clock faster than real time overrides it
  // so that a long wait does not wake thousands of times a second.
  virtual void sleep_for_ms_unless(std::int64_t duration_ms, const std::atomic<bool>& stop);
};

// The real clock: std::chrono's system and steady clocks.
class SystemClock final : public Clock {
 public:
  std::int64_t wall_ms() const override;
  std::int64_t monotonic_ms() const override;
  void sleep_for_ms(std::int64_t duration_ms) override;
};

// The process-wide real clock, for code that is handed no other.
Clock& system_clock();

// A clock that moves only when told. Wall and monotonic time move together.
// A sleeper waits until another thread advances time past its deadline; with
// `advance_on_sleep` a sleep moves time itself, which suits a single thread
// that drives itself (a rule evaluated over three simulated days).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start_wall_ms = 1'767'225'600'000,  // 2026-01-01T00:00:00Z
                       bool advance_on_sleep = false)
      : wall_at_zero_ms_(start_wall_ms), advance_on_sleep_(advance_on_sleep) {}

  std::int64_t wall_ms() const override;
  std::int64_t monotonic_ms() const override;
  void sleep_for_ms(std::int64_t duration_ms) override;

  // Moves time on by `duration_ms` (>= 0) and wakes the sleepers it reaches.
  void advance_ms(std::int64_t duration_ms);
  // Sets the wall time without moving monotonic time (a clock correction).
  void set_wall_ms(std::int64_t wall_ms);
  // How many threads are sleeping now: lets a test advance time only once
  // the code under test waits.
  int sleepers() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable moved_;
  std::int64_t monotonic_ms_ = 0;
  std::int64_t wall_at_zero_ms_;
  bool advance_on_sleep_;
  int sleepers_ = 0;
};

}  // namespace canopy
