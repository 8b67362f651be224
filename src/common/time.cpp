#include "common/time.h"

#include <ctime>

#include "common/clock.h"

namespace canopy {

namespace {

// The digits at [pos, pos + count) as a number, or -1 when one is not a digit.
int digits_at(std::string_view text, std::size_t pos, std::size_t count) {
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::string format_utc(std::int64_t epoch_ms) {
  std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return out;
}

Result<std::int64_t> parse_utc(std::string_view text) {
  // The fixed shape YYYY-MM-DDTHH:MM:SSZ: separators at fixed places, digits elsewhere.
  constexpr std::string_view kShape = "0000-00-00T00:00:00Z";
  bool shaped = text.size() == kShape.size();
  for (std::size_t i = 0; shaped && i < kShape.size(); ++i)
    if (kShape[i] != '0') shaped = text[i] == kShape[i];
  const int year = shaped ? digits_at(text, 0, 4) : -1, month = shaped ? digits_at(text, 5, 2) : -1,
            day = shaped ? digits_at(text, 8, 2) : -1, hour = shaped ? digits_at(text, 11, 2) : -1,
            minute = shaped ? digits_at(text, 14, 2) : -1, second = shaped ? digits_at(text, 17, 2) : -1;
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0)
    return make_error(ErrorCode::kInvalidArgument,
                      "timestamp '" + std::string(text) + "' must look like 2026-11-25T08:00:00Z");
  std::tm utc{};
  utc.tm_year = year - 1900;
  utc.tm_mon = month - 1;
  utc.tm_mday = day;
  utc.tm_hour = hour;
  utc.tm_min = minute;
  utc.tm_sec = second;
  return static_cast<std::int64_t>(timegm(&utc)) * 1000;
}

std::string now_rfc3339() { return format_utc(system_clock().wall_ms()); }

}  // namespace canopy
