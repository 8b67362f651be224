// Irrigation of one zone as a pure function of the zone's rules, its valve's
// state, what the sensors say and the time: the controller a field device
// runs every period. Thresholds follow FAO-56 (fao.org/4/x0490e): the valve
// opens when the soil has used the allowed share p of its available water,
//   θ ≤ θFC − p·(θFC − θWP),
// and closes near field capacity. Safety comes first and every rule says why
// it acted: no valid reading closes the valve; the valve never stays open
// past its maximum on-time, never reopens before its minimum off-time, and
// never runs past the daily cap.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace canopy::field {

// Volumetric water content (m³/m³) at field capacity and at wilting point.
struct Soil {
  double theta_fc = 0.27;
  double theta_wp = 0.12;
};

// FAO-56's typical values for a soil texture: "sand", "loam" or "clay".
Result<Soil> soil_preset(std::string_view texture);

struct ZoneRules {
  Soil soil;
  double root_depth_m = 0.3;
  double allowed_depletion = 0.5;      // FAO-56 p: the share of available water used before irrigating
  double stop_fraction = 0.95;         // close once θ ≥ stop_fraction·θFC
  std::int64_t max_on_s = 1800;        // longest single opening
  std::int64_t min_off_s = 600;        // shortest pause between openings
  std::int64_t daily_on_cap_s = 7200;  // the most the valve may be open in one UTC day
  // Persistent water-stress detections may open the valve once half the
  // allowed depletion is used, if the soil reading agrees.
  bool stress_starts_early = true;
};

// Checks that the rules make sense together; the error names the setting.
Status validate(const ZoneRules& rules);

// θ at which the valve opens, and at which it closes.
double start_threshold(const ZoneRules& rules);
double stop_threshold(const ZoneRules& rules);
// Total and readily available water in the root zone (mm), FAO-56 eq. 82-83.
double total_available_water_mm(const ZoneRules& rules);
double readily_available_water_mm(const ZoneRules& rules);

struct ValveState {
  bool open = false;               // outputs are OFF at start
  std::int64_t changed_ms = 0;     // when it last opened or closed; 0: never
  std::int64_t open_today_ms = 0;  // time open during `day`, up to `changed_ms` while open
  std::int64_t day = 0;            // UTC day number `open_today_ms` counts
  // A refill is under way: the valve opened on dry soil and the stop target
  // has not been reached yet. A refill cut short by the maximum on-time (or
  // a bad reading, or the daily cap) goes on after the minimum off-time,
  // rather than waiting for the soil to dry to the start threshold again.
  bool refilling = false;
};

struct ZoneInput {
  std::optional<double> theta;     // the soil reading, only when valid
  bool water_stress_seen = false;  // the plant tracker's persistent water-stress state
};

struct IrrigationDecision {
  bool open = false;
  std::string reason;      // one line, for the actuation record
  bool refilling = false;  // whether a refill is under way after it
};

// What the valve should be at `now_ms`.
IrrigationDecision decide_irrigation(const ZoneRules& rules, const ValveState& valve, const ZoneInput& input,
                                     std::int64_t now_ms);

// The valve's state after `decision` is carried out at `now_ms`.
ValveState apply_decision(const ValveState& valve, const IrrigationDecision& decision, std::int64_t now_ms);

// Time open during the UTC day of `now_ms`, counting an opening in progress.
std::int64_t open_today_ms(const ValveState& valve, std::int64_t now_ms);

}  // namespace canopy::field
