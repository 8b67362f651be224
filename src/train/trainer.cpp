#include "train/trainer.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <opencv2/core/utility.hpp>
#include <sstream>
#include <thread>

#include "common/files.h"
#include "common/progress.h"
#include "package/manifest.h"
#include "train/data_loader.h"
#include "train/loss.h"
#include "train/model.h"
#include "train/onnx_export.h"

namespace canopy::train {
namespace {

namespace fs = std::filesystem;

constexpr double kFinalLearningRateFraction = 0.05;
constexpr double kEmaMaxDecay = 0.9995;
constexpr double kGradientClipNorm = 10.0;
// Batches of training images a package's BatchNorm statistics are measured on (unfold_batch_norm).
constexpr int kBatchNormMeasuringBatches = 8;
constexpr float kValidationScoreThreshold = 0.001f;
constexpr float kValidationNmsIou = 0.6f;

// Weights averaged over recent steps: smoother and usually better than the
// last step's. The decay ramps up ((1 + n) / (10 + n)) so that short runs,
// which are most of ours, are not dominated by the random start.
class WeightAverage {
 public:
  explicit WeightAverage(const DetectorConfig& config) : model(config) { model->eval(); }

  void copy_from(FieldDetectorImpl& source) {
    torch::NoGradGuard no_grad;
    for (auto [target, value] : pairs(source)) target.copy_(value);
  }

  void update(FieldDetectorImpl& source) {
    torch::NoGradGuard no_grad;
    ++updates;
    const double decay = std::min(kEmaMaxDecay, (1.0 + double(updates)) / (10.0 + double(updates)));
    for (auto [target, value] : pairs(source)) {
      if (target.is_floating_point()) {
        target.mul_(decay).add_(value.detach(), 1 - decay);
      } else {
        target.copy_(value);
      }
    }
  }

  FieldDetector model;
  std::int64_t updates = 0;

