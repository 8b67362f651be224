// Training the field detector: AdamW or SGD with linear warm-up and a cosine
// schedule, an exponential moving average (EMA) of the weights that is what
// gets validated and kept, validation mAP after every epoch, and a
// checkpoint written atomically after every epoch so a killed run resumes
// where it stopped (and, being deterministic, ends exactly where an
// uninterrupted run would).
//
// Files in the output directory:
//   last.pt        checkpoint: model, EMA, optimizer, epoch, best mAP
//   best.pt        the EMA weights of the best validation epoch
//   history.jsonl  one line per epoch: losses, learning rate, images/s, mAP
//   metrics.json   the best epoch's validation metrics (vision/metrics.h)
//   pr_curve.png   its precision-recall curves
// Thread-safety: one training run per process.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "train/detector_config.h"
#include "vision/augment.h"
#include "vision/dataset.h"
#include "vision/metrics.h"

namespace canopy::train {

struct TrainOptions {
  std::filesystem::path out;
  int epochs = 30;
  int batch = 16;
  std::string optimizer = "adamw";  // or "sgd"
  double lr = 2e-3;                 // peak learning rate (SGD: use ~1e-2)
  double weight_decay = 0.05;       // AdamW's; SGD uses 5e-4
  double warmup_epochs = 1;
  DetectorConfig model;             // classes come from the dataset
  std::filesystem::path init_from;  // .pt checkpoint, .onnx or package directory
  std::uint64_t seed = 0;
  int threads = 0;       // 0: every hardware thread
  bool restart = false;  // ignore an existing last.pt
  bool show_progress = true;
  vision::AugmentOptions augment;
  Json lineage = Json::object();  // recorded with the metrics
  // Called on the model being trained before the first step, e.g. to make
  // it quantization-aware (qat.h); the averaged (validated) copy is left as is.
  std::function<void(FieldDetectorImpl&)> prepare_model;
};

struct EpochRecord {
  int epoch = 0;
  double loss = 0, classification_loss = 0, box_loss = 0;
  double learning_rate = 0;
  double images_per_second = 0;
  double seconds = 0;
  std::optional<double> map50, map50_95;
  Json to_json() const;
};

struct TrainResult {
  std::vector<EpochRecord> history;  // every epoch, including resumed ones
  int best_epoch = 0;
  double best_map50_95 = -1;
  vision::EvaluationResult best_metrics;
};

Result<TrainResult> train_detector(const vision::Dataset& train_set, const vision::Dataset& val_set,
                                   const TrainOptions& options);

// Validation: model-input boxes, the best class per cell (as the device's
// detector decodes), class-wise NMS at IoU 0.6, COCO metrics.
vision::EvaluationResult evaluate_model(FieldDetectorImpl& model, const vision::Dataset& dataset, int batch,
                                        bool show_progress);

// A model and its labels from a checkpoint written by train_detector
// (best.pt or last.pt), an exported .onnx, or a package directory.
struct LoadedModel {
  DetectorPtr model;
  std::vector<std::string> labels;
  Json metrics = Json::object();
};
Result<LoadedModel> load_model(const std::filesystem::path& path);

// Saves `model` with its labels and metrics as a .pt file readable by load_model.
Status save_model(FieldDetectorImpl& model, const std::vector<std::string>& labels, const Json& metrics,
                  const std::filesystem::path& path);

}  // namespace canopy::train
