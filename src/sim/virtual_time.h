// The simulation's virtual time: a clock file (common/shared_clock.h) that
// a thread of its own moves on at `speed` times real time, in steps about a
// millisecond of real time apart, for as long as this lives. Virtual time is
// the real time elapsed since the start times the speed, so it does not
// drift, and it runs on whether or not the agents keep up: an agent starved
// of CPU finds that time has jumped ahead when it next looks.
// Thread-safety: clock() may be used from any thread; start and the
// destructor belong to one.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <thread>

#include "common/error.h"
#include "common/shared_clock.h"

namespace canopy::sim {

class VirtualTime {
 public:
  // Writes `file` at `start_wall_ms` and starts moving it. Fails when the
  // file cannot be written or `speed` is not positive.
  static Result<std::unique_ptr<VirtualTime>> start(const std::filesystem::path& file,
                                                    std::int64_t start_wall_ms, double speed);
  // Stops moving the clock; the file stays, at its last time.
  ~VirtualTime();
  VirtualTime(const VirtualTime&) = delete;
  VirtualTime& operator=(const VirtualTime&) = delete;

  // The file read as the agents read it.
  Clock& clock() { return *clock_; }
  double speed() const { return speed_; }

 private:
  VirtualTime(std::unique_ptr<SharedClockWriter> writer, std::unique_ptr<SharedFileClock> clock, double speed);
  void run();

  std::unique_ptr<SharedClockWriter> writer_;
  std::unique_ptr<SharedFileClock> clock_;
  const double speed_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace canopy::sim