 private:
  std::vector<std::pair<torch::Tensor, torch::Tensor>> pairs(FieldDetectorImpl& source) {
    std::vector<std::pair<torch::Tensor, torch::Tensor>> out;
    const auto targets = model->parameters(), values = source.parameters();
    for (size_t i = 0; i < targets.size(); ++i) out.emplace_back(targets[i], values[i]);
    const auto target_buffers = model->buffers(), value_buffers = source.buffers();
    for (size_t i = 0; i < target_buffers.size(); ++i) out.emplace_back(target_buffers[i], value_buffers[i]);
    return out;
  }
};

std::unique_ptr<torch::optim::Optimizer> make_optimizer(FieldDetectorImpl& model,
                                                        const TrainOptions& options) {
  // Weight decay on convolution kernels only: decaying BatchNorm scales and
  // biases only fights the normalisation.
  std::vector<torch::Tensor> kernels, others;
  for (const torch::Tensor& p : model.parameters()) (p.dim() > 1 ? kernels : others).push_back(p);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (options.optimizer == "sgd") {
    groups.emplace_back(
        kernels, std::make_unique<torch::optim::SGDOptions>(
                     torch::optim::SGDOptions(options.lr).momentum(0.937).nesterov(true).weight_decay(5e-4)));
    groups.emplace_back(others, std::make_unique<torch::optim::SGDOptions>(
                                    torch::optim::SGDOptions(options.lr).momentum(0.937).nesterov(true)));
    return std::make_unique<torch::optim::SGD>(groups, torch::optim::SGDOptions(options.lr));
  }
  groups.emplace_back(kernels,
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(options.lr).weight_decay(options.weight_decay)));
  groups.emplace_back(others, std::make_unique<torch::optim::AdamWOptions>(
                                  torch::optim::AdamWOptions(options.lr).weight_decay(0)));
  return std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(options.lr));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

// Linear warm-up to the peak, then a cosine down to 5% of it.
double learning_rate_at(std::int64_t step, std::int64_t warmup, std::int64_t total, double peak) {
  if (step < warmup) return peak * double(step + 1) / double(warmup);
  const double t = total > warmup ? double(step - warmup) / double(total - warmup) : 1.0;
  const double floor = peak * kFinalLearningRateFraction;
  return floor + (peak - floor) * 0.5 * (1 + std::cos(M_PI * std::min(1.0, t)));
}

std::string serialize_archive(torch::serialize::OutputArchive& archive) {
  std::ostringstream stream;
  archive.save_to(stream);
  return stream.str();
}

Status load_archive(torch::serialize::InputArchive& archive, const fs::path& path) {
  try {
    archive.load_from(path.string());
  } catch (const std::exception& e) {
    return Error{ErrorCode::kCorrupt, "cannot read checkpoint " + path.string() + ": " + e.what()};
  }
  return {};
}

std::string read_string(torch::serialize::InputArchive& archive, const std::string& key) {
  c10::IValue value;
  return archive.try_read(key, value) ? value.toStringRef() : std::string();
}

// The run's checkpoint: everything needed to continue exactly.
struct Checkpoint {
  int next_epoch = 0;
  double best_map50_95 = -1;
  int best_epoch = 0;
  std::vector<EpochRecord> history;
};

Json config_json(const DetectorConfig& config, const std::vector<std::string>& labels) {
  return Json{{"model", config.to_json()}, {"labels", labels}};
}

Status save_checkpoint(const fs::path& path, FieldDetectorImpl& model, WeightAverage& average,
                       torch::optim::Optimizer& optimizer, const Checkpoint& state,
                       const std::vector<std::string>& labels) {
  torch::serialize::OutputArchive archive, model_archive, average_archive, optimizer_archive;
  model.save(model_archive);
  average.model->save(average_archive);
  optimizer.save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("ema", average_archive);
  archive.write("optimizer", optimizer_archive);
  Json history = Json::array();
  for (const EpochRecord& record : state.history) history.push_back(record.to_json());
  const Json meta{{"config", config_json(model.config, labels)},
                  {"next_epoch", state.next_epoch},
                  {"best_map50_95", state.best_map50_95},
                  {"best_epoch", state.best_epoch},
                  {"ema_updates", average.updates},
                  {"history", history}};
  archive.write("meta", c10::IValue(meta.dump()));
  return write_file_atomic(path, serialize_archive(archive));
}

Result<Checkpoint> load_checkpoint(const fs::path& path, FieldDetectorImpl& model, WeightAverage& average,
                                   torch::optim::Optimizer& optimizer,
                                   const std::vector<std::string>& labels) {
  torch::serialize::InputArchive archive, model_archive, average_archive, optimizer_archive;
  CANOPY_TRY(load_archive(archive, path));
  Json meta;
  try {
    meta = Json::parse(read_string(archive, "meta"));
  } catch (const std::exception&) {
    return Error{ErrorCode::kCorrupt, path.string() + " is not a training checkpoint"};
  }
  if (meta.at("config") != config_json(model.config, labels)) {
    return Error{ErrorCode::kConflict, path.string() + " belongs to a run with another model or label set (" +
                                           meta.at("config").dump() + "); use another --out, or --restart"};
  }
  try {
    archive.read("model", model_archive);
    archive.read("ema", average_archive);
    archive.read("optimizer", optimizer_archive);
    model.load(model_archive);
    average.model->load(average_archive);
    optimizer.load(optimizer_archive);
  } catch (const std::exception& e) {
    return Error{ErrorCode::kCorrupt, "cannot restore " + path.string() + ": " + e.what()};
  }
  Checkpoint state;
  state.next_epoch = meta.at("next_epoch");
  state.best_map50_95 = meta.at("best_map50_95");
  state.best_epoch = meta.at("best_epoch");
  average.updates = meta.at("ema_updates");
  for (const Json& record : meta.at("history")) {
    EpochRecord r;
    r.epoch = record.at("epoch");
    r.loss = record.at("loss");
    r.classification_loss = record.at("classification_loss");
    r.box_loss = record.at("box_loss");
    r.learning_rate = record.at("learning_rate");
    r.images_per_second = record.at("images_per_second");
    r.seconds = record.at("seconds");
    if (!record.at("map50").is_null()) r.map50 = record.at("map50").get<double>();
    if (!record.at("map50_95").is_null()) r.map50_95 = record.at("map50_95").get<double>();
    state.history.push_back(r);
  }
  return state;
}

std::vector<vision::Detection> to_detections(const torch::Tensor& rows) {
  // rows: [N, 4 + C] for one image.
  const torch::Tensor scores = rows.narrow(1, 4, rows.size(1) - 4);
  auto [best, label] = scores.max(1);
  const torch::Tensor keep = (best >= kValidationScoreThreshold).nonzero().squeeze(1);
  const torch::Tensor kept = rows.index({keep}).contiguous(), kept_score = best.index({keep}).contiguous(),
                      kept_label = label.index({keep}).contiguous();
  std::vector<vision::Detection> out;
  out.reserve(size_t(kept.size(0)));
  const float* r = kept.data_ptr<float>();
  const auto width = kept.size(1);
  for (std::int64_t i = 0; i < kept.size(0); ++i, r += width) {
    const float cx = r[0], cy = r[1], w = r[2], h = r[3];
    out.push_back({{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2},
                   int(kept_label[i].item<std::int64_t>()),
                   kept_score[i].item<float>()});
  }
  return out;
}

std::string format_optional(const std::optional<double>& value) {
  char text[16];
  std::snprintf(text, sizeof text, "%.3f", value.value_or(0));
  return value ? text : "-";
}

}  // namespace

