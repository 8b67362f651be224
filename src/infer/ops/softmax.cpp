// Softmax on float32 tensors. Opset 13 normalises along one axis; opsets
// before 13 view the input as 2-D [prod(dims[:axis]), prod(dims[axis:])] and
// normalise each row, which differs whenever axis is not the last dimension.
#include <algorithm>
#include <cmath>

#include "infer/ops/op.h"

namespace canopy::infer {
namespace {

using Index = std::int64_t;

// The input seen as [outer, length, inner]: softmax runs over `length`
// elements spaced `inner` apart.
struct SoftmaxLayout {
  Index outer = 1;
  Index length = 1;
  Index inner = 1;
};

Result<SoftmaxLayout> softmax_layout(const Node& node, const Shape& shape) {
  const bool coerce_2d = node.opset < 13;
  const auto rank = static_cast<Index>(shape.size());
  CANOPY_ASSIGN_OR_RETURN(Index axis,
                          normalize_axis(node, node.attributes.get_int("axis", coerce_2d ? 1 : -1), rank));
  SoftmaxLayout layout;
  for (Index d = 0; d < rank; ++d) {
    const Index dim = shape[static_cast<size_t>(d)];
    if (d < axis)
      layout.outer *= dim;
    else if (d == axis || coerce_2d)
      layout.length *= dim;
    else
      layout.inner *= dim;
  }
  return layout;
}

Status infer_softmax(const Node& node, const std::vector<TensorInfo>& inputs,
                     std::vector<TensorInfo>& outputs) {
  if (!inputs[0].present) return op_error(node, "the input is missing");
  const TensorInfo& x = inputs[0];
  if (x.dtype != DataType::kFloat32)
    return op_error(node, "input must be float32, not " + std::string(data_type_name(x.dtype)));
  CANOPY_TRY(softmax_layout(node, x.shape));
  TensorInfo out;
  out.shape = x.shape;
  outputs = {out};
  return {};
}

Status run_softmax(const Node& node, const std::vector<const Tensor*>& inputs,
                   const std::vector<Tensor*>& outputs) {
  CANOPY_ASSIGN_OR_RETURN(SoftmaxLayout layout, softmax_layout(node, inputs[0]->shape()));
  const float* x = inputs[0]->data<float>();
  float* y = outputs[0]->data<float>();
  if (layout.length == 0) return {};
  for (Index o = 0; o < layout.outer; ++o) {
    for (Index i = 0; i < layout.inner; ++i) {
      const Index base = o * layout.length * layout.inner + i;
      auto at = [&](Index k) { return base + k * layout.inner; };
      // Subtracting the maximum keeps exp() from overflowing; the result is unchanged.
      float max = x[at(0)];
      for (Index k = 1; k < layout.length; ++k) max = std::max(max, x[at(k)]);
      double sum = 0;
      for (Index k = 0; k < layout.length; ++k) {
        y[at(k)] = std::exp(x[at(k)] - max);
        sum += y[at(k)];
      }
      for (Index k = 0; k < layout.length; ++k) y[at(k)] = static_cast<float>(y[at(k)] / sum);
    }
  }
  return {};
}

}  // namespace

void register_softmax_ops(OpRegistry& registry) {
  registry.add(OpDefinition{"Softmax", 1, 1, infer_softmax, run_softmax});
}

}  // namespace canopy::infer
