// A clock kept in a file, so that several processes share one virtual
// time: `canopy sim` writes it (SharedClockWriter) and the agents it starts
// read it (SharedFileClock, `canopy-agent --simulated-clock FILE`), so a
// week in the field passes in minutes. docs/simulator.md says what follows
// the virtual clock and what stays real.
//
// The file is 40 bytes, mapped into memory by the writer and every reader,
// in the machine's byte order (they share one machine):
//
//   offset  size  field
//        0     8  magic "CNPYCLK\0"
//        8     4  layout version, 1
//       12     4  file size, 40
//       16     8  wall time: Unix ms, UTC (int64)
//       24     8  monotonic time: ms since the clock was made (int64)
//       32     8  speed: clock ms per real ms (IEEE double); 0 while paused
//
// Each time field is read and written whole with an atomic operation
// (std::atomic_ref on the mapping), so a reader never sees a torn value.
// The writer moves wall and monotonic time together; the speed is a hint
// that lets a sleeper size its naps. Nothing else in the file changes after
// it is made.
//
// Thread-safety: every method of SharedFileClock may be called from any
// thread; a SharedClockWriter belongs to one thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "common/clock.h"
#include "common/error.h"

namespace canopy {

class ClockMapping;

// Reads a clock file. wall_ms and monotonic_ms are the file's; a sleep
// waits until the file's monotonic time reaches its deadline, napping in
// real time for the remaining virtual time over the speed (at least 0.2 ms,
// at most 50 ms, so it neither spins nor misses a change of speed). If the
// writer stops moving the clock, sleepers wait until it moves again.
class SharedFileClock final : public Clock {
 public:
  // Fails with kInvalidArgument when `file` is missing, unreadable, or not a
  // clock file of this layout (wrong size, magic or version).
  static Result<std::unique_ptr<SharedFileClock>> open(const std::filesystem::path& file);
  ~SharedFileClock() override;

  std::int64_t wall_ms() const override;
  std::int64_t monotonic_ms() const override;
  void sleep_for_ms(std::int64_t duration_ms) override;
  void sleep_for_ms_unless(std::int64_t duration_ms, const std::atomic<bool>& stop) override;
  // Clock ms per real ms, as the writer last set it.
  double speed() const;

 private:
  explicit SharedFileClock(std::unique_ptr<ClockMapping> mapping);
  void wait_until(std::int64_t deadline_ms, const std::atomic<bool>* stop) const;

  std::unique_ptr<ClockMapping> mapping_;
};

// Makes and moves a clock file.
class SharedClockWriter {
 public:
  // Writes `file` atomically (replacing one there) with `wall_ms`,
  // monotonic time 0 and `speed`, and maps it. Fails with kIo when the file
  // cannot be written or mapped.
  static Result<std::unique_ptr<SharedClockWriter>> create(const std::filesystem::path& file,
                                                           std::int64_t wall_ms, double speed);
  // Unmaps the file and leaves it in place: readers keep the last time.
  ~SharedClockWriter();

  // Moves wall and monotonic time on by `duration_ms` (ignored unless > 0).
  void advance_ms(std::int64_t duration_ms);
  void set_speed(double speed);
  std::int64_t wall_ms() const;
  std::int64_t monotonic_ms() const;

 private:
  explicit SharedClockWriter(std::unique_ptr<ClockMapping> mapping);

  std::unique_ptr<ClockMapping> mapping_;
};

}  // namespace canopy
