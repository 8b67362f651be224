// The closed loop's benchmark (docs/loop.md): how much of a drift's mAP drop
// a retrain on labeled field samples wins back, against the number of
// labels, with the samples chosen by the agent's hard-case selection and by
// random selection at the same upload budget.
//
// For each drift scenario, on fixed seeds:
//   1. production is the detector given, quantized to int8 once, as devices
//      run it;
//   2. holdouts: daylight frames of further devices of the same world from
//      the drift day on, labeled from the world's truth (the drifted
//      holdout), the same devices' frames in the world without the drift
//      (before the drift), and the original validation set production was
//      measured on (no forgetting is judged there);
//   3. each arm's devices (field_device.h) keep samples from the drift day
//      on; the world's truth labels them, as the oracle of `canopy sim`
//      does, in the order they were kept;
//   4. for each label budget N, the retrain of
//      examples/agriculture/retrain.yaml with its defaults: the first N
//      labeled samples (every seventh for validation, every seventh for the
//      field test split), the same number of original training images
//      replayed (--replay-ratio), fine-tuned from production for 4 epochs,
//      quantized to int8 and evaluated by `canopy-train`; its gates (int8
//      drop, gain on the field test split, forgetting on the original
//      validation set) decide whether the fleet runs the challenger or keeps
//      production. Each budget is its own retrain from production.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/samples.h"
#include "common/files.h"
#include "common/json.h"
#include "common/keys.h"
#include "common/subprocess.h"
#include "field_device.h"
#include "report.h"
#include "vision/field_renderer.h"
#include "world/crop.h"
#include "world/field_world.h"

namespace fs = std::filesystem;
using namespace canopy;
using bench::check;
using bench::die;

