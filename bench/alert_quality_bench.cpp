// How right and how fast the field loop's plant alerts are, on the simulated
// field world: the agent's own FieldLoop with a trained detector as its
// active model, on a manual clock, watching each world's camera spool (a
// frame every 15 minutes, day and night, dawn light and passing clouds),
// reading its sensors and driving its valve, for a week per device.
//
// Scored against the world's truth, per zone and condition (diseased,
// water-stressed):
//   - an episode begins when the first plant of the zone truly shows the
//     condition; it is found when an alert for it is raised after that;
//   - time to alert: from the episode's true onset to the alert;
//   - precision: raised alerts whose condition the zone truly showed at some
//     time in the tracking window before the alert (the loop judges a
//     plant on its last passes, so an alert that lags a recovery by a few
//     passes is still right);
//   - repeats: raises of the same zone and condition within the cooldown.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/active_model.h"
#include "agent/field_config.h"
#include "agent/field_loop.h"
#include "api/device_data.h"
#include "common/clock.h"
#include "bench_world.h"
#include "field_models.h"
#include "report.h"
#include "world/field_world.h"
#include "world/world_config.h"

namespace fs = std::filesystem;
using namespace canopy;
using bench::check;

namespace {

constexpr std::int64_t kFrameIntervalMs = 15 * world::kMinuteMs;
constexpr const char* kConditions[] = {"diseased", "water-stressed"};

// What the truth says of one zone at one minute.
struct ZoneTruth {
  bool diseased = false, stressed = false;
  bool shows(const std::string& condition) const { return condition == "diseased" ? diseased : stressed; }
};

struct Episode {
  std::string condition;
  std::int64_t onset_ms = 0;
  std::int64_t alerted_ms = -1;  // -1: not found
};

struct RaisedAlert {
  std::string condition;
  std::int64_t at_ms = 0;
  bool right = false;
};

struct DeviceScore {
  int device = 0;
  std::vector<Episode> episodes;
  std::vector<RaisedAlert> alerts;
  int correct = 0, repeats = 0, frames = 0;
  std::vector<RaisedAlert> false_clears;  // cleared while the zone still showed the condition
};

ZoneTruth zone_truth(const world::FieldWorld& world) {
  ZoneTruth truth;
  for (const world::PlantTruth& plant : world.crop().plants()) {
    truth.diseased = truth.diseased || plant.diseased;
    truth.stressed = truth.stressed || plant.condition() == world::PlantCondition::kWaterStressed;
  }
  return truth;
}

DeviceScore run_device(int device, std::uint64_t seed, int days, const fs::path& model_dir,
                       const fs::path& dir) {
  world::WorldConfig config = world::default_world_config(device, seed);
  config.weather.cloudiness = 0.5;          // clouds pass over most days
  config.crop.drawn_onset_days = days / 2;  // a disease begins in the first half of the week
  for (auto& camera : config.cameras) camera.interval_ms = kFrameIntervalMs;
  world::FieldWorld world = bench::open_world(config, dir);
  const std::int64_t start_ms = config.start_ms, end_ms = start_ms + days * world::kDayMs;

  agent::FieldLoopOptions options;
  options.config = check(agent::parse_field_config(world.field_config_yaml(), "field.yaml"),
                         "the world's field configuration");
  const std::int64_t cooldown_ms = options.config.alerts.cooldown_ms;
  const std::int64_t window_ms = options.config.tracking.window * kFrameIntervalMs;
  ManualClock clock(start_ms);
  options.data_dir = dir / "data";
  options.clock = &clock;
  agent::ActiveModel active;
  active.set(bench::load_field_model(model_dir));
  DeviceScore score;
  score.device = device;
  auto loop = check(agent::FieldLoop::open(std::move(options), active,
                                           [&](api::Stream stream, std::int64_t at_ms, Json body) -> Status {
                                             if (stream != api::Stream::kAlerts) return {};
                                             auto event = api::AlertEvent::from_json(body);
                                             if (!event.ok() || event->zone.empty()) return {};
                                             if (event->raised)
                                               score.alerts.push_back({event->condition, at_ms});
                                             else if (zone_truth(world).shows(event->condition))
                                               score.false_clears.push_back({event->condition, at_ms});
                                             return {};
                                           }),
                    "opening the field loop");

  // When each condition was last true, for the precision window.
  std::map<std::string, std::int64_t> last_true_ms;
  std::map<std::string, bool> was_true;
  std::size_t scored_alerts = 0;
  for (std::int64_t t = start_ms; t < end_ms; t += world::kMinuteMs) {
    check(world.publish_sensors(t), "publishing the sensors");
    if ((t - start_ms) % kFrameIntervalMs == 0) {
      check(world.publish_frame(config.cameras.front().id, t), "publishing a frame");
      ++score.frames;
    }
    if (t > start_ms) clock.advance_ms(world::kMinuteMs);
    const ZoneTruth truth = zone_truth(world);
    for (const std::string condition : kConditions) {
      if (truth.shows(condition)) {
        last_true_ms[condition] = t;
        if (!was_true[condition]) score.episodes.push_back({condition, t, -1});
      }
      was_true[condition] = truth.shows(condition);
    }
    loop->run_due();
    check(world.follow_valves(t), "following the valve");
    for (; scored_alerts < score.alerts.size(); ++scored_alerts) {
      const RaisedAlert& alert = score.alerts[scored_alerts];
      auto last = last_true_ms.find(alert.condition);
      if (last != last_true_ms.end() && alert.at_ms - last->second <= window_ms) {
        score.alerts[scored_alerts].right = true;
        ++score.correct;
      }
      for (Episode& episode : score.episodes)
        if (episode.condition == alert.condition && episode.alerted_ms < 0 && alert.at_ms >= episode.onset_ms)
          episode.alerted_ms = alert.at_ms;
      for (std::size_t i = 0; i < scored_alerts; ++i)
        if (score.alerts[i].condition == alert.condition &&
            alert.at_ms - score.alerts[i].at_ms < cooldown_ms) {
          ++score.repeats;
          break;
        }
    }
    if ((t - start_ms) % world::kDayMs == 0 && t > start_ms)
      std::fprintf(stderr, "  device %d: day %lld of %d, %zu alerts\n", device,
                   static_cast<long long>((t - start_ms) / world::kDayMs), days, score.alerts.size());
  }
  return score;
}

std::string hours(std::int64_t ms) { return bench::fmt("%.1f h", static_cast<double>(ms) / world::kHourMs); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Alert quality on the simulated field world: the field loop's plant alerts against the truth",
               "alert_quality_bench"};
  fs::path model_dir, work = "bench-work", markdown;
  int devices = 4, days = 7;
  std::uint64_t seed = 1;
  app.add_option("--model", model_dir, "the detector's package directory (a trained one)")->required();
  app.add_option("--work", work, "scratch directory (default bench-work)");
  app.add_option("--markdown", markdown, "write the results into this file's alert-quality-bench section");
  app.add_option("--devices", devices, "simulated devices, one field each (default 4)")
      ->check(CLI::Range(1, 50));
  app.add_option("--days", days, "simulated days per device (default 7)")->check(CLI::Range(2, 60));
  app.add_option("--seed", seed, "the worlds' seed (default 1)");
  CLI11_PARSE(app, argc, argv);
  model_dir = fs::absolute(model_dir);     // named in the results relative to the scratch directory's parent
  spdlog::set_level(spdlog::level::warn);  // the loop's info lines would drown the progress