Json EpochRecord::to_json() const {
  return Json{{"epoch", epoch},
              {"loss", loss},
              {"classification_loss", classification_loss},
              {"box_loss", box_loss},
              {"learning_rate", learning_rate},
              {"images_per_second", images_per_second},
              {"seconds", seconds},
              {"map50", map50 ? Json(*map50) : Json()},
              {"map50_95", map50_95 ? Json(*map50_95) : Json()}};
}

vision::EvaluationResult evaluate_model(FieldDetectorImpl& model, const vision::Dataset& dataset, int batch,
                                        bool show_progress) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  LoaderOptions options;
  options.input_size = model.config.input_size;
  options.batch_size = batch;
  options.shuffle = false;
  DataLoader loader(dataset, options);
  vision::DetectionEvaluator evaluator(size_t(model.config.classes));
  ProgressReporter progress("validate", std::uint64_t(dataset.samples.size()), false);
  if (!show_progress) progress.silence();
  loader.start_epoch(0);
  std::uint64_t done = 0;
  while (auto next = loader.next()) {
    const torch::Tensor rows = decode(model.forward(next->images), model.config);
    for (std::int64_t i = 0; i < rows.size(0); ++i) {
      std::vector<vision::Detection> found =
          vision::non_max_suppression(to_detections(rows[i]), kValidationNmsIou, 300);
      const Targets& targets = next->targets[size_t(i)];
      std::vector<vision::GroundTruth> truth;
      const torch::Tensor boxes = targets.boxes.contiguous();
      for (std::int64_t k = 0; k < boxes.size(0); ++k) {
        const float* b = boxes[k].data_ptr<float>();
        truth.push_back({{b[0], b[1], b[2], b[3]}, int(targets.labels[k].item<std::int64_t>()), false});
      }
      // Labels come from the dataset reader, which checked their range.
      (void)evaluator.add_image(truth, found);
    }
    done += std::uint64_t(rows.size(0));
    progress.update(done);
  }
  progress.finish();
  model.train(was_training);
  return evaluator.evaluate();
}

