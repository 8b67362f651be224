// Quantization-aware fine-tuning, for models that post-training
// quantization costs too much: the float model is fine-tuned for a few
// epochs with every quantizable convolution computing through fake int8
// (model.h, FakeQuant) at the ranges calibration gives, so the weights learn
// to live on the int8 grid; then the same QDQ quantization (quantize.h) is
// run on the fine-tuned model and reported against the original.
// Thread-safety: one run per process (it trains).
#pragma once

#include <opencv2/core.hpp>

#include <filesystem>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "train/quantize.h"
#include "train/trainer.h"
#include "vision/dataset.h"

namespace canopy::train {

struct QatOptions {
  TrainOptions finetune;  // epochs, batch, lr, seed; out: the work directory (OUT/qat)
  Calibrator calibrator = Calibrator::kMinMax;  // the ranges the fake quantization uses
  QuantizeOptions quantize;                     // the final quantization
};

// Fine-tunes the package in `package_dir` quantization-aware on `train_set`
// (OUT/qat: the run and the fine-tuned float package), then quantizes it:
// OUT/package and OUT/report.json, as quantize_package writes them, with the
// original package as the report's reference. Returns the report.
Result<Json> quantize_aware_package(const std::filesystem::path& package_dir, const std::vector<cv::Mat>& calibration,
                                    const vision::Dataset& train_set, const vision::Dataset& validation,
                                    const QatOptions& options, const std::filesystem::path& out_dir);

}  // namespace canopy::train
