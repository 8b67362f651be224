// Post-training static int8 quantization of an ONNX detector, written as a
// QDQ model (QuantizeLinear/DequantizeLinear pairs around float operators)
// that the device's engine runs as true int8 convolutions and that ONNX
// Runtime runs too. No libtorch: the fp32 model is the exported ONNX file and
// every measurement runs on the inference engine.
//
//   weights      int8, symmetric, one scale per output channel (axis 0);
//                biases int32 in accumulator units (x_scale * w_scale)
//   activations  per tensor, zero point 0: uint8 when never negative, int8
//                otherwise; ranges calibrated on real images (calibration.h)
//   placement    every input of a quantized Conv is quantized; a residual
//                Add after a Conv is left in float between them so the engine
//                fuses it into the int8 convolution; a nearest Resize of a
//                quantized map runs on the int8 values themselves
//   not quantized  Convs fed by a Sigmoid: that is box decoding arithmetic,
//                nothing after it is int8, so it would lose precision for
//                no faster kernel
//
// With calibrator "auto" each calibrator's model is scored on the validation
// set and the best mAP@0.5 wins. Then, while the int8 model loses more than
// max_map_drop, the Conv whose quantization alone disturbs the output most
// (measured layer by layer) goes back to float, up to max_float_layers.
// Thread-safety: one call at a time per engine options; no shared state.
#pragma once

#include <opencv2/core.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "infer/engine.h"
#include "package/manifest.h"
#include "train/calibration.h"
#include "vision/dataset.h"
#include "vision/metrics.h"

namespace canopy::train {

struct QuantizeOptions {
  std::string calibrator = "auto";  // minmax, percentile, entropy or auto
  double max_map_drop = 0.01;       // mAP@0.5 the int8 model may lose before layers go back to float
  int max_float_layers = 4;
  int sensitivity_images = 8;       // calibration images the per-layer output error is measured on
  infer::EngineOptions engine;      // where candidates are measured
  bool show_progress = true;
};

struct LayerSensitivity {
  std::string node;         // the Conv's node name
  double output_error = 0;  // relative squared error of the model output with only this layer in int8
  bool kept_float = false;
};

struct QuantizeResult {
  std::string model;                  // the serialized QDQ ModelProto
  std::string calibrator;             // the one used
  Json calibrator_map50 = Json::object();  // mAP@0.5 on validation per calibrator tried
  std::vector<LayerSensitivity> layers;
  double original_map50 = 0, quantized_map50 = 0;  // on validation

  Json to_json() const;  // everything but the model bytes
};

// `model_file`: the fp32 ONNX detector; `manifest` says how images become
// its input. `calibration`: 8-bit BGR images of any size.
Result<QuantizeResult> quantize_model(const std::filesystem::path& model_file, const package::Manifest& manifest,
                                      const std::vector<cv::Mat>& calibration, const vision::Dataset& validation,
                                      const QuantizeOptions& options);

// Every quantizable Conv in int8 with `calibrator`'s ranges: no validation,
// no layer left in float. What benchmarks and quick experiments use.
Result<std::string> quantize_all(const std::filesystem::path& model_file, const package::Manifest& manifest,
                                 const std::vector<cv::Mat>& calibration, Calibrator calibrator,
                                 const QuantizeOptions& options);

// The int8 range of each quantizable Conv's input with `calibrator`, by the
// Conv's node name (for canopy-train's exports, the module's path):
// what quantization-aware training rounds to.
struct InputRange {
  float scale = 1;
  bool is_signed = false;
};
Result<std::map<std::string, InputRange>> calibrated_conv_inputs(const std::filesystem::path& model_file,
                                                                 const package::Manifest& manifest,
                                                                 const std::vector<cv::Mat>& calibration,
                                                                 Calibrator calibrator, const QuantizeOptions& options);

// The whole job: quantizes the package in `package_dir`, measures the
// original and the int8 model (compression_report.h), and writes
// out_dir/package (the int8 model, the report in its metrics) and
// out_dir/report.json. Returns the report. `original_dir`, when not empty,
// is the package the report compares against and the lineage names (the
// model before quantization-aware fine-tuning made `package_dir`).
Result<Json> quantize_package(const std::filesystem::path& package_dir, const std::vector<cv::Mat>& calibration,
                              const vision::Dataset& validation, const QuantizeOptions& options,
                              const std::filesystem::path& out_dir, const std::filesystem::path& original_dir = {});

}  // namespace canopy::train
