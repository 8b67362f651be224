// QuantizeLinear and DequantizeLinear, per tensor or per axis:
//   quantize:   y = saturate(round_half_to_even(x / scale) + zero_point)
//   dequantize: y = (x - zero_point) * scale
// A per-axis scale (and zero point) is 1-D with one value per index of `axis`.
#include <algorithm>
#include <cmath>
#include <limits>

#include "infer/ops/op.h"

namespace canopy::infer {
namespace {

using Index = std::int64_t;

// x seen as [outer, channels, inner]: element (o, c, i) uses scale[c].
// Per-tensor quantization is the case channels == 1.
struct ChannelLayout {
  Index outer = 1;
  Index channels = 1;
  Index inner = 1;
};

Result<ChannelLayout> channel_layout(const Node& node, const Shape& x, const Shape& scale) {
  ChannelLayout layout;
  layout.inner = element_count(x);
  // A one-element 1-D scale is per tensor too (exporters write both forms).
  if (scale.empty() || (scale.size() == 1 && scale[0] == 1)) return layout;
  if (scale.size() != 1)
    return op_error(node, "scale must be a scalar or 1-D, got shape " + shape_to_string(scale));
  if (node.opset < 13) return op_error(node, "per-axis scales need opset 13 or later");
  CANOPY_ASSIGN_OR_RETURN(
      Index axis, normalize_axis(node, node.attributes.get_int("axis", 1), static_cast<Index>(x.size())));
  const auto a = static_cast<size_t>(axis);
  if (scale[0] != x[a])
    return op_error(node, "scale has " + std::to_string(scale[0]) + " values but axis " +
                              std::to_string(axis) + " of input " + shape_to_string(x) + " has " +
                              std::to_string(x[a]));
  layout.outer = element_count(Shape(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(a)));
  layout.channels = x[a];
  layout.inner = element_count(Shape(x.begin() + static_cast<std::ptrdiff_t>(a) + 1, x.end()));
  return layout;
}

std::string type_name(DataType type) { return std::string(data_type_name(type)); }

// Checks scale and zero point (inputs 1 and 2) against x; returns the layout.
Result<ChannelLayout> check_quant_params(const Node& node, const std::vector<TensorInfo>& inputs) {
  if (node.attributes.get_int("block_size", 0) != 0)
    return op_error(node, "blocked quantization is not supported");
  const TensorInfo& scale = inputs[1];
  if (!scale.present) return op_error(node, "the scale input is missing");
  if (scale.dtype != DataType::kFloat32)
    return op_error(node, "scale must be float32, not " + type_name(scale.dtype));
  CANOPY_ASSIGN_OR_RETURN(ChannelLayout layout, channel_layout(node, inputs[0].shape, scale.shape));
  if (inputs.size() > 2 && inputs[2].present && element_count(inputs[2].shape) != element_count(scale.shape))
    return op_error(node, "zero point shape " + shape_to_string(inputs[2].shape) +
                              " does not match scale shape " + shape_to_string(scale.shape));
  return layout;
}

const Tensor* zero_point_of(const std::vector<const Tensor*>& inputs) {
  return inputs.size() > 2 ? inputs[2] : nullptr;
}

// Calls f(index, channel) for every element of x in order.
template <typename F>
void for_each_element(const ChannelLayout& layout, F f) {
  Index index = 0;
  for (Index o = 0; o < layout.outer; ++o)
    for (Index c = 0; c < layout.channels; ++c)
      for (Index i = 0; i < layout.inner; ++i) f(index++, c);
}

// ---- QuantizeLinear ----

Status infer_quantize(const Node& node, const std::vector<TensorInfo>& inputs,
                      std::vector<TensorInfo>& outputs) {
  if (!inputs[0].present) return op_error(node, "the input x is missing");
  if (inputs[0].dtype != DataType::kFloat32)
    return op_error(node, "x must be float32, not " + type_name(inputs[0].dtype));
  CANOPY_TRY(check_quant_params(node, inputs));
  TensorInfo out;
  out.dtype = DataType::kUInt8;
  if (inputs.size() > 2 && inputs[2].present) {
    out.dtype = inputs[2].dtype;
    if (out.dtype != DataType::kUInt8 && out.dtype != DataType::kInt8)
      return op_error(node, "zero point must be uint8 or int8, not " + type_name(out.dtype));
  }
  out.shape = inputs[0].shape;
  outputs = {out};
  return {};
}

template <typename Q>
void quantize(const Tensor& x, const Tensor& scale, const Tensor* zero_point, const ChannelLayout& layout,
              Tensor& y) {
  const float* in = x.data<float>();
  const float* scales = scale.data<float>();
  const Q* zeros = zero_point == nullptr ? nullptr : zero_point->data<Q>();
  Q* out = y.data<Q>();
  constexpr auto lo = static_cast<float>(std::numeric_limits<Q>::min());
  constexpr auto hi = static_cast<float>(std::numeric_limits<Q>::max());
  for_each_element(layout, [&](Index i, Index c) {
    // nearbyint rounds half to even in the default rounding mode, as ONNX requires.
    float q = std::nearbyint(in[i] / scales[c]) + (zeros == nullptr ? 0.0f : static_cast<float>(zeros[c]));
    out[i] = static_cast<Q>(std::clamp(q, lo, hi));
  });
}

Status run_quantize(const Node& node, const std::vector<const Tensor*>& inputs,
                    const std::vector<Tensor*>& outputs) {
  const Tensor& x = *inputs[0];
  const Tensor& scale = *inputs[1];
  CANOPY_ASSIGN_OR_RETURN(ChannelLayout layout, channel_layout(node, x.shape(), scale.shape()));
  if (outputs[0]->dtype() == DataType::kInt8)
    quantize<std::int8_t>(x, scale, zero_point_of(inputs), layout, *outputs[0]);
  else
    quantize<std::uint8_t>(x, scale, zero_point_of(inputs), layout, *outputs[0]);
  return {};
}

// ---- DequantizeLinear ----

Status infer_dequantize(const Node& node, const std::vector<TensorInfo>& inputs,
                        std::vector<TensorInfo>& outputs) {
  if (!inputs[0].present) return op_error(node, "the input x is missing");
  const DataType type = inputs[0].dtype;
  if (type != DataType::kUInt8 && type != DataType::kInt8 && type != DataType::kInt32)
    return op_error(node, "x must be uint8, int8 or int32, not " + type_name(type));
  CANOPY_TRY(check_quant_params(node, inputs));
  if (inputs.size() > 2 && inputs[2].present && inputs[2].dtype != type)
    return op_error(node, "zero point is " + type_name(inputs[2].dtype) + " but x is " + type_name(type));
  TensorInfo out;
  out.shape = inputs[0].shape;
  outputs = {out};
  return {};
}

template <typename Q>
void dequantize(const Tensor& x, const Tensor& scale, const Tensor* zero_point, const ChannelLayout& layout,
                Tensor& y) {
  const Q* in = x.data<Q>();
  const float* scales = scale.data<float>();
  const Q* zeros = zero_point == nullptr ? nullptr : zero_point->data<Q>();
  float* out = y.data<float>();
  for_each_element(layout, [&](Index i, Index c) {
    // In 64 bits, so int32 inputs cannot overflow when the zero point is subtracted.
    const Index centred = static_cast<Index>(in[i]) - (zeros == nullptr ? 0 : static_cast<Index>(zeros[c]));
    out[i] = static_cast<float>(centred) * scales[c];
  });
}

Status run_dequantize(const Node& node, const std::vector<const Tensor*>& inputs,
                      const std::vector<Tensor*>& outputs) {
  const Tensor& x = *inputs[0];
  const Tensor& scale = *inputs[1];
  CANOPY_ASSIGN_OR_RETURN(ChannelLayout layout, channel_layout(node, x.shape(), scale.shape()));
  switch (x.dtype()) {
    case DataType::kUInt8:
      dequantize<std::uint8_t>(x, scale, zero_point_of(inputs), layout, *outputs[0]);
      break;
    case DataType::kInt8:
      dequantize<std::int8_t>(x, scale, zero_point_of(inputs), layout, *outputs[0]);
      break;
    case DataType::kInt32:
      dequantize<std::int32_t>(x, scale, zero_point_of(inputs), layout, *outputs[0]);
      break;
    default:
      return op_error(node, "x must be uint8, int8 or int32");
  }
  return {};
}

}  // namespace

void register_quantize_ops(OpRegistry& registry) {
  registry.add(OpDefinition{"QuantizeLinear", 2, 3, infer_quantize, run_quantize});
  registry.add(OpDefinition{"DequantizeLinear", 2, 3, infer_dequantize, run_dequantize});
}

}  // namespace canopy::infer
