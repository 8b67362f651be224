// Evaluation of any ONNX detector on a labelled dataset through the device's
// inference engine (infer/detector.h), so the numbers are the device's
// numbers: same decoding, letterbox and NMS, boxes in image pixels.
// No libtorch here. Thread-safety: one evaluation per call.
#pragma once

#include <filesystem>

#include "common/error.h"
#include "infer/detector.h"
#include "vision/dataset.h"
#include "vision/metrics.h"

namespace canopy::train {

struct EvalOptions {
  infer::EngineOptions engine;
  float score_threshold = 0.001f;  // low, so AP sees the whole curve
  float iou_threshold = 0.6f;      // NMS
  float operating_score = 0.25f;   // precision/recall/confusion are reported here
  bool show_progress = true;
};

// `onnx_file` read as `manifest` describes it (input spec, decoder, labels):
// how a model that is not packaged yet, e.g. a compression candidate, is measured.
Result<vision::EvaluationResult> evaluate_with_manifest(const std::filesystem::path& onnx_file,
                                                        const package::Manifest& manifest,
                                                        const vision::Dataset& dataset, const EvalOptions& options);

// `model`: a package directory (canopy.json) or a bare .onnx file, whose
// labels are then taken to be the dataset's.
Result<vision::EvaluationResult> evaluate_onnx(const std::filesystem::path& model, const vision::Dataset& dataset,
                                               const EvalOptions& options);

}  // namespace canopy::train
