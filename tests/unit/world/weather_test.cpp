// The weather: the same seed gives the same days, each purpose its own
// stream; the diurnal cycles, the sun and the daylight share of ET0.
#include "world/weather.h"

#include <gtest/gtest.h>

#include "field/evapotranspiration.h"

namespace canopy::world {
namespace {

constexpr std::int64_t kStart = 1'780'272'000'000;  // 2026-06-01T00:00:00Z
const std::int64_t kFirstDay = utc_day(kStart);

TEST(Weather, TheSameSeedGivesTheSameDaysAndAnotherSeedOthers) {
  const Weather a({}, 5, kFirstDay), b({}, 5, kFirstDay), c({}, 6, kFirstDay);
  int differ = 0;
  for (std::int64_t day = kFirstDay; day < kFirstDay + 30; ++day) {
    EXPECT_EQ(a.day(day).t_max_c, b.day(day).t_max_c);
    EXPECT_EQ(a.day(day).rain_mm, b.day(day).rain_mm);
    EXPECT_EQ(a.air_at(day_start_ms(day) + 9 * kHourMs).cloud_cover,
              b.air_at(day_start_ms(day) + 9 * kHourMs).cloud_cover);
    if (a.day(day).t_max_c != c.day(day).t_max_c) ++differ;
  }
  EXPECT_EQ(differ, 30);
  EXPECT_EQ(day_of_year(kFirstDay), 152);
}

TEST(Weather, ADayIsCoolAtDawnWarmInTheAfternoonAndHumidWhenCool) {
  const Weather weather({}, 3, kFirstDay);
  const DailyWeather today = weather.day(kFirstDay + 1);
  const std::int64_t midnight = day_start_ms(kFirstDay + 1);
  const Air dawn = weather.air_at(midnight + 6 * kHourMs),
            afternoon = weather.air_at(midnight + 15 * kHourMs);
  EXPECT_NEAR(dawn.temperature_c, today.t_min_c, 1e-9);
  EXPECT_NEAR(afternoon.temperature_c, today.t_max_c, 1e-9);
  EXPECT_GT(dawn.relative_humidity, afternoon.relative_humidity + 20);
  // The cycle is continuous across midnight.
  EXPECT_NEAR(weather.air_at(midnight - 1).temperature_c, weather.air_at(midnight).temperature_c, 1e-3);
  // The sun: down at midnight, up at noon, low in the early morning.
  EXPECT_LT(weather.air_at(midnight).sun_elevation_deg, -10);
  EXPECT_GT(weather.air_at(midnight + 12 * kHourMs).sun_elevation_deg, 60);
  const double morning = weather.air_at(midnight + 5 * kHourMs).sun_elevation_deg;
  EXPECT_GT(morning, -5);
  EXPECT_LT(morning, 12);
}

TEST(Weather, Et0IsHargreavesSpreadOverTheDaylight) {
  const Weather weather({}, 3, kFirstDay);
  const std::int64_t day = kFirstDay + 2, midnight = day_start_ms(day);
  const DailyWeather d = weather.day(day);
  EXPECT_DOUBLE_EQ(d.et0_mm, field::hargreaves_et0(d.t_min_c, d.t_max_c, 41.6, day_of_year(day)));
  EXPECT_NEAR(weather.et0_mm_between(midnight, midnight + kDayMs), d.et0_mm, 1e-9);
  double by_minutes = 0;
  for (std::int64_t t = midnight; t < midnight + kDayMs; t += kMinuteMs)
    by_minutes += weather.et0_mm_between(t, t + kMinuteMs);
  EXPECT_NEAR(by_minutes, d.et0_mm, 1e-9);
  EXPECT_EQ(weather.et0_mm_between(midnight, midnight + 3 * kHourMs), 0) << "nothing evaporates at night";
  EXPECT_GT(weather.et0_mm_between(midnight + 11 * kHourMs, midnight + 13 * kHourMs),
            weather.et0_mm_between(midnight + 6 * kHourMs, midnight + 8 * kHourMs));
}

TEST(Weather, RainFallsOnSomeDaysButNotInADrySpell) {
  WeatherConfig config;
  config.rain_chance_per_day = 0.5;
  config.dry_spell_from_day = 10;
  config.dry_spell_until_day = 20;
  const Weather weather(config, 9, kFirstDay);
  int rainy = 0;
  for (int day = 0; day < 40; ++day) {
    const double rain = weather.day(kFirstDay + day).rain_mm;
    if (day >= 10 && day < 20) {
      EXPECT_EQ(rain, 0) << day;
    }
    if (rain > 0) ++rainy;
    // The day's total is what falls over its hours (a shower may run past midnight, not these).
    EXPECT_NEAR(weather.rain_mm_between(day_start_ms(kFirstDay + day), day_start_ms(kFirstDay + day + 1)),
                rain, 1e-9);
  }
  EXPECT_GT(rainy, 5);
  EXPECT_LT(rainy, 30);
}

}  // namespace
}  // namespace canopy::world
