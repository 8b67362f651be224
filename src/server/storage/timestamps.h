// Wall-clock times as the server stores and shows them: milliseconds since
// the Unix epoch in the database, "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339, UTC,
// seconds) in records and on the wire. The times themselves come from the
// Clock each area is given (common/clock.h), never from the system directly.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"

namespace canopy::server {

// "YYYY-MM-DDTHH:MM:SSZ" for a wall-clock time in milliseconds.
std::string format_utc(std::int64_t epoch_ms);
// Parses "YYYY-MM-DDTHH:MM:SSZ" to milliseconds since the epoch.
Result<std::int64_t> parse_utc(const std::string& text);

}  // namespace canopy::server
