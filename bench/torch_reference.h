// libtorch as a reference engine for bench/infer_bench: the same Conv+ReLU
// stack, the same weights, timed in the same run. The only file under
// bench/ that includes libtorch headers (they are heavy to compile).
#pragma once

#include <cstdint>
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

}  // namespace canopy::bench
