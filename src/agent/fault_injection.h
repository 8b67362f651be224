// Crash injection for tests and the fleet simulator. With a spec
// "POINT[:N]" (CANOPY_AGENT_CRASH_AT), the process kills itself with SIGKILL
// the N-th time (default 1st) it reaches POINT: no destructor, no flush, no
// atexit handler runs, exactly as on a power cut. Points are the phase names
// (reached right after the phase is recorded, before it acts) and the
// instants inside steps listed in docs/agent.md. An empty spec disables it.
// Thread-safety: one injector per updater thread.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace canopy::agent {

class FaultInjector {
 public:
  static Result<FaultInjector> parse(std::string_view spec);
  FaultInjector() = default;

  // Counts a visit of `point` and kills the process on the configured visit.
  void reached(std::string_view point);

 private:
  std::string point_;
  long target_visit_ = 0;
  long visits_ = 0;
};

}  // namespace canopy::agent
