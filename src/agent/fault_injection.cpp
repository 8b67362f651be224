#include "agent/fault_injection.h"

#include <signal.h>
#include <unistd.h>

#include "common/text.h"

namespace canopy::agent {

Result<FaultInjector> FaultInjector::parse(std::string_view spec) {
  FaultInjector injector;
  if (spec.empty()) return injector;
  const size_t colon = spec.find(':');
  injector.point_ = std::string(spec.substr(0, colon));
  injector.target_visit_ = 1;
  if (colon != std::string_view::npos) {
    const std::string_view count = spec.substr(colon + 1);
    const std::optional<std::int64_t> visit = parse_int(count);
    injector.target_visit_ = visit.value_or(0);
    if (!visit || *visit < 1)
      return make_error(ErrorCode::kInvalidArgument,
                        "crash point '" + std::string(spec) + "' must be POINT or POINT:N with N >= 1");
  }
  if (injector.point_.empty())
    return make_error(ErrorCode::kInvalidArgument, "crash point '" + std::string(spec) + "' names no point");
  return injector;
}

void FaultInjector::reached(std::string_view point) {
  if (point_.empty() || point != point_) return;
  if (++visits_ == target_visit_) {
    ::kill(::getpid(), SIGKILL);
    ::_exit(137);  // not reached: SIGKILL cannot be caught
  }
}

}  // namespace canopy::agent
