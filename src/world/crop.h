// The plants of a simulated field and what happens to them: each stands at a
// fixed place in one camera's view and in one irrigation zone. Water stress
// appears on a plant once its zone's soil has held it below the readily
// available water (Ks < 1) for some hours, grows in severity while the soil
// stays dry, and goes some hours after the soil is watered back. Disease
// starts on chosen plants at chosen times (or on plants and days drawn from
// the seed), spreads each day to neighbours with a chance, grows in
// severity, and does not heal unless a treatment day is set. Every change is
// returned to the caller, with its time, for the ground truth.
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace canopy::world {

enum class PlantCondition { kHealthy, kDiseased, kWaterStressed };
std::string_view plant_condition_name(PlantCondition condition);

struct DiseaseOnset {
  int plant = 0;        // index into the crop's plants
  int day = 0;          // days after the world's first day
  double hour = 8;      // UTC
  std::string disease;  // empty: drawn from the scenario's diseases at the time
};

struct CropConfig {
  double stress_after_h = 20;   // Ks < 1 this long before a plant shows stress (±25 % per plant)
  double stress_step_h = 24;    // its severity grows by one (of three) this often
  double recover_after_h = 10;  // Ks back at 1 this long before it recovers
  std::vector<DiseaseOnset> disease_onsets;
  int drawn_onsets = 0;                 // more onsets on plants and days drawn from the seed...
  int drawn_onset_days = 10;            // ...within the first this many days
  double spread_chance_per_day = 0.25;  // per diseased plant and healthy neighbour
  double neighbour_distance = 0.3;      // in the frame (0..1): plants closer are neighbours
  double disease_step_days = 2;         // severity grows by one this often
  int treatment_day = -1;               // every diseased plant heals at the start of this day; -1: never
};

struct PlantSpot {
  std::string camera;
  std::string zone;
  double x = 0.5, y = 0.5;  // fractions of the frame
  double radius = 0.08;     // a fraction of the frame's width
};

struct PlantTruth {
  int id = 0;
  PlantSpot spot;
  std::uint64_t look_seed = 0;
  double stress_after_h = 0;  // this plant's own threshold
  // Water.
  bool stressed = false;
  std::int64_t dry_since_ms = -1;  // Ks < 1 since; -1: not dry
  std::int64_t wet_since_ms = -1;  // Ks back at 1 since; -1: not since stress
  std::int64_t stressed_since_ms = -1;
  // Disease.
  bool diseased = false;
  std::string disease;
  std::int64_t disease_onset_ms = -1;

  // Disease shows over stress: it is what the grower must act on first.
  PlantCondition condition() const;
  // 1..3 for the condition shown, 0 when healthy.
  int severity(std::int64_t now_ms, const CropConfig& config) const;
};

struct PlantChange {
  int plant = 0;
  std::int64_t at_ms = 0;
  PlantCondition from = PlantCondition::kHealthy, to = PlantCondition::kHealthy;
  bool stressed = false, diseased = false;  // after the change: a diseased plant may also turn dry
  std::string disease;
  std::string cause;  // "dry soil", "watered", "onset", "spread from plant N", "treatment"
};

// The diseases a new infection draws from at a time (the scenario's).
using DiseaseSource = std::vector<std::string>;

class Crop {
 public:
  Crop(std::vector<PlantSpot> spots, CropConfig config, std::uint64_t seed, std::int64_t first_day);

  // Moves the plants to `now_ms` (a step of at most a minute after the
  // last) given each zone's Ks over the step; returns what changed.
  std::vector<PlantChange> observe(std::int64_t now_ms, const std::map<std::string, double>& ks_by_zone,
                                   const DiseaseSource& diseases);

  const std::vector<PlantTruth>& plants() const { return plants_; }
  const CropConfig& config() const { return config_; }

 private:
  struct PendingOnset {
    std::int64_t at_ms;
    int plant;
    std::string disease;
    std::string cause;
  };
  void spread_on(std::int64_t day);
  void infect(PlantTruth& plant, std::int64_t at_ms, const std::string& disease,
              const DiseaseSource& diseases, const std::string& cause, std::vector<PlantChange>& changes);

  std::vector<PlantTruth> plants_;
  CropConfig config_;
  std::uint64_t seed_;
  std::int64_t first_day_;
  std::int64_t last_ms_ = -1;
  std::vector<PendingOnset> pending_;
};

}  // namespace canopy::world