  std::string table =
      "| device | soil | true episodes (condition: onset) | found | time to alert | alerts raised | right | "
      "wrong ones | cleared while still true | repeated within the cooldown | frames |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n";
  int episodes = 0, found = 0, alerts = 0, correct = 0, repeats = 0, cleared_early = 0;
  std::vector<double> delays_h;
  for (int device = 1; device <= devices; ++device) {
    std::fprintf(stderr, "device %d: %d days\n", device, days);
    const DeviceScore s = run_device(device, seed, days, model_dir,
                                     work / "alert-quality" / ("device-" + std::to_string(device)));
    std::string onsets, delays, wrong;
    const std::int64_t start_ms = world::default_world_config(device, seed).start_ms;
    const auto day_of = [&](std::int64_t at_ms) {
      return "day " + bench::fmt("%.2f", static_cast<double>(at_ms - start_ms) / world::kDayMs);
    };
    for (const RaisedAlert& a : s.alerts)
      if (!a.right) wrong += (wrong.empty() ? "" : "; ") + a.condition + " " + day_of(a.at_ms);
    std::string false_clears;
    for (const RaisedAlert& c : s.false_clears)
      false_clears += (false_clears.empty() ? "" : "; ") + c.condition + " " + day_of(c.at_ms);
    cleared_early += static_cast<int>(s.false_clears.size());
    int device_found = 0;
    for (const Episode& e : s.episodes) {
      onsets += (onsets.empty() ? "" : "; ") + e.condition + ": " + day_of(e.onset_ms);
      if (e.alerted_ms >= 0) {
        ++device_found;
        delays += (delays.empty() ? "" : ", ") + hours(e.alerted_ms - e.onset_ms);
        delays_h.push_back(static_cast<double>(e.alerted_ms - e.onset_ms) / world::kHourMs);
      }
    }
    episodes += static_cast<int>(s.episodes.size());
    found += device_found;
    alerts += static_cast<int>(s.alerts.size());
    correct += s.correct;
    repeats += s.repeats;
    table += "| " + std::to_string(device) + " | " + (device % 2 == 1 ? "sand" : "loam") + " | " +
             (onsets.empty() ? "none" : onsets) + " | " + std::to_string(device_found) + " of " +
             std::to_string(s.episodes.size()) + " | " + (delays.empty() ? "—" : delays) + " | " +
             std::to_string(s.alerts.size()) + " | " + std::to_string(s.correct) + " | " +
             (wrong.empty() ? "—" : wrong) + " | " + (false_clears.empty() ? "—" : false_clears) + " | " +
             std::to_string(s.repeats) + " | " + std::to_string(s.frames) + " |\n";
  }
  const std::string summary =
      "Recall " + std::to_string(found) + " of " + std::to_string(episodes) + " episodes, precision " +
      std::to_string(correct) + " of " + std::to_string(alerts) + " alerts, median time to alert " +
      (delays_h.empty() ? std::string("—") : bench::fmt("%.1f h", bench::percentile(delays_h, 0.5))) + ", " +
      std::to_string(cleared_early) + " cleared while still true, " + std::to_string(repeats) +
      " repeated within the cooldown.";
  const std::string text = "Measured with `make bench` (`build/bench/alert_quality_bench`), " +
                           std::to_string(devices) + " devices, " + std::to_string(days) +
                           " simulated days each from 2026-06-01, world seed " + std::to_string(seed) +
                           ", detector `" +
                           model_dir.lexically_relative(fs::absolute(work).parent_path()).string() + "`. " +
                           summary + "\n\n" + table;
  std::printf("%s", text.c_str());
  if (!markdown.empty())
    check(bench::replace_section(markdown, "alert-quality-bench", text), "writing " + markdown.string());
  return 0;
}
