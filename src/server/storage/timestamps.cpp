#include "server/storage/timestamps.h"

#include <ctime>
#include <regex>

namespace canopy::server {

std::string format_utc(std::int64_t epoch_ms) {
  std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return out;
}

Result<std::int64_t> parse_utc(const std::string& text) {
  static const std::regex pattern(R"((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z)");
  std::smatch m;
  if (!std::regex_match(text, m, pattern))
    return make_error(ErrorCode::kInvalidArgument,
                      "timestamp '" + text + "' must look like 2026-11-25T08:00:00Z");
  std::tm utc{};
  utc.tm_year = std::stoi(m[1]) - 1900;
  utc.tm_mon = std::stoi(m[2]) - 1;
  utc.tm_mday = std::stoi(m[3]);
  utc.tm_hour = std::stoi(m[4]);
  utc.tm_min = std::stoi(m[5]);
  utc.tm_sec = std::stoi(m[6]);
  return static_cast<std::int64_t>(timegm(&utc)) * 1000;
}

}  // namespace canopy::server
