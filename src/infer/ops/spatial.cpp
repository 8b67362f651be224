#include "infer/ops/spatial.h"

#include <cmath>

#include "infer/ops/op.h"

namespace canopy::infer {

namespace {

Result<std::array<std::int64_t, 2>> pair_attribute(const Node& node, const std::string& name,
                                                   std::array<std::int64_t, 2> fallback) {
  auto values = node.attributes.get_ints(name);
  if (values.empty()) return fallback;
  if (values.size() != 2) return op_error(node, "'" + name + "' must have 2 values (2-D only)");
  for (auto v : values)
    if (v <= 0) return op_error(node, "'" + name + "' values must be positive");
  return std::array<std::int64_t, 2>{values[0], values[1]};
}

Status read_common(const Node& node, Window2d& w) {
  CANOPY_ASSIGN_OR_RETURN(w.stride, pair_attribute(node, "strides", {1, 1}));
  CANOPY_ASSIGN_OR_RETURN(w.dilation, pair_attribute(node, "dilations", {1, 1}));
  auto pads = node.attributes.get_ints("pads");
  if (!pads.empty()) {
    if (pads.size() != 4) return op_error(node, "'pads' must have 4 values (2-D only)");
    for (auto p : pads)
      if (p < 0) return op_error(node, "'pads' must not be negative");
    w.pad_begin = {pads[0], pads[1]};
    w.pad_end = {pads[2], pads[3]};
  }
  return {};
}

}  // namespace

Result<Window2d> forward_window(const Node& node, std::int64_t in_h, std::int64_t in_w,
                                std::array<std::int64_t, 2> kernel, bool ceil_mode) {
  Window2d w;
  w.kernel = kernel;
  CANOPY_TRY(read_common(node, w));
  const std::string auto_pad = node.attributes.get_string("auto_pad", "NOTSET");
  const std::array<std::int64_t, 2> in{in_h, in_w};
  for (int i = 0; i < 2; ++i) {
    const std::int64_t extent = (w.kernel[i] - 1) * w.dilation[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      std::int64_t out = (in[i] + w.stride[i] - 1) / w.stride[i];
      std::int64_t needed = std::max<std::int64_t>(0, (out - 1) * w.stride[i] + extent - in[i]);
      std::int64_t small = needed / 2, large = needed - needed / 2;
      w.pad_begin[i] = auto_pad == "SAME_UPPER" ? small : large;
      w.pad_end[i] = auto_pad == "SAME_UPPER" ? large : small;
      w.output[i] = out;
      continue;
    }
    if (auto_pad == "VALID") {
      w.pad_begin[i] = w.pad_end[i] = 0;
    } else if (auto_pad != "NOTSET") {
      return op_error(node, "auto_pad '" + auto_pad + "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
    }
    const std::int64_t span = in[i] + w.pad_begin[i] + w.pad_end[i] - extent;
    if (span < 0) return op_error(node, "the kernel is larger than the padded input");
    w.output[i] = (ceil_mode ? (span + w.stride[i] - 1) / w.stride[i] : span / w.stride[i]) + 1;
    // With ceil_mode the last window must still start inside the input or its
    // leading padding (as PyTorch and ONNX Runtime compute it).
    if (ceil_mode && (w.output[i] - 1) * w.stride[i] >= in[i] + w.pad_begin[i]) --w.output[i];
  }
  return w;
}

Result<Window2d> transposed_window(const Node& node, std::int64_t in_h, std::int64_t in_w,
                                   std::array<std::int64_t, 2> kernel) {
  Window2d w;
  w.kernel = kernel;
  CANOPY_TRY(read_common(node, w));
  auto output_padding = node.attributes.get_ints("output_padding", {0, 0});
  if (output_padding.size() != 2) return op_error(node, "'output_padding' must have 2 values");
  auto output_shape = node.attributes.get_ints("output_shape");
  if (!output_shape.empty() && output_shape.size() != 2 && output_shape.size() != 4)
    return op_error(node, "'output_shape' must give the 2 spatial sizes");
  const std::string auto_pad = node.attributes.get_string("auto_pad", "NOTSET");
  const std::array<std::int64_t, 2> in{in_h, in_w};
  for (int i = 0; i < 2; ++i) {
    const std::int64_t extent = (w.kernel[i] - 1) * w.dilation[i] + 1;
    const std::int64_t full = w.stride[i] * (in[i] - 1) + output_padding[static_cast<size_t>(i)] + extent;
    std::int64_t wanted = -1;
    if (!output_shape.empty()) wanted = output_shape[output_shape.size() - 2 + static_cast<size_t>(i)];
    else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") wanted = in[i] * w.stride[i];
    if (wanted >= 0) {
      std::int64_t total = std::max<std::int64_t>(0, full - wanted);
      // ONNX: SAME_UPPER puts the extra padding at the end, SAME_LOWER at the start.
      bool extra_at_begin = auto_pad == "SAME_LOWER";
      w.pad_begin[i] = extra_at_begin ? total - total / 2 : total / 2;
      w.pad_end[i] = total - w.pad_begin[i];
      w.output[i] = wanted;
    } else {
      if (auto_pad == "VALID") w.pad_begin[i] = w.pad_end[i] = 0;
      w.output[i] = full - w.pad_begin[i] - w.pad_end[i];
    }
    if (w.output[i] <= 0) return op_error(node, "the output would be empty");
  }
  return w;
}

}  // namespace canopy::infer
