// canopy-train: training, evaluation and export of the field detector.
// Thin: parses arguments and calls src/train.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>

#include "cli_support.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/log.h"
#include "train/evaluate.h"
#include "train/onnx_export.h"
#include "train/prune.h"
#include "train/qat.h"
#include "train/quantize.h"
#include "train/trainer.h"
#include "vision/dataset_formats.h"
#include "vision/dataset_split.h"
#include "vision/image.h"

namespace {

namespace fs = std::filesystem;
using namespace canopy;

struct DataArgs {
  fs::path path;
  std::string format = "auto";
  bool strict = false;
};

void add_data_options(CLI::App* command, DataArgs& data, const std::string& what) {
  command->add_option("--data", data.path, what)->required();
  command->add_option("--format", data.format, "dataset layout: auto, yolo, coco or voc");
  command->add_flag("--strict", data.strict, "fail on the first malformed label instead of skipping it");
}

// Reads a dataset and says what was wrong with it, if anything.
Result<vision::Dataset> load_dataset(const fs::path& path, const std::string& format_name, bool strict) {
  CANOPY_ASSIGN_OR_RETURN(vision::DatasetFormat format, vision::resolve_format(path, format_name));
  vision::ReadOptions options;
  options.strict = strict;
  CANOPY_ASSIGN_OR_RETURN(vision::LoadedDataset loaded, vision::read_dataset(path, format, options));
  constexpr size_t kShown = 10;
  for (size_t i = 0; i < loaded.problems.size() && i < kShown; ++i) {
    std::fprintf(stderr, "warning: %s (skipped)\n", vision::to_string(loaded.problems[i]).c_str());
  }
  if (loaded.problems.size() > kShown) {
    std::fprintf(stderr, "warning: and %zu more problems\n", loaded.problems.size() - kShown);
  }
  if (!loaded.problems.empty()) {
    std::fprintf(stderr, "warning: skipped %zu objects and %zu images of %s (--strict fails instead)\n",
                 loaded.skipped_objects, loaded.skipped_images, path.string().c_str());
  }
  return std::move(loaded.dataset);
}

void print_metrics(const vision::EvaluationResult& result, const std::vector<std::string>& labels) {
  const auto fmt = [](const std::optional<double>& v) {
    char text[16];
    std::snprintf(text, sizeof text, "%.3f", v.value_or(0));
    return v ? std::string(text) : std::string("-");
  };
  std::printf("%-16s %8s %8s %8s %10s %9s %7s\n", "class", "objects", "AP50", "AP50-95", "precision",
              "recall", "F1");
  for (size_t c = 0; c < result.classes.size(); ++c) {
    const vision::ClassMetrics& m = result.classes[c];
    std::printf("%-16s %8lld %8s %8s %10s %9s %7s\n", labels[c].c_str(),
                static_cast<long long>(m.ground_truths), fmt(m.ap50).c_str(), fmt(m.ap50_95).c_str(),
                fmt(m.operating.precision()).c_str(), fmt(m.operating.recall()).c_str(),
                fmt(m.operating.f1()).c_str());
  }
  std::printf("%-16s %8s %8s %8s %10s %9s %7s\n", "all", "", fmt(result.map50).c_str(),
              fmt(result.map50_95).c_str(), fmt(result.operating.precision()).c_str(),
              fmt(result.operating.recall()).c_str(), fmt(result.operating.f1()).c_str());
}

Status write_metrics(const vision::EvaluationResult& result, const std::vector<std::string>& labels,
                     const fs::path& out) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return Error{ErrorCode::kIo, "cannot create " + out.string() + ": " + ec.message()};
  CANOPY_TRY(write_file_atomic(out / "metrics.json", vision::to_json(result, labels).dump(2) + "\n"));
  return vision::write_pr_curve_png(result, labels, out / "pr_curve.png");
}

struct PackageArgs {
  fs::path out;
  std::string name = "crop-disease-detector";
  std::string description = "Crop disease and water stress detector";
  int golden = 2;
};

Status write_package(train::FieldDetectorImpl& model, const std::vector<std::string>& labels,
                     const Json& metrics, const Json& lineage, const vision::Dataset* golden_from,
                     const PackageArgs& args) {
  train::PackageExport options;
  options.directory = args.out;
  options.name = args.name;
  options.description = args.description;
  options.labels = labels;
  options.metrics = metrics;
  options.lineage = lineage;
  if (golden_from)
    options.golden_images =
        train::golden_images_from(*golden_from, train::config_of(model).input_size, args.golden);
  CANOPY_TRY(train::export_package(model, options));
  std::printf("package directory %s (model.onnx, canopy.json, %zu golden samples)\n",
              args.out.string().c_str(), options.golden_images.size());
  return {};
}

