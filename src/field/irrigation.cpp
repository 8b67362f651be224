#include "field/irrigation.h"

#include <algorithm>
#include <cstdio>

namespace canopy::field {

namespace {

constexpr std::int64_t kDayMs = 86'400'000;

std::int64_t day_of(std::int64_t ms) { return ms / kDayMs; }

std::string percent(double theta) {
  char text[16];
  std::snprintf(text, sizeof text, "%.1f%%", theta * 100);
  return text;
}

Error bad_setting(const std::string& what) { return make_error(ErrorCode::kInvalidArgument, what); }

}  // namespace

Result<Soil> soil_preset(std::string_view texture) {
  if (texture == "sand") return Soil{0.12, 0.05};
  if (texture == "loam") return Soil{0.27, 0.12};
  if (texture == "clay") return Soil{0.36, 0.22};
  return make_error(ErrorCode::kInvalidArgument,
                    "soil '" + std::string(texture) +
                        "' is not a preset: use sand, loam or clay, or give theta_fc and theta_wp");
}

Status validate(const ZoneRules& r) {
  if (!(r.soil.theta_wp > 0 && r.soil.theta_wp < r.soil.theta_fc && r.soil.theta_fc < 0.6))
    return bad_setting("soil: need 0 < theta_wp < theta_fc < 0.6 (m³/m³)");
  if (!(r.root_depth_m > 0 && r.root_depth_m <= 3)) return bad_setting("root_depth_m must be in (0, 3]");
  if (!(r.allowed_depletion >= 0.1 && r.allowed_depletion <= 0.8))
    return bad_setting("allowed_depletion (FAO-56 p) must be in [0.1, 0.8]");
  if (!(r.stop_fraction > 0 && r.stop_fraction <= 1)) return bad_setting("stop_fraction must be in (0, 1]");
  if (stop_threshold(r) <= start_threshold(r))
    return bad_setting("stop_fraction closes the valve below where it opens; raise it");
  if (r.max_on_s <= 0 || r.min_off_s < 0 || r.daily_on_cap_s <= 0)
    return bad_setting("max_on_s and daily_on_cap_s must be positive, min_off_s not negative");
  return {};
}

double start_threshold(const ZoneRules& r) {
  return r.soil.theta_fc - r.allowed_depletion * (r.soil.theta_fc - r.soil.theta_wp);
}

double stop_threshold(const ZoneRules& r) { return r.stop_fraction * r.soil.theta_fc; }

double total_available_water_mm(const ZoneRules& r) {
  return 1000.0 * (r.soil.theta_fc - r.soil.theta_wp) * r.root_depth_m;
}

double readily_available_water_mm(const ZoneRules& r) {
  return r.allowed_depletion * total_available_water_mm(r);
}

std::int64_t open_today_ms(const ValveState& valve, std::int64_t now_ms) {
  const std::int64_t today = day_of(now_ms);
  std::int64_t total = valve.day == today ? valve.open_today_ms : 0;
  if (valve.open) total += now_ms - std::max(valve.changed_ms, today * kDayMs);
  return total;
}

IrrigationDecision decide_irrigation(const ZoneRules& rules, const ValveState& valve, const ZoneInput& input,
                                     std::int64_t now_ms) {
  const std::int64_t since_change_ms = now_ms - valve.changed_ms;
  const bool refilling = valve.refilling;
  // Safety first, in the order a person would check them. A refill under
  // way stays under way: it goes on once the reading is good, or the next day.
  if (!input.theta) return {false, "no valid soil reading", refilling};
  if (open_today_ms(valve, now_ms) >= rules.daily_on_cap_s * 1000)
    return {false, "daily cap of " + std::to_string(rules.daily_on_cap_s) + " s reached", refilling};
  const double theta = *input.theta;
  const double stop = stop_threshold(rules);
  if (theta >= stop && (valve.open || refilling))
    return {false, "soil at " + percent(theta) + ", stop target " + percent(stop) + " reached", false};
  if (valve.open) {
    if (since_change_ms >= rules.max_on_s * 1000)
      return {false, "maximum on-time of " + std::to_string(rules.max_on_s) + " s reached", refilling};
    return {true, "irrigating: soil at " + percent(theta), refilling};
  }
  const bool dry = theta <= start_threshold(rules);
  const double early =
      rules.soil.theta_fc - rules.allowed_depletion / 2 * (rules.soil.theta_fc - rules.soil.theta_wp);
  const bool stressed = rules.stress_starts_early && input.water_stress_seen && theta <= early;
  if (!dry && !stressed && !refilling)
    return {false, "soil at " + percent(theta) + ", above start " + percent(start_threshold(rules)), false};
  if (valve.changed_ms > 0 && since_change_ms < rules.min_off_s * 1000)
    return {false, "minimum off-time of " + std::to_string(rules.min_off_s) + " s not over", refilling};
  if (dry)
    return {true, "soil at " + percent(theta) + ", at or below start " + percent(start_threshold(rules)), true};
  if (stressed)
    return {true, "water stress seen and soil at " + percent(theta) + ", half the allowed depletion used", true};
  return {true, "continuing the refill: soil at " + percent(theta) + ", below stop target " + percent(stop), true};
}

ValveState apply_decision(const ValveState& valve, const IrrigationDecision& decision, std::int64_t now_ms) {
  ValveState next = valve;
  next.refilling = decision.refilling;
  // Unchanged, the running opening (if any) keeps counting from changed_ms.
  if (decision.open == valve.open) return next;
  next.open = decision.open;
  next.changed_ms = now_ms;
  next.open_today_ms = open_today_ms(valve, now_ms);
  next.day = day_of(now_ms);
  return next;
}

}  // namespace canopy::field
