// Detection on top of the engine: an image goes in, boxes with labels and
// scores come out. Pre- and post-processing follow the package manifest:
// letterbox or stretch to the input size, channel order and normalization,
// then the output layout:
//   "yolo"        [1, N, 5+C]: cx, cy, w, h, objectness, C class scores
//   "yolov8"      [1, 4+C, N]: cx, cy, w, h, C class scores, one column per box
//   "yolov8-rows" [1, N, 4+C]: the same, one row per box
//   "auto"        picks one of the above from the output shape and C.
// Coordinates are input pixels (or 0-1 with "normalized": true).
// Thread-safety: one Detector per thread (it owns an engine context).
#pragma once

#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "infer/engine.h"
#include "package/manifest.h"
#include "vision/boxes.h"
#include "vision/image.h"

namespace canopy::infer {

struct DetectorOptions {
  EngineOptions engine;
  float score_threshold = -1;  // < 0: the manifest's
  float iou_threshold = -1;    // < 0: the manifest's
};

// Fits `bgr_image` to the model input as `spec` says (letterbox or stretch,
// channel order, normalization) and writes it to `out` as NCHW float
// (spec.shape[1..3] elements). Returns where the image landed in the input.
// The reference for what Detector::detect feeds the model, which does the
// same with buffers it keeps (vision::InputWriter).
vision::Placement prepare_input(const package::InputSpec& spec, const cv::Mat& bgr_image, float* out);
// Fits images to the input `spec` describes, as prepare_input does.
vision::InputWriter input_writer(const package::InputSpec& spec);
// The size an image of `full` pixels takes in the input `spec` describes:
// decoding a frame at this size or larger (ImageDecoder's at_least) loses
// nothing the model would see.
cv::Size input_footprint(const package::InputSpec& spec, cv::Size full);

class Detector {
 public:
  // From a package directory (canopy.json and the files it lists).
  static Result<std::unique_ptr<Detector>> load_package_dir(const std::filesystem::path& directory,
                                                            const DetectorOptions& options);
  // From a bare ONNX file and a manifest describing it.
  static Result<std::unique_ptr<Detector>> load(const std::filesystem::path& model,
                                                package::Manifest manifest, const DetectorOptions& options);
  // Over an engine that is already loaded (the device's active model), which
  // it shares rather than loading the model a second time.
  static Result<std::unique_ptr<Detector>> over(std::shared_ptr<const Engine> engine,
                                                package::Manifest manifest, const DetectorOptions& options);

  // Boxes are in `bgr_image`'s pixels.
  Result<std::vector<vision::Detection>> detect(const cv::Mat& bgr_image);
  // input_footprint of this detector's input.
  cv::Size input_footprint(cv::Size full) const;

  const package::Manifest& manifest() const { return manifest_; }
  const Engine& engine() const { return *engine_; }
  // Boxes scoring below this are not returned.
  float score_threshold() const { return score_threshold_; }

 private:
  Detector() = default;
  Status decode(const Tensor& output, std::vector<vision::Detection>& found) const;

  package::Manifest manifest_;
  std::string decoder_;
  std::shared_ptr<const Engine> engine_;
  std::unique_ptr<Context> context_;
  Tensor input_;
  std::unique_ptr<vision::InputWriter> writer_;  // fills input_
  float score_threshold_ = 0.25f;
  float iou_threshold_ = 0.45f;
};

}  // namespace canopy::infer
