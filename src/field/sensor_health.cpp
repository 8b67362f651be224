#include "field/sensor_health.h"

#include <cmath>

#include "common/enum_names.h"

namespace canopy::field {

namespace {

constexpr EnumNames<SensorStatus, 6> kStatusNames = {{
    {SensorStatus::kValid, "valid"},
    {SensorStatus::kNoReading, "no-reading"},
    {SensorStatus::kReadFailed, "read-failed"},
    {SensorStatus::kOutOfRange, "out-of-range"},
    {SensorStatus::kStuck, "stuck"},
    {SensorStatus::kStale, "stale"},
}};

std::string seconds(std::int64_t ms) { return std::to_string(ms / 1000) + " s"; }

}  // namespace

std::string_view sensor_status_name(SensorStatus status) { return enum_name(kStatusNames, status); }

SensorHistory observe(const SensorHistory& history, const Result<double>& read, const SensorRules& rules,
                      std::int64_t now_ms) {
  SensorHistory next = history;
  if (!read.ok()) {
    next.failure = read.error().message;
    return next;
  }
  const double raw = *read;
  if (std::isnan(raw)) {
    next.failure = "the sensor read NaN";
    return next;
  }
  next.failure.clear();
  next.last_read_ms = now_ms;
  if (!history.last_raw || std::fabs(raw - *history.last_raw) > rules.stuck_epsilon)
    next.unchanged_since_ms = now_ms;
  next.last_raw = raw;
  next.out_of_range = raw < rules.min || raw > rules.max;
  if (next.out_of_range) return next;
  next.value = history.value ? rules.smoothing * *history.value + (1 - rules.smoothing) * raw : raw;
  return next;
}

SensorVerdict judge(const SensorHistory& history, const SensorRules& rules, std::int64_t now_ms) {
  if (!history.failure.empty()) return {SensorStatus::kReadFailed, std::nullopt, history.failure};
  if (!history.last_read_ms) return {SensorStatus::kNoReading, std::nullopt, "no reading yet"};
  const std::int64_t age_ms = now_ms - *history.last_read_ms;
  if (age_ms > rules.max_age_ms)
    return {SensorStatus::kStale, std::nullopt,
            "newest reading is " + seconds(age_ms) + " old (max " + seconds(rules.max_age_ms) + ")"};
  if (history.out_of_range)
    return {SensorStatus::kOutOfRange, std::nullopt,
            "reading " + std::to_string(*history.last_raw) + " outside [" + std::to_string(rules.min) + ", " +
                std::to_string(rules.max) + "]"};
  if (rules.stuck_after_ms > 0 && now_ms - history.unchanged_since_ms >= rules.stuck_after_ms)
    return {SensorStatus::kStuck, std::nullopt,
            "unchanged for " + seconds(now_ms - history.unchanged_since_ms)};
  return {SensorStatus::kValid, history.value, ""};
}

}  // namespace canopy::field
