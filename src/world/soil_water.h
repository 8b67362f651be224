// The water in one irrigation zone's root zone, FAO-56's bucket
// (fao.org/4/x0490e, ch. 8), integrated in fixed steps of at most a minute:
//   Dr ← Dr − (P − RO) − I + Ks·Kc·ET0, percolating away what goes below 0,
// where P is the rain, RO the part of it falling faster than the soil takes
// it in, I the water the zone's valve applied (its flow over the zone's
// area: L/m² = mm), and Ks the stress factor that slows evapotranspiration
// once the plants have used the readily available water:
//   TAW = 1000·(θFC − θWP)·Zr,  RAW = p·TAW,  Ks = (TAW − Dr)/((1 − p)·TAW) when Dr > RAW.
// The soil moisture a probe would read is θ = θFC − Dr/(1000·Zr).
// The valve is an input the caller sets at a time, so the water applied is
// exact to the millisecond, whatever the step.
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <string>

#include "field/irrigation.h"
#include "world/weather.h"

namespace canopy::world {

struct SoilWaterConfig {
  field::Soil soil;                   // θFC and θWP
  double root_depth_m = 0.3;          // Zr
  double depletion_fraction = 0.5;    // FAO-56 p
  double crop_coefficient = 1.0;      // Kc
  double area_m2 = 20;                // what the zone's valve waters
  double valve_flow_l_per_h = 120;    // the valve's flow when open
  double infiltration_mm_per_h = 15;  // rain falling faster runs off
  double initial_depletion_mm = 10;   // Dr at the start
};

// Infiltration rates typical of a texture (mm/h): sand 30, loam 15, clay 5.
double infiltration_mm_per_h(const std::string& texture);

struct SoilWaterState {
  std::int64_t at_ms = 0;
  double depletion_mm = 0;  // Dr
  double theta = 0;         // m³/m³
  double ks = 1;            // at `at_ms`
  // Totals since the start, mm.
  double rain_mm = 0, runoff_mm = 0, irrigation_mm = 0, et_mm = 0, percolation_mm = 0;
  bool valve_open = false;
};

class SoilWaterBalance {
 public:
  SoilWaterBalance(SoilWaterConfig config, std::int64_t start_ms);

  // Integrates up to `wall_ms` (no-op when it is not later than now).
  void advance_to(std::int64_t wall_ms, const Weather& weather);
  // Integrates up to `at_ms` with the valve as it was, then sets it.
  void set_valve(bool open, std::int64_t at_ms, const Weather& weather);

  const SoilWaterState& state() const { return state_; }
  const SoilWaterConfig& config() const { return config_; }
  double total_available_water_mm() const;
  double readily_available_water_mm() const;
  double theta_for_depletion(double depletion_mm) const;

 private:
  double ks_for(double depletion_mm) const;

  SoilWaterConfig config_;
  SoilWaterState state_;
};

}  // namespace canopy::world
