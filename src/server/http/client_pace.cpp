#include "server/http/client_pace.h"

#include <limits>

namespace canopy::server {

std::int64_t read_deadline_ms(const ClientPace& pace, ReadPhase phase, std::int64_t phase_start_ms,
                              std::uint64_t body_bytes) {
  if (phase == ReadPhase::kHead) return phase_start_ms + pace.head_timeout_ms;
  constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  const auto rate = static_cast<std::uint64_t>(pace.min_body_bytes_per_s);
  // Saturates rather than overflows: a body so large that its time does not
  // fit in 64 bits of milliseconds has no deadline worth keeping.
  if (body_bytes > static_cast<std::uint64_t>(kNever / 1000)) return kNever;
  const auto earned_ms = static_cast<std::int64_t>(body_bytes * 1000 / rate);
  const std::int64_t base_ms = phase_start_ms + pace.body_grace_ms;
  return earned_ms > kNever - base_ms ? kNever : base_ms + earned_ms;
}

}  // namespace canopy::server
