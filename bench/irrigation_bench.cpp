// How well the field loop irrigates, on the simulated field world: the
// agent's own FieldLoop (reading the world's sensor files, driving its file
// valve, on a manual clock) against a fixed daily timer, the common baseline,
// over the same days of the same weather on sand and on loam.
//
// Scored on the world's ground truth, minute by minute:
//   - the share of time the root zone holds its readily available water
//     (FAO-56 depletion Dr ≤ RAW, so the plants transpire unstressed);
//   - stress hours (Dr > RAW);
//   - the water applied against the FAO-56 net irrigation requirement of
//     the period, In = ETc − Pe (crop evapotranspiration Kc·ET0, less the
//     rain that soaked in), and the water lost below the roots.
// The timer is set as an installer would: one morning run a day, long
// enough to give the crop's ETc on the season's typical day (the weather's
// configured minimum and maximum temperatures, Hargreaves at the field's
// latitude and the first day's date).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "agent/active_model.h"
#include "agent/field_config.h"
#include "agent/field_loop.h"
#include "common/clock.h"
#include "field/evapotranspiration.h"
#include "report.h"
#include "world/field_world.h"
#include "world/world_config.h"

namespace fs = std::filesystem;
using namespace canopy;
using bench::check;

namespace {

constexpr char kZone[] = "zone-1";
constexpr int kTimerStartHour = 6;

struct Outcome {
  double minutes = 0;
  double stressed_minutes = 0;
  double irrigation_mm = 0, rain_mm = 0, runoff_mm = 0, percolation_mm = 0;
  double etc_mm = 0;  // Kc·ET0 over the period: what unstressed plants use
  double min_theta = 1, max_theta = 0;
  int openings = 0;

