// Operators that only move or compare values, written for NHWC tensors so
// that the NHWC backends (oneDNN, XNNPACK) can keep a network's activations
// in their layout across them instead of converting to NCHW and back:
// Concat and Split along channels, and MaxPool. Each returns nullptr when
// the node is not one it handles in this form (another axis, an NCHW input).
#pragma once

#include <memory>
#include <vector>

#include "infer/backend.h"

namespace canopy::infer {

std::unique_ptr<Kernel> make_nhwc_kernel(const Node& node, const std::vector<TensorInfo>& inputs,
                                         const std::vector<TensorInfo>& outputs, std::string_view backend);

}  // namespace canopy::infer
