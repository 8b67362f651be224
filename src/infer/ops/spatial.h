// Geometry of sliding-window operators (Conv, ConvTranspose, pools) over the
// two spatial axes of NCHW tensors: kernel, strides, dilations and pads from
// ONNX attributes (auto_pad included), and output sizes. Shared by the
// reference operators and the oneDNN and XNNPACK backends so all agree.
#pragma once

#include <array>
#include <cstdint>

#include "common/error.h"
#include "infer/graph.h"

namespace canopy::infer {

struct Window2d {
  std::array<std::int64_t, 2> kernel{1, 1};
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> dilation{1, 1};
  std::array<std::int64_t, 2> pad_begin{0, 0};  // top, left
  std::array<std::int64_t, 2> pad_end{0, 0};    // bottom, right
  std::array<std::int64_t, 2> output{0, 0};     // output height, width
};

// For Conv and pools: `kernel` comes from the weights (Conv) or kernel_shape.
// `ceil_mode` only applies to pools.
Result<Window2d> forward_window(const Node& node, std::int64_t in_h, std::int64_t in_w,
                                std::array<std::int64_t, 2> kernel, bool ceil_mode);

// For ConvTranspose: honours output_padding and output_shape.
Result<Window2d> transposed_window(const Node& node, std::int64_t in_h, std::int64_t in_w,
                                   std::array<std::int64_t, 2> kernel);

}  // namespace canopy::infer
