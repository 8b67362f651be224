// Whether a sensor's latest reading may be used, as a pure function of its
// history and the time. A reading is used to decide (and to actuate) only
// when it is valid; anything else closes what it drives. Invalid: the read
// failed (a missing file, a CRC failure, a power-on value), the value is NaN
// or outside the sensor's range, it has not changed for too long (a stuck
// sensor), or the newest reading is too old (a dead one).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace canopy::field {

struct SensorRules {
  double min = 0, max = 1;            // the physically possible range
  std::int64_t max_age_ms = 300'000;  // older than this, the sensor is stale
  std::int64_t stuck_after_ms = 0;    // unchanged this long is stuck; 0: never
  double stuck_epsilon = 1e-9;        // changes smaller than this do not count
  double smoothing = 0;               // exponential smoothing weight of the past, in [0, 1)
};

enum class SensorStatus { kValid, kNoReading, kReadFailed, kOutOfRange, kStuck, kStale };
std::string_view sensor_status_name(SensorStatus status);

// What the rules know of one sensor.
struct SensorHistory {
  std::optional<double> value;               // smoothed, from valid reads only
  std::optional<double> last_raw;            // the newest value read, valid or not
  std::optional<std::int64_t> last_read_ms;  // the newest successful read
  std::int64_t unchanged_since_ms = 0;       // when last_raw last changed
  std::string failure;                       // why the newest read failed; empty when it did not
  bool out_of_range = false;
};

// The history after one read at `now_ms`: a value, or the error the read gave.
SensorHistory observe(const SensorHistory& history, const Result<double>& read, const SensorRules& rules,
                      std::int64_t now_ms);

struct SensorVerdict {
  SensorStatus status = SensorStatus::kNoReading;
  std::optional<double> value;  // set only when valid
  std::string reason;           // why not valid; empty when valid
};

SensorVerdict judge(const SensorHistory& history, const SensorRules& rules, std::int64_t now_ms);

}  // namespace canopy::field