namespace {

constexpr std::int64_t kFrameIntervalMs = 10 * world::kMinuteMs;
constexpr int kDriftDay = 1;

// An image with its true boxes as YOLO label lines.
struct LabeledImage {
  std::string name;  // file stem
  std::int64_t captured_ms = 0;
  std::string jpeg;
  std::string yolo;
};

std::string yolo_labels(const world::Frame& frame) {
  std::string text;
  for (const world::TrueObject& o : frame.objects) {
    const auto label = std::find(vision::kFieldLabels.begin(), vision::kFieldLabels.end(),
                                 world::plant_condition_name(o.condition));
    const double w = frame.width, h = frame.height;
    char line[128];
    std::snprintf(line, sizeof line, "%d %.6f %.6f %.6f %.6f\n",
                  static_cast<int>(label - vision::kFieldLabels.begin()), (o.box.x1 + o.box.x2) / 2 / w,
                  (o.box.y1 + o.box.y2) / 2 / h, (o.box.x2 - o.box.x1) / w, (o.box.y2 - o.box.y1) / h);
    text += line;
  }
  return text;
}

void write_dataset(const fs::path& dir, const std::vector<const LabeledImage*>& images) {
  fs::remove_all(dir);
  fs::create_directories(dir / "images");
  fs::create_directories(dir / "labels");
  for (const LabeledImage* image : images) {
    check(write_file_atomic(dir / "images" / (image->name + ".jpg"), image->jpeg), "writing an image");
    check(write_file_atomic(dir / "labels" / (image->name + ".txt"), image->yolo), "writing labels");
  }
  std::string yaml = "names:\n";
  for (const std::string& name : vision::kFieldLabels) yaml += "  - " + name + "\n";
  check(write_file_atomic(dir / "data.yaml", yaml), "writing data.yaml");
}

// Adds the first `count` images of the YOLO dataset `from` (by name) to `dir`.
void add_replay(const fs::path& from, int count, const fs::path& dir) {
  std::vector<fs::path> images;
  for (const auto& entry : fs::directory_iterator(from / "images")) images.push_back(entry.path());
  std::sort(images.begin(), images.end());
  if (static_cast<int>(images.size()) < count)
    die(from.string() + " holds " + std::to_string(images.size()) + " images; the replay needs " +
        std::to_string(count));
  for (int i = 0; i < count; ++i) {
    const std::string stem = images[i].stem().string();
    fs::copy_file(images[i], dir / "images" / ("replay-" + stem + ".jpg"));
    fs::copy_file(from / "labels" / (stem + ".txt"), dir / "labels" / ("replay-" + stem + ".txt"));
  }
}

void run(const std::vector<std::string>& argv, const fs::path& log) {
  auto child = check(Subprocess::start({argv, {}, log, log}), "starting " + argv[0]);
  if (const int code = child.wait(); code != 0)
    die(argv[0] + " " + argv[1] + " exited with " + std::to_string(code) + "; see " + log.string());
}

struct Tools {
  std::string trainer;
  int img = 320;
  double width = 0.5;
  int epochs = 4;
  double lr = 0.001;
};

// mAP@0.5 of the package in `model` on the dataset `data`, on the edge engine.
double evaluate(const Tools& tools, const fs::path& model, const fs::path& data, const fs::path& out) {
  run({tools.trainer, "eval", "--model", model.string(), "--data", data.string(), "--out", out.string(),
       "-q"},
      out.string() + ".log");
  return check(parse_json(check(read_file(out / "metrics.json"), "metrics")), "metrics.json")
      .at("map50")
      .get<double>();
}

// int8 of the float package in `model`, as the retrain pipeline makes it.
fs::path quantize(const Tools& tools, const fs::path& model, const fs::path& calib, const fs::path& val,
                  const fs::path& out) {
  fs::remove_all(out);
  run({tools.trainer, "quantize", "--model", model.string(), "--calib", calib.string(), "--images", "64",
       "--val", val.string(), "--out", out.string(), "-q"},
      out.string() + ".log");
  return out / "package";
}

struct Holdouts {
  fs::path drifted, before, original;
};

// The retrain pipeline's gates (examples/agriculture/retrain.yaml defaults).
constexpr double kMaxInt8Drop = 0.01, kMinGain = 0.02, kMaxForgetting = 0.01;

struct Retrain {
  double challenger_drifted = 0, challenger_original = 0;
  std::string refused;  // the first gate that refused the challenger; empty: promoted
  double deployed_drifted = 0, deployed_original = 0;  // what the fleet runs after the retrain
};

struct Production {
  fs::path package;
  double drifted = 0, original = 0;
};

// One retrain at one budget, as the retrain pipeline runs it: the labels
// split (every seventh for validation, every seventh for the field test
// split the gates read), fine-tuned, int8, gated against production, and
// both models on the holdouts.
Retrain retrain(const Tools& tools, const Production& production, const std::vector<LabeledImage>& labeled,
                int budget, int replay, const fs::path& original_train, const Holdouts& holdouts,
                const fs::path& dir) {
  std::vector<const LabeledImage*> train, val, test;
  for (int i = 0; i < budget; ++i) (i % 7 == 6 ? val : i % 7 == 5 ? test : train).push_back(&labeled[i]);
  write_dataset(dir / "train", train);
  write_dataset(dir / "val", val);
  write_dataset(dir / "field_test", test);
  add_replay(original_train, replay, dir / "train");
  fs::remove_all(dir / "run");
  run({tools.trainer, "train",
       "--data",      (dir / "train").string(),
       "--val",       (dir / "val").string(),
       "--out",       (dir / "run").string(),
       "--init-from", production.package.string(),
       "--epochs",    std::to_string(tools.epochs),
       "--lr",        bench::fmt("%g", tools.lr),
       "--batch",     "16",
       "--img",       std::to_string(tools.img),
       "--width",     bench::fmt("%g", tools.width),
       "--seed",      "3",
       "-q"},
      dir / "train.log");
  const fs::path int8 = quantize(tools, dir / "run" / "package", dir / "train", dir / "val", dir / "int8");
  const double int8_drop =
      check(parse_json(check(read_file(dir / "int8" / "report.json"), "the int8 report")), "report.json")
          .at("compressed")
          .at("map50_drop")
          .get<double>();
  Retrain result;
  result.challenger_drifted = evaluate(tools, int8, holdouts.drifted, dir / "eval-drifted");
  result.challenger_original = evaluate(tools, int8, holdouts.original, dir / "eval-original");
  const double challenger_field = evaluate(tools, int8, dir / "field_test", dir / "eval-field");
  const double production_field =
      evaluate(tools, production.package, dir / "field_test", dir / "production-field");
  if (int8_drop > kMaxInt8Drop)
    result.refused = "int8 drop " + bench::fmt("%.3f", int8_drop);
  else if (challenger_field < production_field + kMinGain)
    result.refused = "field " + bench::fmt("%.2f", challenger_field) + " < " +
                     bench::fmt("%.2f", production_field) + " + " + bench::fmt("%.2f", kMinGain);
  else if (result.challenger_original < production.original - kMaxForgetting)
    result.refused = "original " + bench::fmt("%.3f", result.challenger_original) + " < " +
                     bench::fmt("%.3f", production.original) + " - " + bench::fmt("%.2f", kMaxForgetting);
  result.deployed_drifted = result.refused.empty() ? result.challenger_drifted : production.drifted;
  result.deployed_original = result.refused.empty() ? result.challenger_original : production.original;
  return result;
}

struct Options {
  std::uint64_t seed = 1;
  int devices = 8, holdout_devices = 2, days = 5, budget_per_day = 12;
};

// Daylight frames (every second one) of the holdout devices from the drift
// day on. Daylight: the sun at least 5° up; in the dark the camera sees
// little, and no retrain changes that.
fs::path make_holdout(const Options& options, const std::string& scenario, const fs::path& production,
                      const fs::path& dir) {
  std::vector<LabeledImage> frames;
  for (int d = 1; d <= options.holdout_devices; ++d) {
    const int device = options.devices + d;  // devices the arms do not run
    const world::WorldConfig config =
        bench::drift_world_config(device, options.seed, scenario, options.days, kDriftDay, kFrameIntervalMs);
    const std::int64_t drift_ms = config.start_ms + kDriftDay * world::kDayMs;
    int daylight = 0;
    bench::run_field_device(
        config, "device-" + std::to_string(device), options.days,
        bench::hard_case_samples(options.budget_per_day), production, dir / "world",
        [&](const world::Frame& frame) {
          if (frame.at_ms < drift_ms || frame.air.sun_elevation_deg < 5 || daylight++ % 2) return;
          frames.push_back({"d" + std::to_string(device) + "-" + std::to_string(frame.at_ms), frame.at_ms,
                            frame.jpeg, yolo_labels(frame)});
        },
        [](const api::Sample&) {});
  }
  std::vector<const LabeledImage*> all;
  for (const LabeledImage& f : frames) all.push_back(&f);
  write_dataset(dir / "images", all);
  fs::remove_all(dir / "world");
  return dir / "images";
}

// The samples an arm's devices keep from the drift day on, labeled from
// the world's truth, in the order they were kept.
std::vector<LabeledImage> collect_samples(const Options& options, const std::string& scenario,
                                          const std::string& samples_yaml, const fs::path& production,
                                          const fs::path& dir) {
  std::vector<LabeledImage> kept;
  for (int device = 1; device <= options.devices; ++device) {
    std::fprintf(stderr, "  device %d of %d\n", device, options.devices);
    const world::WorldConfig config =
        bench::drift_world_config(device, options.seed, scenario, options.days, kDriftDay, kFrameIntervalMs);
    const std::int64_t drift_ms = config.start_ms + kDriftDay * world::kDayMs;
    std::map<std::int64_t, std::string> truths;  // YOLO labels by capture time
    bench::run_field_device(
        config, "device-" + std::to_string(device), options.days, samples_yaml, production, dir,
        [&](const world::Frame& frame) { truths[frame.at_ms] = yolo_labels(frame); },
        [&](const api::Sample& sample) {
          const auto truth = truths.find(sample.captured_ms);
          if (sample.captured_ms < drift_ms || truth == truths.end()) return;
          kept.push_back({"d" + std::to_string(device) + "-" + std::to_string(sample.captured_ms),
                          sample.captured_ms, check(base64_decode(sample.jpeg_base64), "the JPEG"),
                          truth->second});
        });
  }
  fs::remove_all(dir);
  std::stable_sort(kept.begin(), kept.end(), [](const LabeledImage& a, const LabeledImage& b) {
    return a.captured_ms < b.captured_ms;
  });
  return kept;
}

std::string points(double map50) { return bench::fmt("%.3f", map50); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "The closed loop: a drift's mAP drop won back by retraining on labeled hard cases, against random "
      "selection, per label budget",
      "loop_bench"};
  fs::path model_dir, original_train, original_val, work = "bench-work", markdown;
  Options options;
  Tools tools;
  double replay_ratio = 1;
  std::vector<int> budgets = {50, 100, 150, 300};
  std::vector<std::string> scenarios = {"late-season", "new-variety", "new-disease"};
  app.add_option("--model", model_dir, "production: the trained detector's float package directory")
      ->required();
  app.add_option("--train-data", original_train,
                 "the dataset production was trained on (replay, calibration)")
      ->required();
  app.add_option("--val-data", original_val, "the validation set production was measured on")->required();
  app.add_option("--canopy-train", tools.trainer, "path of canopy-train")->required();
  app.add_option("--work", work, "scratch directory (default bench-work)");
  app.add_option("--markdown", markdown, "write the results into this file's loop-bench section");
  app.add_option("--scenarios", scenarios, "drift scenarios (default late-season, new-variety, new-disease)");
  app.add_option("--budgets", budgets, "label budgets, ascending (default 50 100 150 300)");
  app.add_option("--devices", options.devices, "simulated devices per arm (default 8)")
      ->check(CLI::Range(1, 50));
  app.add_option("--days", options.days, "simulated days; the drift begins on day 1 (default 5)")
      ->check(CLI::Range(2, 60));
  app.add_option("--replay-ratio", replay_ratio, "original training images replayed per label (default 1)");
  app.add_option("--epochs", tools.epochs, "fine-tuning epochs (default 4, the retrain pipeline's)");
  app.add_option("--lr", tools.lr, "fine-tuning learning rate (default 0.001, the retrain pipeline's)");
  app.add_option("--img", tools.img, "the model's input size (default 320)");
  app.add_option("--width", tools.width, "the model's channel multiplier (default 0.5)");
  app.add_option("--seed", options.seed, "the worlds' seed (default 1)");
  CLI11_PARSE(app, argc, argv);
  std::sort(budgets.begin(), budgets.end());
  spdlog::set_level(spdlog::level::warn);
  const fs::path root = fs::absolute(work) / "loop";
  fs::create_directories(root);

