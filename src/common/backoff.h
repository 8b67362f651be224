// Waiting between tries: exponential backoff with full jitter after network
// failures (so a fleet that lost its uplink does not reconnect in lockstep),
// and the jittered poll interval of docs/fleet.md, U(0.8, 1.2) × interval.
// Thread-safety: one Backoff per thread.
#pragma once

#include <chrono>
#include <random>

namespace canopy {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max);

  // The wait after one more consecutive failure: uniform in [initial, cap]
  // where the cap doubles with each failure up to `max`.
  std::chrono::milliseconds next_failure();
  void reset() { failures_ = 0; }

  // interval × U(0.8, 1.2).
  std::chrono::milliseconds jittered(std::chrono::milliseconds interval);

 private:
  std::chrono::milliseconds initial_, max_;
  int failures_ = 0;
  std::mt19937_64 random_;
};

}  // namespace canopy
