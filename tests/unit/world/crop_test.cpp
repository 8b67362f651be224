// The plants: water stress after the soil stays dry, recovery after it is
// watered, disease onset at its time, spread to neighbours, treatment.
#include "world/crop.h"

#include <gtest/gtest.h>

#include <cmath>

#include "world/weather.h"

namespace canopy::world {
namespace {

constexpr std::int64_t kStart = 1'780'272'000'000;
const std::int64_t kFirstDay = utc_day(kStart);

std::vector<PlantSpot> grid(int columns, int rows) {
  std::vector<PlantSpot> spots;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < columns; ++c)
      spots.push_back({"cam-1", "north", (c + 0.5) / columns, (r + 0.5) / rows, 0.08});
  return spots;
}

// Runs the crop minute by minute from `from` to `to` with the zone's Ks.
std::vector<PlantChange> run(Crop& crop, std::int64_t from, std::int64_t to, double ks) {
  std::vector<PlantChange> all;
  for (std::int64_t t = from + kMinuteMs; t <= to; t += kMinuteMs)
    for (PlantChange& change : crop.observe(t, {{"north", ks}}, {"leaf_spot", "rust"})) all.push_back(change);
  return all;
}

TEST(Crop, WaterStressAppearsAfterTheSoilStaysDryAndGoesAfterWatering) {
  CropConfig config;
  config.stress_after_h = 20;
  config.recover_after_h = 10;
  Crop crop(grid(3, 2), config, 4, kFirstDay);
  run(crop, kStart, kStart + 14 * kHourMs, 0.6);
  for (const PlantTruth& plant : crop.plants()) EXPECT_FALSE(plant.stressed) << "not yet: 14 h < 15 h";
  const auto stressed = run(crop, kStart + 14 * kHourMs, kStart + 26 * kHourMs, 0.6);
  EXPECT_EQ(stressed.size(), 6u);
  for (const PlantChange& change : stressed) {
    EXPECT_EQ(change.to, PlantCondition::kWaterStressed);
    EXPECT_EQ(change.cause, "dry soil");
    const PlantTruth& plant = crop.plants()[std::size_t(change.plant)];
    EXPECT_NEAR(double(change.at_ms - kStart - kMinuteMs), plant.stress_after_h * double(kHourMs),
                double(kMinuteMs));
  }
  // Severity grows while the soil stays dry.
  const PlantTruth& first = crop.plants()[0];
  EXPECT_EQ(first.severity(kStart + 27 * kHourMs, config), 1);
  run(crop, kStart + 26 * kHourMs, kStart + 80 * kHourMs, 0.4);
  EXPECT_EQ(crop.plants()[0].severity(kStart + 80 * kHourMs, config), 3);

  // Watered back: still stressed for the recovery hours, then healthy.
  run(crop, kStart + 80 * kHourMs, kStart + 89 * kHourMs, 1.0);
  for (const PlantTruth& plant : crop.plants()) EXPECT_TRUE(plant.stressed);
  const auto recovered = run(crop, kStart + 89 * kHourMs, kStart + 91 * kHourMs, 1.0);
  EXPECT_EQ(recovered.size(), 6u);
  for (const PlantTruth& plant : crop.plants()) EXPECT_EQ(plant.condition(), PlantCondition::kHealthy);
  // A brief dry spell is not enough.
  run(crop, kStart + 91 * kHourMs, kStart + 100 * kHourMs, 0.9);
  run(crop, kStart + 100 * kHourMs, kStart + 101 * kHourMs, 1.0);
  for (const PlantTruth& plant : crop.plants()) EXPECT_FALSE(plant.stressed);
}

TEST(Crop, DiseaseStartsAtItsTimeSpreadsToNeighboursAndGrows) {
  CropConfig config;
  config.disease_onsets = {{.plant = 12, .day = 1, .hour = 9, .disease = "rust"}};
  config.spread_chance_per_day = 0.5;
  config.neighbour_distance = 0.21;  // the four plants next to the centre of a 5×5 grid, not the diagonals
  Crop crop(grid(5, 5), config, 11, kFirstDay);
  run(crop, kStart, kStart + kDayMs + 9 * kHourMs - kMinuteMs, 1.0);
  for (const PlantTruth& plant : crop.plants()) EXPECT_FALSE(plant.diseased);
  const auto onset = run(crop, kStart + kDayMs + 9 * kHourMs - kMinuteMs, kStart + kDayMs + 9 * kHourMs, 1.0);
  ASSERT_EQ(onset.size(), 1u);
  EXPECT_EQ(onset[0].plant, 12);
  EXPECT_EQ(onset[0].at_ms, kStart + kDayMs + 9 * kHourMs);
  EXPECT_EQ(onset[0].disease, "rust");
  EXPECT_EQ(onset[0].cause, "onset");

  // Ten days later it has spread, only ever from a diseased neighbour, with its disease.
  const auto spread = run(crop, kStart + kDayMs + 9 * kHourMs, kStart + 11 * kDayMs, 1.0);
  ASSERT_GE(spread.size(), 3u);
  for (const PlantChange& change : spread) {
    EXPECT_EQ(change.to, PlantCondition::kDiseased);
    EXPECT_EQ(change.disease, "rust");
    EXPECT_EQ(change.cause.rfind("spread from plant ", 0), 0u) << change.cause;
    const int source = std::stoi(change.cause.substr(18)) - 1;
    const PlantTruth& from = crop.plants()[std::size_t(source)];
    const PlantTruth& to = crop.plants()[std::size_t(change.plant)];
    EXPECT_LT(std::hypot(from.spot.x - to.spot.x, from.spot.y - to.spot.y), 0.21);
    EXPECT_LT(from.disease_onset_ms, change.at_ms);
  }
  EXPECT_EQ(crop.plants()[12].severity(kStart + 11 * kDayMs, config), 3);
  EXPECT_EQ(crop.plants()[12].condition(), PlantCondition::kDiseased) << "disease does not heal by itself";
}

TEST(Crop, ATreatmentDayHealsTheDiseasedAndDrawnOnsetsFollowTheSeed) {
  CropConfig config;
  config.drawn_onsets = 2;
  config.drawn_onset_days = 3;
  config.spread_chance_per_day = 0;
  config.treatment_day = 5;
  Crop a(grid(4, 2), config, 21, kFirstDay), b(grid(4, 2), config, 21, kFirstDay);
  const auto changes = run(a, kStart, kStart + 4 * kDayMs, 1.0);
  EXPECT_GE(changes.size(), 1u);
  const auto same = run(b, kStart, kStart + 4 * kDayMs, 1.0);
  ASSERT_EQ(changes.size(), same.size());
  for (std::size_t i = 0; i < changes.size(); ++i) {
    EXPECT_EQ(changes[i].plant, same[i].plant);
    EXPECT_EQ(changes[i].at_ms, same[i].at_ms);
    EXPECT_EQ(changes[i].disease, same[i].disease);
  }
  const auto treated = run(a, kStart + 4 * kDayMs, kStart + 6 * kDayMs, 1.0);
  for (const PlantTruth& plant : a.plants()) EXPECT_FALSE(plant.diseased);
  ASSERT_FALSE(treated.empty());
  EXPECT_EQ(treated[0].cause, "treatment");
  EXPECT_EQ(treated[0].at_ms, day_start_ms(kFirstDay + 5));
}

}  // namespace
}  // namespace canopy::world