// The dataset's identity for lineage: every image path and box, hashed.
std::string dataset_digest(const vision::Dataset& dataset) {
  std::string text;
  for (const vision::Sample& sample : dataset.samples) {
    text += sample.image.generic_string() + "\n";
    for (const vision::Annotation& a : sample.objects) {
      text += std::to_string(a.label) + " " + std::to_string(a.box.x1) + " " + std::to_string(a.box.y1) +
              " " + std::to_string(a.box.x2) + " " + std::to_string(a.box.y2) + "\n";
    }
  }
  return sha256_hex(text);
}

int run(const std::function<Status()>& body) {
  Status status = body();
  if (status.ok()) return 0;
  std::fprintf(stderr, "error: %s\n", status.error().message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "canopy-train: train, evaluate, export and compress (quantize, prune) the field detector (libtorch, "
      "CPU).",
      "canopy-train"};
  app.require_subcommand(1);
  app.fallthrough();
  canopy::cli_support::set_up(app, "canopy-train " CANOPY_VERSION);
  bool verbose = false, quiet = false, json = false;
  app.add_flag("-v,--verbose", verbose, "log info and debug lines to stderr");
  app.add_flag("-q,--quiet", quiet, "log errors only, no progress");
  app.add_flag("--json", json, "print results as JSON");
  int exit_code = 0;

  // train
  auto* train_cmd = app.add_subcommand("train", "train a detector; resumes from OUT/last.pt if it exists");
  DataArgs data;
  fs::path val_path, out;
  train::TrainOptions options;
  double val_fraction = 0.15;
  bool no_augment = false;
  PackageArgs package;
  add_data_options(train_cmd, data, "training dataset (YOLO, COCO or VOC)");
  train_cmd->add_option("--val", val_path, "validation dataset (default: a hash-stable share of --data)");
  train_cmd
      ->add_option("--val-fraction", val_fraction, "share of --data held out for validation without --val")
      ->check(CLI::Range(0.01, 0.9));
  train_cmd->add_option("--out", out, "run directory: checkpoints, metrics, package")->required();
  train_cmd->add_option("--epochs", options.epochs, "epochs")
      ->check(canopy::cli_support::integer_at_least(1));
  train_cmd->add_option("--batch", options.batch, "images per step")
      ->check(canopy::cli_support::integer_at_least(1));
  train_cmd->add_option("--lr", options.lr, "peak learning rate")
      ->check(canopy::cli_support::number_above_zero());
  train_cmd->add_option("--optimizer", options.optimizer, "adamw or sgd")
      ->check(CLI::IsMember({"adamw", "sgd"}));
  train_cmd->add_option("--weight-decay", options.weight_decay, "AdamW weight decay");
  train_cmd->add_option("--warmup-epochs", options.warmup_epochs, "linear warm-up length");
  train_cmd->add_option("--img", options.model.input_size, "input size (square, multiple of 32)");
  train_cmd->add_option("--width", options.model.width, "channel multiplier")->check(CLI::Range(0.1, 4.0));
  train_cmd->add_option("--depth", options.model.depth, "block count multiplier")
      ->check(CLI::Range(0.1, 4.0));
  train_cmd->add_option("--init-from", options.init_from,
                        "fine-tune from a .pt checkpoint, an .onnx or a package directory");
  train_cmd->add_option("--seed", options.seed, "seed for weights, data order and augmentation");
  train_cmd->add_option("--threads", options.threads, "compute threads (0: all)");
  train_cmd->add_option("--mosaic", options.augment.mosaic, "mosaic probability")
      ->check(CLI::Range(0.0, 1.0));
  train_cmd->add_flag("--no-augment", no_augment, "train on plain letterboxed images");
  train_cmd->add_flag("--restart", options.restart, "start over even if OUT/last.pt exists");
  train_cmd->add_option("--name", package.name, "model name in the package");
  train_cmd->add_option("--golden", package.golden, "golden samples in the package")
      ->check(CLI::Range(0, 100));
  train_cmd->callback([&] {
    exit_code = run([&]() -> Status {
      CANOPY_ASSIGN_OR_RETURN(vision::Dataset all, load_dataset(data.path, data.format, data.strict));
      vision::Dataset train_set, val_set;
      if (!val_path.empty()) {
        train_set = std::move(all);
        CANOPY_ASSIGN_OR_RETURN(val_set, load_dataset(val_path, data.format, data.strict));
      } else {
        CANOPY_ASSIGN_OR_RETURN(vision::DatasetSplits splits, vision::split_dataset(all, val_fraction));
        train_set = std::move(splits.train);
        val_set = std::move(splits.val);
      }
      if (no_augment) options.augment = vision::AugmentOptions::none();
      options.out = out;
      options.show_progress = !quiet;
      std::fprintf(stderr, "training on %zu images, validating on %zu (%zu classes)\n",
                   train_set.samples.size(), val_set.samples.size(), train_set.labels.size());
      CANOPY_ASSIGN_OR_RETURN(train::TrainResult result, train::train_detector(train_set, val_set, options));
      CANOPY_ASSIGN_OR_RETURN(train::LoadedModel best, train::load_model(out / "best.pt"));
      Json lineage{{"dataset", fs::absolute(data.path).string()},
                   {"dataset_digest", dataset_digest(train_set)},
                   {"epochs", options.epochs},
                   {"best_epoch", result.best_epoch},
                   {"seed", options.seed},
                   {"parent_model", options.init_from.empty() ? Json() : Json(options.init_from.string())}};
      if (const char* run_id = std::getenv("CANOPY_RUN_ID")) lineage["pipeline_run"] = run_id;
      // The manifest keeps the summary; the PR curves stay in OUT/metrics.json.
      Json metrics = vision::to_json(result.best_metrics, train_set.labels);
      for (auto& [label, per_class] : metrics["per_class"].items()) per_class.erase("pr_curve50");
      metrics["parameters"] = train::parameter_count(*best.model);
      metrics["gflops"] = train::gflops(*best.model);
      package.out = out / "package";
      std::error_code ec;
      fs::remove_all(package.out, ec);  // a re-run replaces the package of the previous one
      CANOPY_TRY(write_package(*best.model, best.labels, metrics, lineage, &val_set, package));
      print_metrics(result.best_metrics, train_set.labels);
      if (json) std::printf("%s\n", metrics.dump(2).c_str());
      return {};
    });
  });

  // eval
  auto* eval_cmd = app.add_subcommand("eval", "evaluate an ONNX detector through the inference engine");
  fs::path model_path, eval_out;
  DataArgs eval_data;
  train::EvalOptions eval_options;
  std::string backend = "auto";
  eval_cmd->add_option("--model", model_path, "package directory or .onnx file")
      ->required()
      ->check(CLI::ExistingPath);
  add_data_options(eval_cmd, eval_data, "labelled dataset (YOLO, COCO or VOC)");
  eval_cmd->add_option("--out", eval_out, "write metrics.json and pr_curve.png here");
  eval_cmd->add_option("--backend", backend, "inference backend: auto, onednn, xnnpack, reference");
  eval_cmd->add_option("--threads", eval_options.engine.threads, "inference threads");
  eval_cmd->add_option("--operating-score", eval_options.operating_score,
                       "score for precision, recall and confusion");
  eval_cmd->callback([&] {
    exit_code = run([&]() -> Status {
      CANOPY_ASSIGN_OR_RETURN(eval_options.engine.backend, infer::parse_backend(backend));
      CANOPY_ASSIGN_OR_RETURN(vision::Dataset dataset,
                              load_dataset(eval_data.path, eval_data.format, eval_data.strict));
      eval_options.show_progress = !quiet;
      CANOPY_ASSIGN_OR_RETURN(vision::EvaluationResult result,
                              train::evaluate_onnx(model_path, dataset, eval_options));
      if (!eval_out.empty()) CANOPY_TRY(write_metrics(result, dataset.labels, eval_out));
      if (json) {
        std::printf("%s\n", vision::to_json(result, dataset.labels).dump(2).c_str());
      } else {
        print_metrics(result, dataset.labels);
      }
      return {};
    });
  });

  // export
  auto* export_cmd =
      app.add_subcommand("export", "write ONNX (opset 13) and a package directory from a checkpoint");
  fs::path checkpoint, golden_data;
  PackageArgs export_package;
  export_cmd->add_option("--model", checkpoint, "best.pt, last.pt, .onnx or package directory")
      ->required()
      ->check(CLI::ExistingPath);
  export_cmd->add_option("--out", export_package.out, "package directory to create")->required();
  export_cmd->add_option("--name", export_package.name, "model name");
  export_cmd->add_option("--description", export_package.description, "model description");
  export_cmd->add_option("--golden-from", golden_data, "dataset whose first images become golden samples");
  export_cmd->add_option("--golden", export_package.golden, "number of golden samples")
      ->check(CLI::Range(0, 100));
  export_cmd->callback([&] {
    exit_code = run([&]() -> Status {
      CANOPY_ASSIGN_OR_RETURN(train::LoadedModel loaded, train::load_model(checkpoint));
      std::optional<vision::Dataset> golden;
      if (!golden_data.empty()) {
        CANOPY_ASSIGN_OR_RETURN(golden, load_dataset(golden_data, "auto", false));
      }
      Json lineage{{"exported_from", fs::absolute(checkpoint).string()}};
      return write_package(*loaded.model, loaded.labels, loaded.metrics, lineage, golden ? &*golden : nullptr,
                           export_package);
    });
  });

  // quantize
  auto* quantize_cmd =
      app.add_subcommand("quantize", "int8 post-training quantization of a package (QDQ ONNX)");
  fs::path quantize_model_dir, quantize_out, quantize_val;
  DataArgs calib;
  int calib_images = 64;
  double max_drop_points = 1.0;
  std::string quantize_backend = "auto";
  train::QuantizeOptions quantize_options;
  quantize_cmd->add_option("--model", quantize_model_dir, "package directory of the float model")
      ->required()
      ->check(CLI::ExistingDirectory);
  quantize_cmd->add_option("--calib", calib.path, "images to calibrate activation ranges on (a dataset)")
      ->required();
  quantize_cmd->add_option("--images", calib_images, "calibration images used")->check(CLI::Range(1, 100000));
  quantize_cmd->add_option("--val", quantize_val, "labelled dataset to choose the calibrator and measure on")
      ->required();
  quantize_cmd->add_option("--out", quantize_out, "output: OUT/package and OUT/report.json")->required();
  quantize_cmd->add_option("--calibrator", quantize_options.calibrator, "minmax, percentile, entropy or auto")
      ->check(CLI::IsMember({"auto", "minmax", "percentile", "entropy"}));
  quantize_cmd->add_option("--max-drop", max_drop_points,
                           "mAP@0.5 points the int8 model may lose before layers stay float");
  quantize_cmd->add_option("--max-float-layers", quantize_options.max_float_layers,
                           "layers that may stay float");
  quantize_cmd->add_option("--backend", quantize_backend,
                           "engine backend measured on: auto, onednn, xnnpack, reference");
  train::QatOptions qat;
  qat.finetune.epochs = 0;
  qat.finetune.lr = 5e-4;
  qat.finetune.warmup_epochs = 0;
  quantize_cmd
      ->add_option("--qat-epochs", qat.finetune.epochs,
                   "fine-tune quantization-aware on --calib (a labelled dataset) for this many epochs first")
      ->check(canopy::cli_support::integer_at_least(0));
  quantize_cmd->add_option("--qat-lr", qat.finetune.lr, "quantization-aware fine-tuning learning rate")
      ->check(canopy::cli_support::number_above_zero());
  quantize_cmd->add_option("--batch", qat.finetune.batch, "images per quantization-aware fine-tuning step")
      ->check(canopy::cli_support::integer_at_least(1));
  quantize_cmd->callback([&] {
    exit_code = run([&]() -> Status {
      CANOPY_ASSIGN_OR_RETURN(quantize_options.engine.backend, infer::parse_backend(quantize_backend));
      CANOPY_ASSIGN_OR_RETURN(vision::Dataset calibration_set,
                              load_dataset(calib.path, calib.format, calib.strict));
      CANOPY_ASSIGN_OR_RETURN(vision::Dataset validation, load_dataset(quantize_val, "auto", false));
      std::vector<cv::Mat> images;
      for (const vision::Sample& sample : calibration_set.samples) {
        if (static_cast<int>(images.size()) >= calib_images) break;
        CANOPY_ASSIGN_OR_RETURN(cv::Mat image, vision::read_image(calibration_set.root / sample.image));
        images.push_back(std::move(image));
      }
      quantize_options.max_map_drop = max_drop_points / 100.0;
      quantize_options.show_progress = !quiet;
      Json report;
      if (qat.finetune.epochs > 0) {
        qat.quantize = quantize_options;
        qat.finetune.show_progress = !quiet;
        CANOPY_ASSIGN_OR_RETURN(
            report, train::quantize_aware_package(quantize_model_dir, images, calibration_set, validation,
                                                  qat, quantize_out));
      } else {
        CANOPY_ASSIGN_OR_RETURN(report, train::quantize_package(quantize_model_dir, images, validation,
                                                                quantize_options, quantize_out));
      }
      if (json) std::printf("%s\n", report.dump(2).c_str());
      std::fprintf(stderr, "int8 package %s, report %s\n", (quantize_out / "package").string().c_str(),
                   (quantize_out / "report.json").string().c_str());
      return {};
    });
  });

  // prune
  auto* prune_cmd = app.add_subcommand("prune", "structured channel pruning with fine-tuning");
  fs::path prune_model, prune_out, prune_val;
  DataArgs prune_data;
  std::string criterion = "l1";
  train::PruneOptions prune_options;
  prune_options.finetune.epochs = 3;
  prune_options.finetune.lr = 1e-3;
  prune_options.finetune.warmup_epochs = 0;
  prune_cmd->add_option("--model", prune_model, "package directory or .pt checkpoint")
      ->required()
      ->check(CLI::ExistingPath);
  add_data_options(prune_cmd, prune_data, "training dataset for fine-tuning");
  prune_cmd->add_option("--val", prune_val, "validation dataset")->required();
  prune_cmd->add_option("--out", prune_out, "output: OUT/package, OUT/report.json, OUT/step*/")->required();
  prune_cmd->add_option("--ratio", prune_options.ratio, "share of channels removed from every group")
      ->check(CLI::Range(0.05, 0.95));
  prune_cmd->add_option("--criterion", criterion, "channel importance: l1, l2 or bn")
      ->check(CLI::IsMember({"l1", "l2", "bn"}));
  prune_cmd->add_option("--steps", prune_options.steps, "prune a bit, fine-tune, repeat")
      ->check(CLI::Range(1, 10));
  prune_cmd->add_option("--epochs", prune_options.finetune.epochs, "fine-tuning epochs per step")
      ->check(canopy::cli_support::integer_at_least(0));
  prune_cmd->add_option("--batch", prune_options.finetune.batch, "images per fine-tuning step")
      ->check(canopy::cli_support::integer_at_least(1));
  prune_cmd->add_option("--lr", prune_options.finetune.lr, "fine-tuning peak learning rate")
      ->check(canopy::cli_support::number_above_zero());
  prune_cmd->add_option("--seed", prune_options.finetune.seed, "seed for data order and augmentation");
  prune_cmd->add_option("--threads", prune_options.finetune.threads, "compute threads (0: all)");
  prune_cmd->add_flag(
      "--uniform", [&](std::int64_t) { prune_options.by_sensitivity = false; },
      "remove --ratio from every group instead of sharing it out by sensitivity");
  prune_cmd->add_flag(
      "--no-sensitivity",
      [&](std::int64_t) { prune_options.measure_sensitivity = prune_options.by_sensitivity = false; },
      "uniform, and skip measuring each group's sensitivity");
  prune_cmd->callback([&] {
    exit_code = run([&]() -> Status {
      CANOPY_ASSIGN_OR_RETURN(prune_options.criterion, train::parse_prune_criterion(criterion));
      CANOPY_ASSIGN_OR_RETURN(vision::Dataset train_set,
                              load_dataset(prune_data.path, prune_data.format, prune_data.strict));
      CANOPY_ASSIGN_OR_RETURN(vision::Dataset val_set, load_dataset(prune_val, "auto", false));
      prune_options.finetune.show_progress = !quiet;
      prune_options.finetune.restart = true;
      CANOPY_ASSIGN_OR_RETURN(
          Json report, train::prune_package(prune_model, train_set, val_set, prune_options, prune_out));
      if (json) std::printf("%s\n", report.dump(2).c_str());
      std::fprintf(stderr, "pruned package %s, report %s\n", (prune_out / "package").string().c_str(),
                   (prune_out / "report.json").string().c_str());
      return {};
    });
  });

  app.parse_complete_callback([&] { init_logging({verbose, quiet}); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return canopy::cli_support::exit_for(app, e);
  }
  return exit_code;
}
