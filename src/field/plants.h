// Plants do not move: detections from a fixed camera are matched across
// passes to persistent plant positions, and a plant's state (healthy,
// diseased, water-stressed) changes only when K of its last N passes agree,
// so a shadow, a flicker or a passing cloud changes nothing. Zone alerts are
// raised when a zone's first plant turns to a condition, at most once per
// cooldown, and cleared when its last plant heals.
// Thread-safety: pure functions over the values passed in.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace canopy::field {

enum class PlantState { kHealthy, kDiseased, kWaterStressed };
std::string_view plant_state_name(PlantState state);
// The state a model's label stands for: "healthy", "diseased" (or any
// "disease..."), "water_stressed"/"water-stressed"; nullopt for a label that
// is no plant condition (a weed, a tool), which the tracker ignores.
std::optional<PlantState> plant_state_of_label(std::string_view label);

// One detection in a frame, in coordinates relative to the frame (0..1).
struct PlantDetection {
  double cx = 0, cy = 0;
  PlantState state = PlantState::kHealthy;
  double score = 0;
};

struct TrackerRules {
  double match_distance = 0.05;  // a detection this close to a plant's position is that plant
  int window = 6;                // N: passes remembered per plant
  int agree = 4;                 // K: passes that must agree to change a plant's state
  int forget_after = 50;         // passes in a row without the plant before it is forgotten
};

struct Plant {
  int id = 0;
  double cx = 0, cy = 0;
  PlantState state = PlantState::kHealthy;        // the agreed state
  std::vector<std::optional<PlantState>> recent;  // newest last; nullopt: not seen in that pass
  int missed_in_a_row = 0;
};

struct PlantChange {
  int plant_id = 0;
  PlantState from = PlantState::kHealthy, to = PlantState::kHealthy;
};

struct PlantField {
  std::vector<Plant> plants;
  int next_id = 1;
};

// Matches one pass's detections to the plants (new positions become new
// plants) and returns the plants whose agreed state changed.
std::vector<PlantChange> track_pass(PlantField& field, const std::vector<PlantDetection>& pass,
                                    const TrackerRules& rules);

struct AlertRules {
  std::int64_t cooldown_ms = 6 * 3600 * 1000;  // a condition is raised again in a zone at most this often
  std::int64_t clear_after_ms = 2 * 3600 * 1000;  // a raised condition clears once absent this long
};

enum class AlertKind { kRaised, kCleared };

struct ZoneAlert {
  std::string zone;
  PlantState condition = PlantState::kDiseased;
  AlertKind kind = AlertKind::kRaised;
  int plants = 0;        // plants in the zone with the condition
  std::string severity;  // "critical" for disease, "warning" for water stress, "info" when cleared
  std::int64_t at_ms = 0;
};

// What the alert rules remember of one zone.
struct ZoneAlerts {
  std::map<PlantState, bool> active;
  std::map<PlantState, std::int64_t> last_raised_ms;
  std::map<PlantState, std::int64_t> absent_since_ms;  // a raised condition no plant shows since
};

// The alerts a zone's plants call for at `now_ms`, given how many of its
// plants are in each state now.
std::vector<ZoneAlert> zone_alerts(ZoneAlerts& memory, const std::string& zone,
                                   const std::map<PlantState, int>& plants_by_state, const AlertRules& rules,
                                   std::int64_t now_ms);

}  // namespace canopy::field
