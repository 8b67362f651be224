#include "infer/ops/op.h"

#include <algorithm>
#include <cmath>

namespace canopy::infer {

Error op_error(const Node& node, const std::string& message) {
  return make_error(ErrorCode::kInvalidArgument, node.op_type + " node '" + node.name + "': " + message);
}

Result<std::int64_t> normalize_axis(const Node& node, std::int64_t axis, std::int64_t rank) {
  if (axis < -rank || axis >= rank)
    return op_error(node, "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

Result<Shape> broadcast_shapes(const Node& node, const Shape& a, const Shape& b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return op_error(node, "shapes " + shape_to_string(a) + " and " + shape_to_string(b) + " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

float apply_activation(const PostOp& op, float x) {
  switch (op.activation) {
    case Activation::kRelu: return x > 0 ? x : 0.0f;
    case Activation::kLeakyRelu: return x >= 0 ? x : op.alpha * x;
    case Activation::kClip: return std::min(op.beta, std::max(op.alpha, x));
    case Activation::kSigmoid: return 1.0f / (1.0f + std::exp(-x));
    case Activation::kHardSigmoid: return std::max(0.0f, std::min(1.0f, op.alpha * x + op.beta));
    case Activation::kHardSwish: return x * std::max(0.0f, std::min(1.0f, x / 6.0f + 0.5f));
    case Activation::kSiLU: return x / (1.0f + std::exp(-x));
    case Activation::kNone: return x;
  }
  return x;
}

void apply_activation(const PostOp& op, float* values, std::int64_t count) {
  // One loop per activation, so each is a tight loop the compiler can vectorize.
  switch (op.activation) {
    case Activation::kRelu:
      for (std::int64_t i = 0; i < count; ++i) values[i] = values[i] > 0 ? values[i] : 0.0f;
      break;
    case Activation::kSiLU:
      for (std::int64_t i = 0; i < count; ++i) values[i] = values[i] / (1.0f + std::exp(-values[i]));
      break;
    default:
      for (std::int64_t i = 0; i < count; ++i) values[i] = apply_activation(op, values[i]);
  }
}

}  // namespace canopy::infer
