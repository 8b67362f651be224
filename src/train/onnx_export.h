// ONNX export of the field detector, built node by node from the module
// tree (no tracing): every Conv+BatchNorm pair is folded into one Conv with
// bias, the box decoding is emitted as plain operators, and the output is
// the "yolov8-rows" layout [1, N, 4 + classes] the device's detector reads.
// The model is checked by the ONNX checker before it is written.
// Also the package directory around it (export_package).
// Thread-safety: reads the module; do not train it at the same time.
#pragma once

#include <filesystem>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "train/detector_config.h"
#include "vision/dataset.h"

namespace canopy::train {

inline constexpr int kExportOpset = 13;
inline constexpr const char* kInputName = "images";
inline constexpr const char* kOutputName = "detections";

// The serialized ModelProto (batch 1). The configuration and labels go into
// its metadata, so the file alone is enough to fine-tune from.
Result<std::string> export_onnx(FieldDetectorImpl& model, const std::vector<std::string>& labels);

struct PackageExport {
  std::filesystem::path directory;  // created; must not hold another package
  std::string name = "crop-disease-detector";
  std::string description;
  std::vector<std::string> labels;
  double score_threshold = 0.25, iou_threshold = 0.45;
  Json metrics = Json::object();
  Json lineage = Json::object();
  // Golden samples: model-input images (8-bit BGR, input size), replayed by
  // the device's health check against this model's outputs.
  std::vector<cv::Mat> golden_images;
};

// Up to `count` images of `dataset`, letterboxed to `size`, as golden samples.
std::vector<cv::Mat> golden_images_from(const vision::Dataset& dataset, int size, int count);

// Writes model.onnx, golden/input_K.pb and golden/output_K.pb (ONNX
// TensorProto) and canopy.json (labels, input spec, decoder, thresholds,
// metrics, lineage, golden samples, every file with its hash).
Status export_package(FieldDetectorImpl& model, const PackageExport& options);

// Loads weights exported by export_onnx back into a model of the same
// configuration: each folded Conv becomes conv weights plus a BatchNorm that
// only adds the bias, so training continues from exactly the exported
// function. This is how retraining starts from the model on the devices.
struct OnnxMetadata {
  DetectorConfig config;
  std::vector<std::string> labels;
};
// What export_onnx stored in the model's metadata.
Result<OnnxMetadata> read_onnx_metadata(const std::filesystem::path& onnx_file);
Status load_onnx_weights(FieldDetectorImpl& model, const std::filesystem::path& onnx_file);

}  // namespace canopy::train
