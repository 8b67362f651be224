// libtorch for bench/infer_bench: as a reference engine (the same Conv+ReLU
// stack, the same weights, timed in the same run), and to export the field
// detector canopy-train ships. The only file under bench/ besides
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

}  // namespace canopy::bench
