// libtorch and canopy-train for bench/infer_bench: libtorch as a reference
// engine (the same Conv+ReLU stack or field detector, the same weights,
// timed in the same run), the export of the field detector canopy-train
// ships, and its int8 version from canopy-train's quantizer. The only file under bench/ besides
// train_bench.cpp that includes libtorch headers (they are heavy to compile).
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "infer/tensor.h"

namespace canopy::bench {

struct ConvLayer {
  infer::Tensor weights;  // [out, in, k, k], float32
  infer::Tensor bias;     // [out]
  std::int64_t stride = 1;
  std::int64_t pad = 0;
};

// Median milliseconds of `runs` forward passes (after 10 warm-up passes) of
// Conv+ReLU layers on a random input of `input_shape`, with `threads` threads.
double torch_conv_relu_median_ms(const std::vector<ConvLayer>& layers, const infer::Shape& input_shape, int threads,
                                 int runs);

// Writes canopy-train's default detector (320x320, three classes, freshly
// initialised weights: latency does not depend on their values) as ONNX and
// returns its GFLOP per image.
double export_field_detector(const std::filesystem::path& onnx);

// The same detector forward pass (with box decoding) in libtorch.
double torch_field_detector_median_ms(int threads, int runs);

// Writes the QDQ int8 version of `fp32_onnx` to `int8_onnx`, calibrated on
// 16 rendered field images (kept in WORK/calibration).
void quantize_field_detector(const std::filesystem::path& fp32_onnx, const std::filesystem::path& work,
                             const std::filesystem::path& int8_onnx);

// The same detector as two package directories a device can run: `fp32_dir`
// as canopy-train exports it (model.onnx, canopy.json) and `int8_dir` with
// the QDQ model of quantize_field_detector under the same manifest. The
// weights are freshly initialised, so the model finds nothing in a frame
// (every class score is near its 0.01 prior); its cost per frame is a
// trained one's. Both directories are replaced if they exist.
void write_field_detector_packages(const std::filesystem::path& work, const std::filesystem::path& fp32_dir,
                                   const std::filesystem::path& int8_dir);

}  // namespace canopy::bench
