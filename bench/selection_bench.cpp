// Hard-case selection against random selection on the simulated field world
// (docs/samples.md), at the same upload budget per device and day. Each arm
// is a simulated device (field_device.h) with a trained detector as its
// active model: the hard-case arm with the default strategies, the random
// arm with only the random slice, drawn often enough that the budget binds.
// The worlds are deterministic, so both arms see the same frames.
//
// Scored against the world's truth, for the samples kept from the scoring
// day on (the drift day of a drift scenario):
//   - model wrong: the sample's boxes at or above the model's threshold
//     against the true plants at IoU 0.5: a missed plant, an extra box or a
//     wrong class makes the model wrong on the frame;
//   - rarest class: the share of the true plants in the samples that are of
//     the class rarest among every frame's true plants;
//   - near-duplicates: samples within 10 bits of the perceptual hash of a
//     sample the same camera kept less than an hour before;
//   - bytes per device and day against sending every frame.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "api/samples.h"
#include "collect/image_signature.h"
#include "common/keys.h"
#include "field_device.h"
#include "field_models.h"
#include "report.h"
#include "world/field_world.h"
#include "world/world_config.h"

namespace fs = std::filesystem;
using namespace canopy;
using bench::check;

namespace {

constexpr std::int64_t kFrameIntervalMs = 10 * world::kMinuteMs;
constexpr int kBudgetPerDay = 12;

struct TrueFrame {
  std::vector<world::TrueObject> objects;
  int width = 0, height = 0;
  bool night = false;  // the sun below the horizon
};

struct Tally {
  int samples = 0, wrong = 0, duplicates = 0, frames = 0, night = 0, night_wrong = 0;
  std::int64_t sample_bytes = 0, frame_bytes = 0;
  std::map<std::string, int> strategies, strategies_wrong;
  std::map<std::string, int> errors;  // wrong samples by the first error found: missed, extra, class  // the
                                      // strategy that paid for each sample
  std::map<std::string, int> sample_plants;  // true plants in the samples, by class
  std::map<std::string, int> frame_plants;   // true plants in every scored frame, by class

  void add(const Tally& o) {
    samples += o.samples, wrong += o.wrong, duplicates += o.duplicates, frames += o.frames, night += o.night;
    night_wrong += o.night_wrong;
    sample_bytes += o.sample_bytes, frame_bytes += o.frame_bytes;
    for (const auto& [name, n] : o.strategies) strategies[name] += n;
    for (const auto& [name, n] : o.strategies_wrong) strategies_wrong[name] += n;
    for (const auto& [name, n] : o.errors) errors[name] += n;
    for (const auto& [name, n] : o.sample_plants) sample_plants[name] += n;
    for (const auto& [name, n] : o.frame_plants) frame_plants[name] += n;
  }
  // The share of `label` among the plants of `plants`.
  static double share(const std::map<std::string, int>& plants, const std::string& label) {
    int all = 0;
    for (const auto& [name, n] : plants) all += n;
    const auto found = plants.find(label);
    return all == 0 || found == plants.end() ? 0 : static_cast<double>(found->second) / all;
  }
};

double iou(const api::SampleBox& a, double x1, double y1, double x2, double y2) {
  const double w = std::min(a.x2, x2) - std::max(a.x1, x1), h = std::min(a.y2, y2) - std::max(a.y1, y1);
  if (w <= 0 || h <= 0) return 0;
  const double inter = w * h;
  return inter / ((a.x2 - a.x1) * (a.y2 - a.y1) + (x2 - x1) * (y2 - y1) - inter);
}

// How the boxes at or above `threshold` are wrong against the true plants:
// "missed" a plant, a "second box" on a found plant, an "extra" box on no
// plant, a wrong "class"; empty when right.
std::string model_error(const std::vector<api::SampleBox>& boxes, double threshold, const TrueFrame& truth) {
  std::vector<const api::SampleBox*> kept;
  for (const api::SampleBox& b : boxes)
    if (b.score >= threshold) kept.push_back(&b);
  std::vector<bool> used(kept.size(), false);
  std::string error;
  for (const world::TrueObject& object : truth.objects) {
    const double x1 = object.box.x1 / truth.width, y1 = object.box.y1 / truth.height;
    const double x2 = object.box.x2 / truth.width, y2 = object.box.y2 / truth.height;
    int best = -1;
    double best_iou = 0.5;
    for (std::size_t i = 0; i < kept.size(); ++i) {
      const double overlap = iou(*kept[i], x1, y1, x2, y2);
      if (!used[i] && overlap >= best_iou) best = static_cast<int>(i), best_iou = overlap;
    }
    if (best < 0) return "missed";
    used[best] = true;
    if (kept[best]->label != world::plant_condition_name(object.condition)) error = "class";
  }
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (used[i]) continue;
    // A second box on a plant already found (another class, as the
    // decoder's per-class suppression lets through) or a box on nothing.
    for (std::size_t j = 0; j < kept.size(); ++j)
      if (used[j] && iou(*kept[i], kept[j]->x1, kept[j]->y1, kept[j]->x2, kept[j]->y2) >= 0.5)
        return "second box";
    return "extra";
  }
  return error;
}

