// One sensor as the field loop sees it: its input, its rules, and what it
// has read so far. Reading and judging are kept together so that the record
// a reading leaves and the decision a zone takes on it see the same verdict.
// Thread-safety: used by the field loop's thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "device/sensors.h"
#include "field/sensor_health.h"

namespace canopy::agent {

class SensorChannel {
 public:
  SensorChannel(std::string name, std::unique_ptr<device::SensorInput> input, field::SensorRules rules)
      : name_(std::move(name)), input_(std::move(input)), rules_(rules) {}

  // Reads the input at `now_ms` and judges the reading.
  field::SensorVerdict read(std::int64_t now_ms) {
    history_ = field::observe(history_, input_->read(), rules_, now_ms);
    return verdict(now_ms);
  }
  // The verdict on what was read, at `now_ms`: a sensor not read lately is stale.
  field::SensorVerdict verdict(std::int64_t now_ms) const { return field::judge(history_, rules_, now_ms); }

  const std::string& name() const { return name_; }
  const field::SensorHistory& history() const { return history_; }

 private:
  std::string name_;
  std::unique_ptr<device::SensorInput> input_;
  field::SensorRules rules_;
  field::SensorHistory history_;
};

}  // namespace canopy::agent
