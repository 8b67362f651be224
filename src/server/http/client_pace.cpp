#include "server/http/client_pace.h"

#include <limits>

namespace canopy::server {

namespace {

// `start_ms` plus the grace plus what `bytes` earn at `bytes_per_s`.
std::int64_t earned_deadline_ms(std::int64_t start_ms, std::int64_t grace_ms, std::uint64_t bytes,
                                std::int64_t bytes_per_s) {
  constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  const auto rate = static_cast<std::uint64_t>(bytes_per_s);
  // Saturates rather than overflows: so many bytes that their time does not
  // fit in 64 bits of milliseconds have no deadline worth keeping.
  if (bytes > static_cast<std::uint64_t>(kNever / 1000)) return kNever;
  const auto earned_ms = static_cast<std::int64_t>(bytes * 1000 / rate);
  const std::int64_t base_ms = start_ms + grace_ms;
  return earned_ms > kNever - base_ms ? kNever : base_ms + earned_ms;
}

}  // namespace

std::int64_t read_deadline_ms(const ClientPace& pace, ReadPhase phase, std::int64_t phase_start_ms,
                              std::uint64_t body_bytes) {
  if (phase == ReadPhase::kHead) return phase_start_ms + pace.head_timeout_ms;
  return earned_deadline_ms(phase_start_ms, pace.body_grace_ms, body_bytes, pace.min_body_bytes_per_s);
}

std::int64_t response_deadline_ms(const ClientPace& pace, std::int64_t response_start_ms,
                                  std::uint64_t delivered_bytes) {
  return earned_deadline_ms(response_start_ms, pace.body_grace_ms, delivered_bytes,
                            pace.min_download_bytes_per_s);
}

}  // namespace canopy::server
