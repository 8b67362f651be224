// Wall-clock times as Canopy stores and shows them: milliseconds since the
// Unix epoch in databases, "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339, UTC, seconds) in
// records, files and on the wire. Code that can be tested with time moved
// takes its times from a Clock (common/clock.h) and formats them here.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace canopy {

// "YYYY-MM-DDTHH:MM:SSZ" for a wall-clock time in milliseconds.
std::string format_utc(std::int64_t epoch_ms);
// Parses "YYYY-MM-DDTHH:MM:SSZ" to milliseconds since the epoch.
Result<std::int64_t> parse_utc(std::string_view text);
// The system clock's time now, formatted; for records made outside a Clock's reach.
std::string now_rfc3339();

}  // namespace canopy
