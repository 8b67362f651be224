#include "world/weather.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>

#include "field/evapotranspiration.h"
#include "world/random_streams.h"

namespace canopy::world {

namespace {

constexpr double kPi = std::numbers::pi;
constexpr std::int64_t kCloudCellMs = 10 * kMinuteMs;

// Solar declination (rad), FAO-56 eq. 24.
double declination(int day_of_year) { return 0.409 * std::sin(2 * kPi / 365 * day_of_year - 1.39); }

// The sun's hour angle (rad) at `wall_ms`: 0 at solar noon, ±π at midnight.
double hour_angle(std::int64_t wall_ms) {
  const double hour = double(wall_ms - day_start_ms(utc_day(wall_ms))) / double(kHourMs);
  return kPi * (hour - 12) / 12;
}

double smoothstep(double t) { return t * t * (3 - 2 * t); }

// Rises from 0 to 1 as a half cosine: how temperature climbs and falls.
double half_cosine(double t) { return (1 - std::cos(kPi * std::clamp(t, 0.0, 1.0))) / 2; }

}  // namespace

std::int64_t utc_day(std::int64_t wall_ms) {
  return wall_ms >= 0 ? wall_ms / kDayMs : -((-wall_ms + kDayMs - 1) / kDayMs);
}

int day_of_year(std::int64_t day) {
  using namespace std::chrono;
  const sys_days date{days{day}};
  const year_month_day ymd{date};
  return int((date - sys_days{ymd.year() / January / 1}).count()) + 1;
}

Weather::Weather(WeatherConfig config, std::uint64_t seed, std::int64_t first_day)
    : config_(std::move(config)), seed_(seed), first_day_(first_day) {}

DailyWeather Weather::day(std::int64_t utc_day) const {
  DailyWeather d;
  d.day = utc_day;
  StreamRandom air(seed_, "air", {utc_day});
  const double offset = air.normal(0, config_.day_to_day_c);
  d.t_min_c = config_.t_min_c + offset + air.uniform(-1, 1);
  d.t_max_c = config_.t_max_c + offset + air.uniform(-1.5, 1.5);
  d.rh_min = std::clamp(config_.rh_at_t_max + air.uniform(-5, 5), 5.0, 100.0);
  d.rh_max = std::clamp(config_.rh_at_t_min + air.uniform(-4, 4), d.rh_min, 100.0);
  d.cloudiness = std::clamp(config_.cloudiness * air.uniform(0.3, 1.7), 0.0, 1.0);
  for (const Shower& shower : showers_on(utc_day)) d.rain_mm += shower.mm;
  if (d.rain_mm > 0) {
    // A rainy day is cloudy, its afternoon cooler and its air damper.
    d.cloudiness = std::max(d.cloudiness, 0.85);
    d.t_max_c = std::max(d.t_min_c + 3, d.t_max_c - 4);
    d.rh_min = std::min(100.0, d.rh_min + 20);
  }
  d.t_max_c = std::max(d.t_max_c, d.t_min_c + 1);
  d.et0_mm = field::hargreaves_et0(d.t_min_c, d.t_max_c, config_.latitude_deg, day_of_year(utc_day));
  return d;
}

std::vector<Weather::Shower> Weather::showers_on(std::int64_t utc_day) const {
  std::vector<Shower> showers;
  const std::int64_t relative_day = utc_day - first_day_;
  const bool dry_spell =
      relative_day >= config_.dry_spell_from_day && relative_day < config_.dry_spell_until_day;
  StreamRandom rain(seed_, "rain", {utc_day});
  if (rain.chance(config_.rain_chance_per_day) && !dry_spell) {
    const double mm = std::max(0.5, -config_.rain_mean_mm * std::log(1 - rain.uniform()));
    const double hours = rain.uniform(1, 3);
    const double start_hour = rain.uniform(0, 24 - hours);
    const std::int64_t from = day_start_ms(utc_day) + std::int64_t(start_hour * double(kHourMs));
    showers.push_back({from, from + std::int64_t(hours * double(kHourMs)), mm});
  }
  for (const RainEvent& event : config_.rain_events) {
    if (first_day_ + event.day != utc_day || event.mm <= 0 || event.hours <= 0) continue;
    const std::int64_t from = day_start_ms(utc_day) + std::int64_t(event.start_hour * double(kHourMs));
    showers.push_back({from, from + std::int64_t(event.hours * double(kHourMs)), event.mm});
  }
  return showers;
}

double Weather::rain_mm_between(std::int64_t from_ms, std::int64_t to_ms) const {
  double mm = 0;
  // A shower may run past midnight into the next day.
  for (std::int64_t d = utc_day(from_ms) - 1; d <= utc_day(to_ms - 1); ++d) {
    for (const Shower& shower : showers_on(d)) {
      const std::int64_t overlap = std::min(to_ms, shower.to_ms) - std::max(from_ms, shower.from_ms);
      if (overlap > 0) mm += shower.mm * double(overlap) / double(shower.to_ms - shower.from_ms);
    }
  }
  return mm;
}

double Weather::sun_elevation_deg(std::int64_t wall_ms) const {
  const double phi = config_.latitude_deg * kPi / 180;
  const double delta = declination(day_of_year(utc_day(wall_ms)));
  const double sin_elevation =
      std::sin(phi) * std::sin(delta) + std::cos(phi) * std::cos(delta) * std::cos(hour_angle(wall_ms));
  return std::asin(std::clamp(sin_elevation, -1.0, 1.0)) * 180 / kPi;
}

double Weather::et0_mm_between(std::int64_t from_ms, std::int64_t to_ms) const {
  // The rate follows sin(elevation) = a + b·cos(ω) while the sun is up, so
  // its integral over hour angle is closed-form, and a whole day's is the
  // same integral from sunrise to sunset (-ωs .. ωs): the day sums exactly
  // to its ET0, however the caller slices it.
  const double phi = config_.latitude_deg * kPi / 180;
  double mm = 0;
  for (std::int64_t d = utc_day(from_ms); from_ms < to_ms && d <= utc_day(to_ms - 1); ++d) {
    const std::int64_t start = std::max(from_ms, day_start_ms(d));
    const std::int64_t end = std::min(to_ms, day_start_ms(d + 1));
    if (end <= start) continue;
    const double delta = declination(day_of_year(d));
    const double a = std::sin(phi) * std::sin(delta), b = std::cos(phi) * std::cos(delta);
    const double ws = std::acos(std::clamp(-std::tan(phi) * std::tan(delta), -1.0, 1.0));
    const double whole_day = 2 * (a * ws + b * std::sin(ws));
    if (whole_day <= 0) continue;  // polar night
    const auto angle = [&](std::int64_t ms) {
      return -kPi + 2 * kPi * double(ms - day_start_ms(d)) / double(kDayMs);
    };
    const double lo = std::max(angle(start), -ws), hi = std::min(angle(end), ws);
    if (hi <= lo) continue;
    mm += day(d).et0_mm * (a * (hi - lo) + b * (std::sin(hi) - std::sin(lo))) / whole_day;
  }
  return mm;
}

double Weather::cloud_cell(std::int64_t cell) const {
  StreamRandom clouds(seed_, "clouds", {cell});
  const double cloudiness = day(utc_day(cell * kCloudCellMs)).cloudiness;
  return clouds.chance(cloudiness) ? clouds.uniform(0.55, 1.0) : clouds.uniform(0, 0.12);
}

Air Weather::air_at(std::int64_t wall_ms) const {
  Air air;
  const std::int64_t d = utc_day(wall_ms);
  const DailyWeather today = day(d);
  const double hour = double(wall_ms - day_start_ms(d)) / double(kHourMs);
  // Coolest at 06:00, warmest at 15:00; the night falls towards the next day's minimum.
  double warmth = 0;  // 0 at the segment's minimum, 1 at its maximum
  if (hour < 6) {
    const DailyWeather yesterday = day(d - 1);
    warmth = 1 - half_cosine((hour + 9) / 15);
    air.temperature_c = today.t_min_c + (yesterday.t_max_c - today.t_min_c) * warmth;
  } else if (hour < 15) {
    warmth = half_cosine((hour - 6) / 9);
    air.temperature_c = today.t_min_c + (today.t_max_c - today.t_min_c) * warmth;
  } else {
    const DailyWeather tomorrow = day(d + 1);
    warmth = 1 - half_cosine((hour - 15) / 15);
    air.temperature_c = tomorrow.t_min_c + (today.t_max_c - tomorrow.t_min_c) * warmth;
  }
  air.relative_humidity = today.rh_max - (today.rh_max - today.rh_min) * warmth;
  const std::int64_t cell = wall_ms / kCloudCellMs;
  const double t = double(wall_ms - cell * kCloudCellMs) / double(kCloudCellMs);
  const double first = cloud_cell(cell), second = cloud_cell(cell + 1);
  air.cloud_cover = first + (second - first) * smoothstep(t);
  air.raining = rain_mm_between(wall_ms, wall_ms + 1) > 0;
  if (air.raining) {
    air.cloud_cover = std::max(air.cloud_cover, 0.95);
    air.relative_humidity = std::max(air.relative_humidity, 95.0);
  }
  air.sun_elevation_deg = sun_elevation_deg(wall_ms);
  const double phi = config_.latitude_deg * kPi / 180;
  const double delta = declination(day_of_year(d));
  const double w = hour_angle(wall_ms);
  air.sun_azimuth_rad =
      std::atan2(std::sin(w), std::cos(w) * std::sin(phi) - std::tan(delta) * std::cos(phi)) + kPi;
  return air;
}

}  // namespace canopy::world