  std::fprintf(stderr, "production: int8 of %s\n", model_dir.c_str());
  Production production;
  production.package =
      quantize(tools, fs::absolute(model_dir), original_train, original_val, root / "production");
  production.original = evaluate(tools, production.package, original_val, root / "production-original");

  std::string summary, tables;
  for (const std::string& scenario : scenarios) {
    const fs::path dir = root / scenario;
    std::fprintf(stderr, "%s: holdouts\n", scenario.c_str());
    const Holdouts holdouts{make_holdout(options, scenario, production.package, dir / "holdout-drifted"),
                            make_holdout(options, "baseline", production.package, dir / "holdout-before"),
                            original_val};
    const double before = evaluate(tools, production.package, holdouts.before, dir / "production-before");
    production.drifted = evaluate(tools, production.package, holdouts.drifted, dir / "production-drifted");

    const std::string arms[2] = {"hard-case", "random"};
    std::map<int, Retrain> retrains[2];
    int labels_kept[2] = {0, 0};
    for (int arm = 0; arm < 2; ++arm) {
      std::fprintf(stderr, "%s: %s selection\n", scenario.c_str(), arms[arm].c_str());
      const std::vector<LabeledImage> labeled =
          collect_samples(options, scenario,
                          arm == 0 ? bench::hard_case_samples(options.budget_per_day)
                                   : bench::random_samples(options.budget_per_day, kFrameIntervalMs),
                          production.package, dir / (arms[arm] + "-world"));
      labels_kept[arm] = static_cast<int>(labeled.size());
      for (int budget : budgets) {
        if (budget > labels_kept[arm]) break;
        std::fprintf(stderr, "%s: %s, retrain on %d labels\n", scenario.c_str(), arms[arm].c_str(), budget);
        retrains[arm][budget] =
            retrain(tools, production, labeled, budget, static_cast<int>(budget * replay_ratio),
                    original_train, holdouts, dir / (arms[arm] + "-" + std::to_string(budget)));
      }
    }

    // The figures the goals ask for: recovery and forgetting of what the
    // fleet runs after the retrain; selection compared on the challengers.
    const double drop = before - production.drifted;
    std::string recovery = drop > 0 ? "no retrain ran" : "the drift costs production nothing here";
    if (drop > 0 && !retrains[0].empty()) {
      std::optional<int> enough;
      for (const auto& [budget, r] : retrains[0])
        if (!enough && r.deployed_drifted - production.drifted >= 0.9 * drop) enough = budget;
      const auto& [top_budget, top] = *retrains[0].rbegin();
      recovery =
          "after the hard-case retrain on " + std::to_string(top_budget) + " labels the fleet wins back " +
          bench::fmt("%.0f%%", 100 * (top.deployed_drifted - production.drifted) / drop) + " of the drop (" +
          (enough ? "90% reached at " + std::to_string(*enough) + " labels" : "90% not reached") +
          "; goal: 90% with at most 300)";
    }
    std::string half = "random selection kept too few samples to compare";
    if (!retrains[1].empty() && !retrains[0].empty()) {
      const auto& [random_budget, random_top] = *retrains[1].rbegin();
      std::optional<int> reached;
      for (const auto& [budget, r] : retrains[0])
        if (!reached && r.challenger_drifted >= random_top.challenger_drifted) reached = budget;
      half = "the random challenger's mAP with " + std::to_string(random_budget) + " labels (" +
             points(random_top.challenger_drifted) + ") is reached by a hard-case challenger " +
             (reached ? "with " + std::to_string(*reached) + " labels (" +
                            bench::fmt("%.2f", static_cast<double>(*reached) / random_budget) + " of them)"
                      : std::string("at no budget")) +
             " (goal: at most half)";
    }
    double worst_challenger = production.original, worst_deployed = production.original;
    for (const auto& arm : retrains)
      for (const auto& [budget, r] : arm) {
        worst_challenger = std::min(worst_challenger, r.challenger_original);
        worst_deployed = std::min(worst_deployed, r.deployed_original);
      }
    summary += "- **" + scenario + "**: production's mAP@0.5 on the holdout devices " + points(before) +
               " before the drift, " + points(production.drifted) + " after (drop " +
               bench::fmt("%.3f", drop) + "); " + recovery + "; " + half +
               "; on the original validation set production scores " + points(production.original) +
               ", the worst deployed model " + points(worst_deployed) + " (" +
               bench::fmt("%+.1f", 100 * (worst_deployed - production.original)) +
               " points; goal: no more than 1 point lost), the worst challenger " + points(worst_challenger) +
               ". Samples kept: " + std::to_string(labels_kept[0]) + " hard cases, " +
               std::to_string(labels_kept[1]) + " random.\n";

    tables +=
        "\n" + scenario +
        " (mAP@0.5 on the drifted holdout, then on the original validation set; the gates' verdict):\n\n"
        "| labels | hard-case challenger | gates | random challenger | gates |\n|---|---|---|---|---|\n"
        "| 0 (production) | " +
        points(production.drifted) + " / " + points(production.original) + " | | " +
        points(production.drifted) + " / " + points(production.original) + " | |\n";
    for (int budget : budgets) {
      auto cells = [&](int arm) {
        const auto found = retrains[arm].find(budget);
        if (found == retrains[arm].end()) return std::string("— | —");
        const Retrain& r = found->second;
        return points(r.challenger_drifted) + " / " + points(r.challenger_original) + " | " +
               (r.refused.empty() ? std::string("promoted") : "refused: " + r.refused);
      };
      tables += "| " + std::to_string(budget) + " | " + cells(0) + " | " + cells(1) + " |\n";
    }
  }
  const std::string text =
      "Measured with `make bench` (`build/bench/loop_bench`): world seed " + std::to_string(options.seed) +
      ", " + std::to_string(options.devices) + " devices per arm and " +
      std::to_string(options.holdout_devices) + " holdout devices, " + std::to_string(options.days) +
      " simulated days with the drift from day " + std::to_string(kDriftDay) +
      ", a frame every 10 minutes, " + std::to_string(options.budget_per_day) +
      " samples per device and day for both arms; retrains of " + std::to_string(tools.epochs) +
      " epochs at learning rate " + bench::fmt("%g", tools.lr) + " with " + bench::fmt("%g", replay_ratio) +
      " replayed original image per label; every model int8, mAP@0.5 on the edge engine.\n\n" + summary +
      tables;
  std::printf("%s", text.c_str());
  if (!markdown.empty())
    check(bench::replace_section(markdown, "loop-bench", text), "writing " + markdown.string());
  return 0;
}
