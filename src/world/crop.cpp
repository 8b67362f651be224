#include "world/crop.h"

#include <algorithm>
#include <cmath>

#include "world/random_streams.h"
#include "world/weather.h"

namespace canopy::world {

std::string_view plant_condition_name(PlantCondition condition) {
  switch (condition) {
    case PlantCondition::kHealthy:
      return "healthy";
    case PlantCondition::kDiseased:
      return "diseased";
    case PlantCondition::kWaterStressed:
      return "water_stressed";
  }
  return "healthy";
}

PlantCondition PlantTruth::condition() const {
  if (diseased) return PlantCondition::kDiseased;
  if (stressed) return PlantCondition::kWaterStressed;
  return PlantCondition::kHealthy;
}

int PlantTruth::severity(std::int64_t now_ms, const CropConfig& config) const {
  const auto grown = [&](std::int64_t since_ms, double step_ms) {
    return std::clamp(1 + int(std::floor(double(now_ms - since_ms) / step_ms)), 1, 3);
  };
  switch (condition()) {
    case PlantCondition::kDiseased:
      return grown(disease_onset_ms, config.disease_step_days * double(kDayMs));
    case PlantCondition::kWaterStressed:
      return grown(stressed_since_ms, config.stress_step_h * double(kHourMs));
    case PlantCondition::kHealthy:
      return 0;
  }
  return 0;
}

Crop::Crop(std::vector<PlantSpot> spots, CropConfig config, std::uint64_t seed, std::int64_t first_day)
    : config_(std::move(config)), seed_(seed), first_day_(first_day) {
  for (std::size_t i = 0; i < spots.size(); ++i) {
    PlantTruth plant;
    plant.id = int(i) + 1;
    plant.spot = std::move(spots[i]);
    plant.look_seed = StreamRandom(seed, "look", {std::int64_t(i)}).next();
    // Plants differ in how long they bear dry soil, so they do not all wilt in the same minute.
    plant.stress_after_h =
        config_.stress_after_h * StreamRandom(seed, "stress", {std::int64_t(i)}).uniform(0.75, 1.25);
    plants_.push_back(std::move(plant));
  }
  const auto at = [&](int day, double hour) {
    return day_start_ms(first_day_ + day) + std::int64_t(hour * double(kHourMs));
  };
  for (const DiseaseOnset& onset : config_.disease_onsets) {
    if (onset.plant >= 0 && onset.plant < int(plants_.size()))
      pending_.push_back({at(onset.day, onset.hour), onset.plant, onset.disease, "onset"});
  }
  for (int k = 0; k < config_.drawn_onsets && !plants_.empty(); ++k) {
    StreamRandom draw(seed, "onset", {k});
    const int plant = std::min(int(plants_.size()) - 1, int(draw.uniform() * double(plants_.size())));
    const int day = int(draw.uniform() * config_.drawn_onset_days);
    pending_.push_back({at(day, draw.uniform(6, 18)), plant, "", "onset"});
  }
}

void Crop::spread_on(std::int64_t day) {
  const std::int64_t start = day_start_ms(day);
  for (const PlantTruth& source : plants_) {
    if (!source.diseased || source.disease_onset_ms >= start) continue;
    for (const PlantTruth& target : plants_) {
      if (target.diseased || target.spot.camera != source.spot.camera) continue;
      const double distance = std::hypot(target.spot.x - source.spot.x, target.spot.y - source.spot.y);
      if (distance > config_.neighbour_distance) continue;
      const int index = target.id - 1;
      if (std::any_of(pending_.begin(), pending_.end(),
                      [&](const PendingOnset& p) { return p.plant == index; }))
        continue;
      StreamRandom draw(seed_, "spread", {day, source.id, target.id});
      if (!draw.chance(config_.spread_chance_per_day)) continue;
      pending_.push_back({start + std::int64_t(draw.uniform() * double(kDayMs)), index, source.disease,
                          "spread from plant " + std::to_string(source.id)});
    }
  }
}

void Crop::infect(PlantTruth& plant, std::int64_t at_ms, const std::string& disease,
                  const DiseaseSource& diseases, const std::string& cause,
                  std::vector<PlantChange>& changes) {
  const PlantCondition before = plant.condition();
  plant.diseased = true;
  plant.disease_onset_ms = at_ms;
  plant.disease = disease;
  if (plant.disease.empty() && !diseases.empty()) {
    StreamRandom draw(seed_, "disease", {plant.id, at_ms});
    plant.disease =
        diseases[std::min(diseases.size() - 1, std::size_t(draw.uniform() * double(diseases.size())))];
  }
  changes.push_back(
      {plant.id - 1, at_ms, before, plant.condition(), plant.stressed, true, plant.disease, cause});
}

std::vector<PlantChange> Crop::observe(std::int64_t now_ms, const std::map<std::string, double>& ks_by_zone,
                                       const DiseaseSource& diseases) {
  std::vector<PlantChange> changes;
  if (last_ms_ < 0) last_ms_ = now_ms;
  for (std::int64_t day = utc_day(last_ms_) + 1; day_start_ms(day) <= now_ms; ++day) {
    if (config_.treatment_day >= 0 && day == first_day_ + config_.treatment_day) {
      for (PlantTruth& plant : plants_) {
        if (!plant.diseased) continue;
        const PlantCondition before = plant.condition();
        plant.diseased = false;
        plant.disease.clear();
        plant.disease_onset_ms = -1;
        changes.push_back({plant.id - 1, day_start_ms(day), before, plant.condition(), plant.stressed, false,
                           "", "treatment"});
      }
      pending_.clear();
    }
    spread_on(day);
  }
  last_ms_ = now_ms;

  std::stable_sort(pending_.begin(), pending_.end(), [](const PendingOnset& a, const PendingOnset& b) {
    return a.at_ms != b.at_ms ? a.at_ms < b.at_ms : a.plant < b.plant;
  });
  while (!pending_.empty() && pending_.front().at_ms <= now_ms) {
    const PendingOnset onset = pending_.front();
    pending_.erase(pending_.begin());
    PlantTruth& plant = plants_[std::size_t(onset.plant)];
    if (!plant.diseased) infect(plant, onset.at_ms, onset.disease, diseases, onset.cause, changes);
  }

  for (PlantTruth& plant : plants_) {
    const auto zone = ks_by_zone.find(plant.spot.zone);
    const double ks = zone == ks_by_zone.end() ? 1.0 : zone->second;
    const PlantCondition before = plant.condition();
    if (ks < 1) {
      plant.wet_since_ms = -1;
      if (plant.dry_since_ms < 0) plant.dry_since_ms = now_ms;
      if (!plant.stressed && double(now_ms - plant.dry_since_ms) >= plant.stress_after_h * double(kHourMs)) {
        plant.stressed = true;
        plant.stressed_since_ms = now_ms;
        changes.push_back({plant.id - 1, now_ms, before, plant.condition(), true, plant.diseased,
                           plant.disease, "dry soil"});
      }
    } else {
      plant.dry_since_ms = -1;
      if (!plant.stressed) continue;
      if (plant.wet_since_ms < 0) plant.wet_since_ms = now_ms;
      if (double(now_ms - plant.wet_since_ms) >= config_.recover_after_h * double(kHourMs)) {
        plant.stressed = false;
        plant.stressed_since_ms = -1;
        plant.wet_since_ms = -1;
        changes.push_back({plant.id - 1, now_ms, before, plant.condition(), false, plant.diseased,
                           plant.disease, "watered"});
      }
    }
  }
  return changes;
}

}  // namespace canopy::world
