#include "field/plants.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/enum_names.h"

namespace canopy::field {

namespace {

constexpr EnumNames<PlantState, 3> kStateNames = {{
    {PlantState::kHealthy, "healthy"},
    {PlantState::kDiseased, "diseased"},
    {PlantState::kWaterStressed, "water-stressed"},
}};

void remember(Plant& plant, std::optional<PlantState> seen, int window) {
  plant.recent.push_back(seen);
  if (static_cast<int>(plant.recent.size()) > window) plant.recent.erase(plant.recent.begin());
}

// The state K of the last N passes agree on, if it differs from the agreed one.
std::optional<PlantState> agreed_change(const Plant& plant, int agree) {
  for (const auto& [state, name] : kStateNames) {
    if (state == plant.state) continue;
    const auto votes = std::count(plant.recent.begin(), plant.recent.end(), std::optional(state));
    if (votes >= agree) return state;
  }
  return std::nullopt;
}

}  // namespace

std::string_view plant_state_name(PlantState state) { return enum_name(kStateNames, state); }

std::optional<PlantState> plant_state_of_label(std::string_view label) {
  if (label == "healthy") return PlantState::kHealthy;
  if (label.starts_with("disease")) return PlantState::kDiseased;
  if (label == "water_stressed" || label == "water-stressed") return PlantState::kWaterStressed;
  return std::nullopt;
}

std::vector<PlantChange> track_pass(PlantField& field, const std::vector<PlantDetection>& pass,
                                    const TrackerRules& rules) {
  // Surest detections first: each claims the nearest plant not yet claimed.
  std::vector<const PlantDetection*> order;
  for (const auto& detection : pass) order.push_back(&detection);
  std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->score > b->score; });
  std::vector<bool> seen(field.plants.size(), false);
  std::vector<std::optional<PlantState>> seen_as(field.plants.size());
  for (const PlantDetection* detection : order) {
    std::size_t best = field.plants.size();
    double best_distance = std::numeric_limits<double>::max();
    for (std::size_t i = 0; i < field.plants.size(); ++i) {
      if (seen[i]) continue;
      const double distance =
          std::hypot(field.plants[i].cx - detection->cx, field.plants[i].cy - detection->cy);
      if (distance <= rules.match_distance && distance < best_distance) {
        best = i;
        best_distance = distance;
      }
    }
    if (best == field.plants.size()) {
      Plant plant;
      plant.id = field.next_id++;
      plant.cx = detection->cx;
      plant.cy = detection->cy;
      field.plants.push_back(plant);
      seen.push_back(false);
      seen_as.emplace_back();
    }
    seen[best] = true;
    seen_as[best] = detection->state;
  }
  std::vector<PlantChange> changes;
  for (std::size_t i = 0; i < field.plants.size(); ++i) {
    Plant& plant = field.plants[i];
    remember(plant, seen_as[i], rules.window);
    plant.missed_in_a_row = seen[i] ? 0 : plant.missed_in_a_row + 1;
    if (auto next = agreed_change(plant, rules.agree)) {
      changes.push_back({plant.id, plant.state, *next});
      plant.state = *next;
    }
  }
  std::erase_if(field.plants,
                [&](const Plant& plant) { return plant.missed_in_a_row >= rules.forget_after; });
  return changes;
}

std::vector<ZoneAlert> zone_alerts(ZoneAlerts& memory, const std::string& zone,
                                   const std::map<PlantState, int>& plants_by_state, const AlertRules& rules,
                                   std::int64_t now_ms) {
  std::vector<ZoneAlert> out;
  for (PlantState condition : {PlantState::kDiseased, PlantState::kWaterStressed}) {
    const auto count_it = plants_by_state.find(condition);
    const int plants = count_it == plants_by_state.end() ? 0 : count_it->second;
    bool& active = memory.active[condition];
    if (plants > 0) memory.absent_since_ms.erase(condition);
    if (plants > 0 && !active) {
      const auto last = memory.last_raised_ms.find(condition);
      // Within the cooldown a condition that cleared and came back stays quiet.
      if (last != memory.last_raised_ms.end() && now_ms - last->second < rules.cooldown_ms) continue;
      active = true;
      memory.last_raised_ms[condition] = now_ms;
      out.push_back({zone, condition, AlertKind::kRaised, plants,
                     condition == PlantState::kDiseased ? "critical" : "warning", now_ms});
    } else if (plants == 0 && active) {
      // A clear waits until the condition has been gone a while: a weak
      // model loses a sick plant in poor light for a few passes.
      const std::int64_t since = memory.absent_since_ms.try_emplace(condition, now_ms).first->second;
      if (now_ms - since < rules.clear_after_ms) continue;
      memory.absent_since_ms.erase(condition);
      active = false;
      out.push_back({zone, condition, AlertKind::kCleared, 0, "info", now_ms});
    }
  }
  return out;
}

}  // namespace canopy::field