Result<TrainResult> train_detector(const vision::Dataset& train_set, const vision::Dataset& val_set,
                                   const TrainOptions& options) {
  if (train_set.samples.empty()) return Error{ErrorCode::kInvalidArgument, "the training set has no images"};
  if (val_set.samples.empty()) return Error{ErrorCode::kInvalidArgument, "the validation set has no images"};
  if (train_set.labels != val_set.labels) {
    return Error{ErrorCode::kInvalidArgument, "the training and validation sets have different labels"};
  }
  if (options.model.input_size % 32 != 0 || options.model.input_size < 64) {
    return Error{ErrorCode::kInvalidArgument, "--img must be a multiple of 32, at least 64"};
  }
  if (options.epochs < 1 || options.batch < 1) {
    return Error{ErrorCode::kInvalidArgument, "--epochs and --batch must be at least 1"};
  }
  if (options.optimizer != "adamw" && options.optimizer != "sgd") {
    return Error{ErrorCode::kInvalidArgument, "--optimizer must be adamw or sgd"};
  }
  const std::vector<std::string>& labels = train_set.labels;
  torch::set_num_threads(options.threads > 0 ? options.threads
                                             : int(std::max(1u, std::thread::hardware_concurrency())));
  // The loader thread's OpenCV calls run sequentially: OpenCV's own thread
  // pool would fight libtorch's spinning OpenMP workers for the same cores.
  cv::setNumThreads(0);
  torch::manual_seed(options.seed);

  DetectorConfig config = options.model;
  config.classes = int(labels.size());
  FieldDetector model(config);
  if (!options.init_from.empty()) {
    CANOPY_ASSIGN_OR_RETURN(LoadedModel parent, load_model(options.init_from));
    if (parent.labels != labels) {
      return Error{ErrorCode::kInvalidArgument,
                   "--init-from model has labels that differ from the dataset's"};
    }
    config = parent.model->config;
    model = parent.model;
    spdlog::info("fine-tuning from {}", options.init_from.string());
    // A package's BatchNorm was folded away: measure its statistics on the
    // training images, as they are, before anything is learned. The loader
    // starts on the first batch asked for: a .pt checkpoint asks for none.
    LoaderOptions measuring;
    measuring.input_size = config.input_size;
    measuring.batch_size = options.batch;
    measuring.seed = options.seed;
    std::optional<DataLoader> loader;
    int measured = 0;
    unfold_batch_norm(*model, [&]() -> std::optional<torch::Tensor> {
      if (measured++ >= kBatchNormMeasuringBatches) return std::nullopt;
      if (!loader) loader.emplace(train_set, measuring).start_epoch(0);
      auto batch = loader->next();
      return batch ? std::optional<torch::Tensor>(batch->images) : std::nullopt;
    });
  }
  if (options.prepare_model) options.prepare_model(*model);
  model->train();
  WeightAverage average(config);
  average.copy_from(*model);
  std::unique_ptr<torch::optim::Optimizer> optimizer = make_optimizer(*model, options);

  std::error_code ec;
  fs::create_directories(options.out, ec);
  if (ec) return Error{ErrorCode::kIo, "cannot create " + options.out.string() + ": " + ec.message()};
  const fs::path last = options.out / "last.pt";
  Checkpoint state;
  if (!options.restart && fs::exists(last)) {
    CANOPY_ASSIGN_OR_RETURN(state, load_checkpoint(last, *model, average, *optimizer, labels));
    if (state.next_epoch < options.epochs && options.show_progress) {
      std::fprintf(stderr, "resuming %s at epoch %d\n", last.string().c_str(), state.next_epoch + 1);
    }
  }

  LoaderOptions loader_options;
  loader_options.input_size = config.input_size;
  loader_options.batch_size = options.batch;
  loader_options.seed = options.seed;
  loader_options.drop_last = true;
  loader_options.augment = options.augment;
  DataLoader loader(train_set, loader_options);
  const std::int64_t steps_per_epoch = loader.batches_per_epoch();
  const std::int64_t total_steps = steps_per_epoch * options.epochs;
  const std::int64_t warmup = std::min<std::int64_t>(
      std::max<std::int64_t>(std::int64_t(options.warmup_epochs * double(steps_per_epoch)), 1),
      total_steps / 3 + 1);

  TrainResult result;
  for (int epoch = state.next_epoch; epoch < options.epochs; ++epoch) {
    const auto started = std::chrono::steady_clock::now();
    ProgressReporter progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(options.epochs),
                              std::uint64_t(steps_per_epoch * options.batch), false);
    if (!options.show_progress) progress.silence();
    EpochRecord record;
    record.epoch = epoch + 1;
    double loss_sum = 0, cls_sum = 0, box_sum = 0;
    std::int64_t step = std::int64_t(epoch) * steps_per_epoch, seen = 0, batches = 0;
    loader.start_epoch(epoch);
    while (auto batch = loader.next()) {
      const double lr = learning_rate_at(step, warmup, total_steps, options.lr);
      set_learning_rate(*optimizer, lr);
      const LossParts loss = detection_loss(model->forward(batch->images), batch->targets, config);
      optimizer->zero_grad();
      loss.total.backward();
      torch::nn::utils::clip_grad_norm_(model->parameters(), kGradientClipNorm);
      optimizer->step();
      average.update(*model);
      ++step;
      ++batches;
      seen += batch->images.size(0);
      loss_sum += loss.total.item<double>();
      cls_sum += loss.classification.item<double>();
      box_sum += loss.box.item<double>();
      record.learning_rate = lr;
      char detail[96];
      std::snprintf(detail, sizeof detail, "loss %.3f (cls %.3f box %.3f)", loss_sum / double(batches),
                    cls_sum / double(batches), box_sum / double(batches));
      progress.set_detail(detail);
      progress.update(std::uint64_t(seen));
    }
    progress.finish();
    if (!std::isfinite(loss_sum)) {
      return Error{ErrorCode::kInternal,
                   "the loss diverged (not finite) in epoch " + std::to_string(epoch + 1) + "; lower --lr"};
    }
    const double train_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    record.loss = loss_sum / double(std::max<std::int64_t>(batches, 1));
    record.classification_loss = cls_sum / double(std::max<std::int64_t>(batches, 1));
    record.box_loss = box_sum / double(std::max<std::int64_t>(batches, 1));
    record.images_per_second = double(seen) / train_seconds;

    vision::EvaluationResult metrics =
        evaluate_model(*average.model, val_set, options.batch, options.show_progress);
    record.map50 = metrics.map50;
    record.map50_95 = metrics.map50_95;
    record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    state.history.push_back(record);
    const double score = metrics.map50_95.value_or(0);
    const bool improved = score > state.best_map50_95;
    if (improved) {
      state.best_map50_95 = score;
      state.best_epoch = epoch + 1;
      Json metrics_json = vision::to_json(metrics, labels);
      metrics_json["epoch"] = epoch + 1;
      CANOPY_TRY(save_model(*average.model, labels, metrics_json, options.out / "best.pt"));
      CANOPY_TRY(write_file_atomic(options.out / "metrics.json", metrics_json.dump(2) + "\n"));
      CANOPY_TRY(vision::write_pr_curve_png(metrics, labels, options.out / "pr_curve.png"));
      result.best_metrics = metrics;
    }
    state.next_epoch = epoch + 1;
    // The checkpoint goes last: a kill before it repeats this epoch, which
    // (deterministic) rewrites the same best.pt.
    CANOPY_TRY(save_checkpoint(last, *model, average, *optimizer, state, labels));
    std::string history;
    for (const EpochRecord& r : state.history) history += r.to_json().dump() + "\n";
    CANOPY_TRY(write_file_atomic(options.out / "history.jsonl", history));
    if (options.show_progress) {
      std::fprintf(stderr, "epoch %d/%d  loss %.3f  %.1f img/s  val mAP@0.5 %s  mAP@0.5:0.95 %s%s\n",
                   epoch + 1, options.epochs, record.loss, record.images_per_second,
                   format_optional(metrics.map50).c_str(), format_optional(metrics.map50_95).c_str(),
                   improved ? "  (best)" : "");
    }
  }
  result.history = state.history;
  result.best_epoch = state.best_epoch;
  result.best_map50_95 = state.best_map50_95;
  if (result.best_metrics.images == 0 && fs::exists(options.out / "best.pt")) {
    // Resumed after the last epoch: the best epoch's metrics are on disk.
    CANOPY_ASSIGN_OR_RETURN(LoadedModel best, load_model(options.out / "best.pt"));
    result.best_metrics = evaluate_model(*best.model, val_set, options.batch, false);
  }
  return result;
}