  double net_requirement_mm() const { return std::max(0.0, etc_mm - (rain_mm - runoff_mm)); }
  double within_raw_share() const { return minutes > 0 ? 1 - stressed_minutes / minutes : 0; }
};

world::WorldConfig world_for(const std::string& texture, std::uint64_t seed) {
  world::WorldConfig config = world::default_world_config(1, seed);
  config.zones.front().texture = texture;
  return check(world::resolve_world_config(config), "the world's configuration");
}

// One minute of the world's truth into the outcome.
void score_minute(const world::FieldWorld& world, bool was_open, Outcome& out) {
  const world::SoilWaterBalance& soil = world.soil(kZone);
  const world::SoilWaterState& s = soil.state();
  out.minutes += 1;
  if (s.depletion_mm > soil.readily_available_water_mm()) out.stressed_minutes += 1;
  if (s.valve_open && !was_open) ++out.openings;
  out.min_theta = std::min(out.min_theta, s.theta);
  out.max_theta = std::max(out.max_theta, s.theta);
}

void finish(const world::FieldWorld& world, std::int64_t start_ms, std::int64_t end_ms, Outcome& out) {
  const world::SoilWaterBalance& soil = world.soil(kZone);
  const world::SoilWaterState& s = soil.state();
  out.irrigation_mm = s.irrigation_mm;
  out.rain_mm = s.rain_mm;
  out.runoff_mm = s.runoff_mm;
  out.percolation_mm = s.percolation_mm;
  out.etc_mm = soil.config().crop_coefficient * world.weather().et0_mm_between(start_ms, end_ms);
}

// The agent's field loop drives the valve through the world's files.
Outcome run_field_loop(const world::WorldConfig& config, const fs::path& dir, int days) {
  fs::remove_all(dir);
  world::FieldWorld world =
      check(world::FieldWorld::create(config, dir / "field", dir / "truth"), "the world");
  agent::FieldConfig field = check(agent::parse_field_config(world.field_config_yaml(), "field.yaml"),
                                   "the world's field configuration");
  field.cameras.clear();  // irrigation alone: no detector needed
  const std::int64_t start_ms = config.start_ms, end_ms = start_ms + days * world::kDayMs;
  check(world.publish_sensors(start_ms), "publishing the first sensor files");  // and the valves' folder
  ManualClock clock(start_ms);
  agent::ActiveModel no_model;
  agent::FieldLoopOptions options;
  options.config = std::move(field);
  options.data_dir = dir / "data";
  options.clock = &clock;
  auto loop = check(agent::FieldLoop::open(std::move(options), no_model,
                                           [](api::Stream, std::int64_t, Json) -> Status { return {}; }),
                    "opening the field loop");
  Outcome out;
  for (std::int64_t t = start_ms; t < end_ms; t += world::kMinuteMs) {
    const bool was_open = world.soil(kZone).state().valve_open;
    check(world.publish_sensors(t), "publishing the sensors");
    if (t > start_ms) clock.advance_ms(world::kMinuteMs);
    loop->run_due();
    check(world.follow_valves(t), "following the valve");
    score_minute(world, was_open, out);
    if ((t - start_ms) % world::kDayMs == 0 && t > start_ms)
      std::fprintf(stderr, "  field loop on %s: day %lld of %d\n", config.zones.front().texture.c_str(),
                   static_cast<long long>((t - start_ms) / world::kDayMs), days);
  }
  check(world.advance_to(end_ms), "ending the world");
  finish(world, start_ms, end_ms, out);
  return out;
}

// Minutes a morning run lasts to give the crop's ETc on the season's typical day.
std::int64_t timer_minutes(const world::WorldConfig& config) {
  const world::WeatherConfig& w = config.weather;
  const world::SoilWaterConfig& water = config.zones.front().water;
  const double et0 = field::hargreaves_et0(w.t_min_c, w.t_max_c, w.latitude_deg,
                                           world::day_of_year(world::utc_day(config.start_ms)));
  const double mm_per_hour = water.valve_flow_l_per_h / water.area_m2;
  return std::llround(water.crop_coefficient * et0 / mm_per_hour * 60);
}

Outcome run_timer(const world::WorldConfig& config, const fs::path& dir, int days, std::int64_t minutes) {
  fs::remove_all(dir);
  world::FieldWorld world =
      check(world::FieldWorld::create(config, dir / "field", dir / "truth"), "the world");
  const std::int64_t start_ms = config.start_ms, end_ms = start_ms + days * world::kDayMs;
  const std::int64_t opens_at = kTimerStartHour * world::kHourMs,
                     closes_at = opens_at + minutes * world::kMinuteMs;
  Outcome out;
  for (std::int64_t t = start_ms; t < end_ms; t += world::kMinuteMs) {
    const bool was_open = world.soil(kZone).state().valve_open;
    const std::int64_t into_day = t - world::day_start_ms(world::utc_day(t));
    check(world.set_valve(kZone, into_day >= opens_at && into_day < closes_at, t), "the timer's valve");
    score_minute(world, was_open, out);
  }
  check(world.advance_to(end_ms), "ending the world");
  finish(world, start_ms, end_ms, out);
  return out;
}

std::string row(const std::string& season, const std::string& soil, const std::string& controller,
                const Outcome& o) {
  return "| " + season + " | " + soil + " | " + controller + " | " +
         bench::fmt("%.1f%%", 100 * o.within_raw_share()) + " | " +
         bench::fmt("%.1f", o.stressed_minutes / 60) + " | " + bench::fmt("%.1f", o.irrigation_mm) + " | " +
         bench::fmt("%.1f", o.net_requirement_mm()) + " | " +
         bench::fmt("%.2f", o.net_requirement_mm() > 0 ? o.irrigation_mm / o.net_requirement_mm() : 0) +
         " | " + bench::fmt("%.1f", o.percolation_mm) + " | " + std::to_string(o.openings) + " | " +
         bench::fmt("%.3f", o.min_theta) + "–" + bench::fmt("%.3f", o.max_theta) + " |\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Irrigation quality on the simulated field world: the field loop against a fixed daily timer",
               "irrigation_bench"};
  fs::path work = "bench-work";
  fs::path markdown;
  int days = 14;
  std::uint64_t seed = 1;
  app.add_option("--work", work, "scratch directory (default bench-work)");
  app.add_option("--markdown", markdown, "write the results into this file's irrigation-bench section");
  app.add_option("--days", days, "simulated days (default 14)")->check(CLI::Range(1, 365));
  app.add_option("--seed", seed, "the world's seed: its weather and rain (default 1)");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);  // the loop's info lines would drown the progress

  std::string table =
      "| weather | soil | controller | time within RAW | stress hours | water applied (mm) | net requirement "
      "ETc − Pe (mm) | applied / requirement | lost below the roots (mm) | openings | θ range |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n";
  // The season as the timer was set for it, and a hotter one the timer knows nothing of.
  struct Season {
    std::string name;
    double warmer_c;
  };
  std::string weather;
  for (const Season& season : {Season{"as designed", 0}, Season{"hot, +5 °C", 5}}) {
    for (const std::string texture : {"sand", "loam"}) {
      world::WorldConfig config = world_for(texture, seed);
      const std::int64_t minutes = timer_minutes(config);
      config.weather.t_min_c += season.warmer_c;
      config.weather.t_max_c += season.warmer_c;
      const std::string label = season.name + ", " + texture;
      std::fprintf(stderr, "%s: %d days, the field loop\n", label.c_str(), days);
      const fs::path dir = work / "irrigation" / (season.warmer_c > 0 ? "hot" : "design") / texture;
      const Outcome loop = run_field_loop(config, dir / "loop", days);
      std::fprintf(stderr, "%s: %d days, a timer of %lld minutes at %02d:00\n", label.c_str(), days,
                   static_cast<long long>(minutes), kTimerStartHour);
      const Outcome timer = run_timer(config, dir / "timer", days, minutes);
      table += row(season.name, texture, "field loop (FAO-56 thresholds on the soil probe)", loop);
      table +=
          row(season.name, texture, "fixed timer, " + std::to_string(minutes) + " min daily at 06:00", timer);
      if (texture == "sand")  // the same weather for both soils
        weather += (weather.empty() ? "" : "; ") + season.name + ": " + bench::fmt("%.1f", loop.etc_mm) +
                 " mm of ETc and " + bench::fmt("%.1f", loop.rain_mm) + " mm of rain";
    }
  }
  const std::string text =
      "Measured with `make bench` (`build/bench/irrigation_bench`), " + std::to_string(days) +
      " simulated days from 2026-06-01, world seed " + std::to_string(seed) + " (" + weather +
      "). One zone of 20 m² watered at 120 L/h (6 mm/h), root depth 0.3 m, p = 0.5.\n\n" + table;
  std::printf("%s", text.c_str());
  if (!markdown.empty())
    check(bench::replace_section(markdown, "irrigation-bench", text), "writing " + markdown.string());
  return 0;
}
