// The weather over a simulated field, as pure functions of the seed, the
// configuration and the time: each UTC day draws its minimum and maximum
// temperature, its humidity range, its cloudiness and whether it rains (from
// its own random stream, so nothing else shifts it); within the day the
// temperature follows a diurnal cycle (coolest at dawn, warmest mid-afternoon),
// relative humidity moves inversely to it, clouds pass in ten-minute cells and
// the sun rises and sets for the latitude and the date. The day's reference
// evapotranspiration ET0 is Hargreaves' (field/evapotranspiration.h), spread
// over the daylight in proportion to the sun's height, so none evaporates at
// night and a whole day adds up to exactly the day's ET0.
// Solar time is UTC (the field sits on the Greenwich meridian); it keeps the
// day boundaries of the weather, the valve's daily cap and the ET0 the same.
// Thread-safety: a Weather is immutable after construction.
#pragma once

#include <cstdint>
#include <vector>

namespace canopy::world {

inline constexpr std::int64_t kDayMs = 86'400'000;
inline constexpr std::int64_t kHourMs = 3'600'000;
inline constexpr std::int64_t kMinuteMs = 60'000;

// The UTC day number (days since 1970-01-01) of a wall time, and its start.
std::int64_t utc_day(std::int64_t wall_ms);
inline std::int64_t day_start_ms(std::int64_t day) { return day * kDayMs; }
// 1..366.
int day_of_year(std::int64_t day);

// A rain event set by configuration rather than drawn.
struct RainEvent {
  int day = 0;            // days after the world's first day
  double start_hour = 6;  // UTC
  double hours = 2;       // it falls evenly over this long
  double mm = 10;
};

struct WeatherConfig {
  double latitude_deg = 41.6;
  double t_min_c = 14, t_max_c = 29;          // a typical day; each day moves both by a shared offset
  double day_to_day_c = 2.5;                  // standard deviation of that offset
  double rh_at_t_min = 88, rh_at_t_max = 38;  // %, at the coolest and the warmest hour
  double rain_chance_per_day = 0.12;
  double rain_mean_mm = 9;  // a drawn rain's amount is exponential with this mean
  double cloudiness = 0.3;  // chance a ten-minute cell is cloudy on a dry day
  // Days after the world's first day, [from, until): no drawn rain.
  int dry_spell_from_day = -1, dry_spell_until_day = -1;
  std::vector<RainEvent> rain_events;  // on top of the drawn ones
};

struct DailyWeather {
  std::int64_t day = 0;  // UTC day number
  double t_min_c = 0, t_max_c = 0;
  double rh_min = 0, rh_max = 0;  // %
  double cloudiness = 0;
  double rain_mm = 0;  // drawn and configured together
  double et0_mm = 0;   // Hargreaves, from t_min_c and t_max_c
};

// The air above the field at one instant.
struct Air {
  double temperature_c = 0;
  double relative_humidity = 0;  // %
  double cloud_cover = 0;        // 0 clear .. 1 overcast
  double sun_elevation_deg = 0;  // negative at night
  double sun_azimuth_rad = 0;    // from north, clockwise
  bool raining = false;
};

class Weather {
 public:
  // `first_day` is the UTC day the world starts on: configured days count from it.
  Weather(WeatherConfig config, std::uint64_t seed, std::int64_t first_day);

  DailyWeather day(std::int64_t utc_day) const;
  Air air_at(std::int64_t wall_ms) const;
  double sun_elevation_deg(std::int64_t wall_ms) const;
  // ET0 (mm) and rain (mm) over [from_ms, to_ms).
  double et0_mm_between(std::int64_t from_ms, std::int64_t to_ms) const;
  double rain_mm_between(std::int64_t from_ms, std::int64_t to_ms) const;

  const WeatherConfig& config() const { return config_; }
  std::int64_t first_day() const { return first_day_; }

 private:
  struct Shower {
    std::int64_t from_ms, to_ms;
    double mm;
  };
  std::vector<Shower> showers_on(std::int64_t utc_day) const;
  double cloud_cell(std::int64_t cell) const;

  WeatherConfig config_;
  std::uint64_t seed_;
  std::int64_t first_day_;
};

}  // namespace canopy::world