// One arm on one device's world. `samples_yaml` is the field
// configuration's samples section.
Tally run_arm(int device, std::uint64_t seed, const std::string& scenario, int days, int score_from_day,
              const std::string& samples_yaml, const fs::path& model_dir, const fs::path& dir) {
  const world::WorldConfig config =
      bench::drift_world_config(device, seed, scenario, days, score_from_day, kFrameIntervalMs);
  const std::int64_t score_from_ms = config.start_ms + score_from_day * world::kDayMs;
  const double threshold = bench::load_field_model(model_dir)->manifest.thresholds.score;

  std::map<std::int64_t, TrueFrame> truths;  // by capture time
  std::map<std::string, std::vector<std::pair<std::int64_t, std::uint64_t>>> kept_hashes;
  Tally tally;
  auto score_frame = [&](const world::Frame& frame) {
    TrueFrame& truth = truths[frame.at_ms];
    truth.objects = frame.objects;
    truth.width = frame.width;
    truth.height = frame.height;
    truth.night = frame.air.sun_elevation_deg < 0;
    if (frame.at_ms < score_from_ms) return;
    ++tally.frames;
    tally.frame_bytes += static_cast<std::int64_t>(frame.jpeg.size());
    for (const world::TrueObject& o : frame.objects)
      ++tally.frame_plants[std::string(world::plant_condition_name(o.condition))];
  };
  auto score_sample = [&](const api::Sample& sample) {
    const auto truth = truths.find(sample.captured_ms);
    if (sample.captured_ms < score_from_ms || truth == truths.end()) return;
    ++tally.samples;
    tally.sample_bytes +=
        static_cast<std::int64_t>(check(base64_decode(sample.jpeg_base64), "the JPEG").size());
    const std::string error = model_error(sample.predictions, threshold, truth->second);
    const bool wrong = !error.empty();
    if (wrong) ++tally.errors[error];
    tally.night += truth->second.night;
    tally.night_wrong += truth->second.night && wrong;
    tally.wrong += wrong;
    ++tally.strategies[sample.reasons.front().strategy];
    tally.strategies_wrong[sample.reasons.front().strategy] += wrong;
    for (const world::TrueObject& o : truth->second.objects)
      ++tally.sample_plants[std::string(world::plant_condition_name(o.condition))];
    const std::uint64_t hash = collect::parse_hash_hex(sample.phash).value_or(0);
    auto& previous = kept_hashes[sample.camera];
    for (const auto& [at, other] : previous)
      if (sample.captured_ms - at < world::kHourMs && collect::hamming_distance(hash, other) <= 10) {
        ++tally.duplicates;
        break;
      }
    previous.push_back({sample.captured_ms, hash});
  };
  bench::run_field_device(config, "device-" + std::to_string(device), days, samples_yaml, model_dir, dir,
                          score_frame, score_sample);
  return tally;
}

