// The soil water bucket: the valve closes the loop (the water it applies
// raises θ by flow·t/(area·Zr·1000)), a dry day lowers θ by that day's ETc,
// rain beyond the soil's intake runs off and water past field capacity drains.
#include "world/soil_water.h"

#include <gtest/gtest.h>

namespace canopy::world {
namespace {

constexpr std::int64_t kStart = 1'780'272'000'000;  // 2026-06-01T00:00:00Z

Weather dry_weather() {
  WeatherConfig config;
  config.rain_chance_per_day = 0;
  return Weather(config, 7, utc_day(kStart));
}

SoilWaterConfig loam(double initial_depletion_mm) {
  SoilWaterConfig config;
  config.soil = {0.27, 0.12};
  config.root_depth_m = 0.3;
  config.area_m2 = 20;
  config.valve_flow_l_per_h = 120;
  config.initial_depletion_mm = initial_depletion_mm;
  return config;
}

TEST(SoilWater, TheOpenValveRaisesThetaByTheWaterItApplies) {
  const Weather weather = dry_weather();
  SoilWaterBalance watered(loam(15), kStart), dry(loam(15), kStart);
  // 13:00 to 13:25: the sun is up, so both zones lose water; only the valve differs.
  const std::int64_t open_at = kStart + 13 * kHourMs, close_at = open_at + 25 * kMinuteMs + 30'000;
  watered.set_valve(true, open_at, weather);
  watered.set_valve(false, close_at, weather);
  watered.advance_to(kStart + 14 * kHourMs, weather);
  dry.advance_to(kStart + 14 * kHourMs, weather);
  const double hours = double(close_at - open_at) / double(kHourMs);
  const double expected = 120 * hours / (20 * 0.3 * 1000);
  EXPECT_NEAR(watered.state().theta - dry.state().theta, expected, 1e-12);
  EXPECT_NEAR(watered.state().irrigation_mm, 120 * hours / 20, 1e-12);
  EXPECT_EQ(dry.state().irrigation_mm, 0);
}

TEST(SoilWater, AtNightTheValveAloneMovesTheSoil) {
  const Weather weather = dry_weather();
  SoilWaterBalance zone(loam(20), kStart);
  const double before = zone.state().theta;
  zone.set_valve(true, kStart + 1 * kHourMs, weather);
  zone.set_valve(false, kStart + 1 * kHourMs + 10 * kMinuteMs, weather);
  zone.advance_to(kStart + 2 * kHourMs, weather);
  EXPECT_NEAR(zone.state().theta - before, 120.0 / 6 / (20 * 0.3 * 1000), 1e-12);
  EXPECT_EQ(zone.state().et_mm, 0);
}

TEST(SoilWater, ADryDayLowersThetaByItsEvapotranspiration) {
  const Weather weather = dry_weather();
  SoilWaterConfig config = loam(0);
  config.crop_coefficient = 1.1;
  SoilWaterBalance zone(config, kStart);
  const double before = zone.state().theta;
  // Advanced in uneven slices: the steps, and so the result, do not depend on them.
  for (std::int64_t t = kStart; t < kStart + kDayMs; t += 37 * kMinuteMs + 11'000)
    zone.advance_to(t, weather);
  zone.advance_to(kStart + kDayMs, weather);
  const double etc = 1.1 * weather.day(utc_day(kStart)).et0_mm;
  ASSERT_GT(etc, 3) << "a June day at 41.6°N evaporates millimetres";
  ASSERT_LT(etc, config.depletion_fraction * 45) << "the day stays within RAW, so Ks is 1";
  EXPECT_NEAR(zone.state().et_mm, etc, 1e-6);
  EXPECT_NEAR(before - zone.state().theta, etc / (1000 * 0.3), 1e-9);
}

TEST(SoilWater, DrySoilStressesThePlantsAndSlowsTheirWaterUse) {
  const Weather weather = dry_weather();
  SoilWaterBalance zone(loam(0), kStart);
  int stressed_day = -1;
  for (int day = 1; day <= 20 && stressed_day < 0; ++day) {
    zone.advance_to(kStart + day * kDayMs, weather);
    if (zone.state().ks < 1) stressed_day = day;
  }
  ASSERT_GT(stressed_day, 1);
  EXPECT_GT(zone.state().depletion_mm, zone.readily_available_water_mm());
  // Ks falls towards 0 as the soil nears wilting point, never below it.
  zone.advance_to(kStart + 120 * kDayMs, weather);
  EXPECT_LE(zone.state().depletion_mm, zone.total_available_water_mm());
  EXPECT_GE(zone.state().theta, 0.12 - 1e-12);
  EXPECT_LT(zone.state().ks, 0.2);
}

TEST(SoilWater, HeavyRainRunsOffAndWaterPastFieldCapacityDrains) {
  WeatherConfig config;
  config.rain_chance_per_day = 0;
  config.rain_events = {{.day = 0, .start_hour = 2, .hours = 1, .mm = 40}};
  const Weather weather(config, 7, utc_day(kStart));
  SoilWaterBalance zone(loam(10), kStart);
  zone.advance_to(kStart + 4 * kHourMs, weather);
  const SoilWaterState& s = zone.state();
  EXPECT_NEAR(s.rain_mm, 40, 1e-9);
  EXPECT_NEAR(s.runoff_mm, 40 - 15, 1e-9) << "loam takes in 15 mm in the hour";
  EXPECT_NEAR(s.percolation_mm, 15 - 10, 1e-9) << "10 mm refill the root zone, the rest drains";
  EXPECT_EQ(s.depletion_mm, 0);
  EXPECT_NEAR(s.theta, 0.27, 1e-12);
}

}  // namespace
}  // namespace canopy::world
