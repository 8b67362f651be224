#include "world/soil_water.h"

#include <algorithm>

namespace canopy::world {

double infiltration_mm_per_h(const std::string& texture) {
  if (texture == "sand") return 30;
  if (texture == "clay") return 5;
  return 15;
}

SoilWaterBalance::SoilWaterBalance(SoilWaterConfig config, std::int64_t start_ms) : config_(config) {
  state_.at_ms = start_ms;
  state_.depletion_mm = std::clamp(config_.initial_depletion_mm, 0.0, total_available_water_mm());
  state_.theta = theta_for_depletion(state_.depletion_mm);
  state_.ks = ks_for(state_.depletion_mm);
}

double SoilWaterBalance::total_available_water_mm() const {
  return 1000 * (config_.soil.theta_fc - config_.soil.theta_wp) * config_.root_depth_m;
}

double SoilWaterBalance::readily_available_water_mm() const {
  return config_.depletion_fraction * total_available_water_mm();
}

double SoilWaterBalance::theta_for_depletion(double depletion_mm) const {
  return config_.soil.theta_fc - depletion_mm / (1000 * config_.root_depth_m);
}

double SoilWaterBalance::ks_for(double depletion_mm) const {
  const double taw = total_available_water_mm(), raw = readily_available_water_mm();
  if (depletion_mm <= raw) return 1;
  return std::clamp((taw - depletion_mm) / (taw - raw), 0.0, 1.0);
}

void SoilWaterBalance::advance_to(std::int64_t wall_ms, const Weather& weather) {
  constexpr std::int64_t kStepMs = kMinuteMs;
  SoilWaterState& s = state_;
  while (s.at_ms < wall_ms) {
    // Steps end on whole minutes, so a world advanced in any slices takes the same steps.
    const std::int64_t end = std::min(wall_ms, (s.at_ms / kStepMs + 1) * kStepMs);
    const double hours = double(end - s.at_ms) / double(kHourMs);
    const double rain = weather.rain_mm_between(s.at_ms, end);
    const double runoff = std::max(0.0, rain - config_.infiltration_mm_per_h * hours);
    const double irrigation = s.valve_open ? config_.valve_flow_l_per_h / config_.area_m2 * hours : 0;
    const double et = config_.crop_coefficient * weather.et0_mm_between(s.at_ms, end) * s.ks;
    double depletion = s.depletion_mm - (rain - runoff) - irrigation + et;
    if (depletion < 0) {
      s.percolation_mm += -depletion;  // past field capacity the water drains below the roots
      depletion = 0;
    }
    s.depletion_mm = std::min(depletion, total_available_water_mm());
    s.rain_mm += rain;
    s.runoff_mm += runoff;
    s.irrigation_mm += irrigation;
    s.et_mm += et;
    s.ks = ks_for(s.depletion_mm);
    s.theta = theta_for_depletion(s.depletion_mm);
    s.at_ms = end;
  }
}

void SoilWaterBalance::set_valve(bool open, std::int64_t at_ms, const Weather& weather) {
  advance_to(at_ms, weather);
  state_.valve_open = open;
}

}  // namespace canopy::world