std::string percent(double part, double whole) {
  return whole > 0 ? bench::fmt("%.1f%%", 100 * part / whole) : "—";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Hard-case selection against random selection on the simulated field world, at the same budget",
      "selection_bench"};
  fs::path model_dir, work = "bench-work", markdown;
  int devices = 4, days = 4;
  std::uint64_t seed = 1;
  std::vector<std::string> scenarios = {"baseline", "new-disease", "late-season", "new-variety"};
  app.add_option("--model", model_dir, "the detector's package directory (a trained one)")->required();
  app.add_option("--work", work, "scratch directory (default bench-work)");
  app.add_option("--markdown", markdown, "write the results into this file's selection-bench section");
  app.add_option("--devices", devices, "simulated devices per scenario (default 4)")
      ->check(CLI::Range(1, 50));
  app.add_option("--days", days, "simulated days per device; drift begins on day 1 (default 4)")
      ->check(CLI::Range(2, 60));
  app.add_option("--scenarios", scenarios, "world scenarios (default: baseline and the three drifts)");
  app.add_option("--seed", seed, "the worlds' seed (default 1)");
  std::string hard_options;
  app.add_option("--hard", hard_options,
                 "more of the hard-case arm's samples section, as YAML flow entries "
                 "(e.g. \"uncertainty: {band: 0.2}\")");
  CLI11_PARSE(app, argc, argv);
  model_dir = fs::absolute(model_dir);
  spdlog::set_level(spdlog::level::warn);

  const std::string hard = bench::hard_case_samples(kBudgetPerDay, hard_options);
  const std::string random = bench::random_samples(kBudgetPerDay, kFrameIntervalMs);

  std::string table =
      "| world | arm | samples | at night | model wrong | in daylight | rarest class among true plants (in "
      "every frame) | "
      "near-duplicates | bytes "
      "per "
      "device-day | "
      "against every frame | paid for by (of which the model is wrong on) "
      "|\n|---|---|---|---|---|---|---|---|---|---|---|\n";
  std::string summary;
  for (const std::string& scenario : scenarios) {
    const int score_from_day = scenario == "baseline" ? 0 : 1;
    Tally arms[2];
    for (int device = 1; device <= devices; ++device)
      for (int arm = 0; arm < 2; ++arm) {
        std::fprintf(stderr, "%s: device %d, %s arm, %d days\n", scenario.c_str(), device,
                     arm == 0 ? "hard-case" : "random", days);
        arms[arm].add(run_arm(device, seed, scenario, days, score_from_day, arm == 0 ? hard : random,
                              model_dir,
                              work / "selection" / scenario / ("device-" + std::to_string(device))));
      }
    // The rarest class among the frames' true plants (both arms saw the same frames).
    std::string rarest;
    for (const auto& [label, n] : arms[1].frame_plants)
      if (rarest.empty() || n < arms[1].frame_plants.at(rarest)) rarest = label;
    const double device_days = static_cast<double>(devices) * (days - score_from_day);
    for (int arm = 0; arm < 2; ++arm) {
      const Tally& t = arms[arm];
      std::string paid, errors;
      for (const auto& [name, n] : t.errors)
        errors += (errors.empty() ? "" : ", ") + name + " " + std::to_string(n);
      for (const auto& [name, n] : t.strategies)
        paid += (paid.empty() ? "" : ", ") + name + " " + std::to_string(n) + " (" +
                std::to_string(t.strategies_wrong.count(name) ? t.strategies_wrong.at(name) : 0) + " wrong)";
      table += "| " + scenario + (score_from_day ? " (from day 1)" : "") + " | " +
               (arm == 0 ? "hard-case" : "random") + " | " + std::to_string(t.samples) + " | " +
               percent(t.night, t.samples) + " | " + percent(t.wrong, t.samples) + " (" + errors + ") | " +
               percent(t.wrong - t.night_wrong, t.samples - t.night) + " | " + rarest + " " +
               percent(Tally::share(t.sample_plants, rarest), 1) + " (" +
               percent(Tally::share(t.frame_plants, rarest), 1) + ") | " + percent(t.duplicates, t.samples) +
               " | " + bench::fmt("%.0f kB", t.sample_bytes / device_days / 1000) + " | " +
               bench::fmt("%.3f", t.frame_bytes ? static_cast<double>(t.sample_bytes) / t.frame_bytes : 0) +
               " | " + paid + " |\n";
    }
    const auto ratio = [](double hard_share, double random_share) {
      return random_share > 0 ? bench::fmt("%.2f", hard_share / random_share) : std::string("—");
    };
    const Tally &h = arms[0], &r = arms[1];
    summary +=
        "- " + scenario + ": model wrong " + percent(h.wrong, h.samples) + " against " +
        percent(r.wrong, r.samples) + " (" +
        ratio(h.samples ? double(h.wrong) / h.samples : 0, r.samples ? double(r.wrong) / r.samples : 0) +
        "×, goal ≥ 3×); rarest class (" + rarest + ") " + percent(Tally::share(h.sample_plants, rarest), 1) +
        " of the plants in the samples against " + percent(Tally::share(r.sample_plants, rarest), 1) + " (" +
        ratio(Tally::share(h.sample_plants, rarest), Tally::share(r.sample_plants, rarest)) +
        "×, goal ≥ 2×); near-duplicates " + percent(h.duplicates, h.samples) + " (goal < 5%)\n";
  }
  const std::string text =
      "Measured with `make bench` (`build/bench/selection_bench`), " + std::to_string(devices) +
      " devices per world, " + std::to_string(days) + " simulated days each, a frame every " +
      std::to_string(kFrameIntervalMs / world::kMinuteMs) + " minutes, budget " +
      std::to_string(kBudgetPerDay) +
      " samples per device and day (at most 2 an hour) for both arms, world seed " + std::to_string(seed) +
      ", detector `" + model_dir.lexically_relative(fs::absolute(work).parent_path()).string() +
      "`. Drift worlds are scored from the drift day (day 1) on.\n\n" + summary + "\n" + table;
  std::printf("%s", text.c_str());
  if (!markdown.empty())
    check(bench::replace_section(markdown, "selection-bench", text), "writing " + markdown.string());
  return 0;
}