Status save_model(FieldDetectorImpl& model, const std::vector<std::string>& labels, const Json& metrics,
                  const fs::path& path) {
  torch::serialize::OutputArchive archive, model_archive;
  model.save(model_archive);
  archive.write("model", model_archive);
  archive.write(
      "meta", c10::IValue(Json{{"config", config_json(model.config, labels)}, {"metrics", metrics}}.dump()));
  return write_file_atomic(path, serialize_archive(archive));
}

Result<LoadedModel> load_model(const fs::path& path) {
  LoadedModel loaded;
  if (fs::is_directory(path)) {
    CANOPY_ASSIGN_OR_RETURN(std::string bytes, read_file(path / package::kManifestName));
    CANOPY_ASSIGN_OR_RETURN(package::Manifest manifest, package::parse_manifest(bytes));
    return load_model(path / manifest.model_file().path);
  }
  if (path.extension() == ".onnx") {
    CANOPY_ASSIGN_OR_RETURN(OnnxMetadata metadata, read_onnx_metadata(path));
    loaded.model = std::make_shared<FieldDetectorImpl>(metadata.config);
    loaded.labels = metadata.labels;
    CANOPY_TRY(load_onnx_weights(*loaded.model, path));
    for (const auto& module : loaded.model->modules(false))
      if (auto* unit = module->as<ConvBnActImpl>()) unit->frozen_statistics = true;
    loaded.model->eval();
    return loaded;
  }
  torch::serialize::InputArchive archive, model_archive;
  CANOPY_TRY(load_archive(archive, path));
  Json meta;
  try {
    meta = Json::parse(read_string(archive, "meta"));
    const Json& config = meta.at("config");
    loaded.model = std::make_shared<FieldDetectorImpl>(DetectorConfig::from_json(config.at("model")));
    loaded.labels = config.at("labels").get<std::vector<std::string>>();
    loaded.metrics = meta.value("metrics", Json::object());
    // last.pt holds the EMA under "ema"; best.pt holds it as "model".
    const std::vector<std::string> keys = archive.keys();
    archive.read(std::find(keys.begin(), keys.end(), "ema") != keys.end() ? "ema" : "model", model_archive);
    loaded.model->load(model_archive);
  } catch (const std::exception& e) {
    return Error{ErrorCode::kCorrupt, path.string() + " is not a canopy-train model: " + e.what()};
  }
  loaded.model->eval();
  return loaded;
}

}  // namespace canopy::train
