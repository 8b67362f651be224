// Reference operators: plain, readable C++ for every ONNX operator the engine
// supports. They are the truth the optimised backends (oneDNN, XNNPACK) are
// tested against, and the fallback for any node a backend cannot run.
//
// An operator has two functions:
//   infer: checks attributes and input types/shapes and computes the output
//          types and shapes. Inputs that are constants carry their values
//          (Reshape's shape, Slice's starts ...), which some ops require.
//   run:   computes the outputs, which the caller has allocated with the
//          shapes infer returned. Tensors are contiguous row-major.
// Errors are clear values that name the node (op_error does).
// Thread-safety: both functions are pure; call them from any thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "infer/graph.h"
#include "infer/tensor.h"

namespace canopy::infer {

// Memory order of a 4-D tensor whose shape is always given as N, C, H, W.
// Reference operators only ever see kNchw; backend kernels may produce and
// consume kNhwc, which the plan converts at the boundaries.
enum class Layout { kNchw, kNhwc };

struct TensorInfo {
  bool present = true;            // false for an omitted optional input
  DataType dtype = DataType::kFloat32;
  Shape shape;
  const Tensor* value = nullptr;  // set when the input is a constant
  Layout layout = Layout::kNchw;
};

using InferFunction =
    std::function<Status(const Node& node, const std::vector<TensorInfo>& inputs, std::vector<TensorInfo>& outputs)>;
using RunFunction = std::function<Status(const Node& node, const std::vector<const Tensor*>& inputs,
                                         const std::vector<Tensor*>& outputs)>;

struct OpDefinition {
  std::string op_type;
  int min_inputs = 1;
  int max_inputs = 1;
  InferFunction infer;
  RunFunction run;
  // True when run() applies the node's fused post-ops itself (quantized
  // operators must, before they round to integers).
  bool applies_post_ops = false;
};

class OpRegistry {
 public:
  // All reference operators.
  static const OpRegistry& reference();
  void add(OpDefinition definition);
  const OpDefinition* find(const std::string& op_type) const;
  std::vector<std::string> op_types() const;

 private:
  std::vector<OpDefinition> definitions_;
};

// Helpers shared by operator files.
Error op_error(const Node& node, const std::string& message);
// Normalises a possibly negative axis against `rank`; fails when out of range.
Result<std::int64_t> normalize_axis(const Node& node, std::int64_t axis, std::int64_t rank);
// NumPy-style (multidirectional) broadcast of two shapes.
Result<Shape> broadcast_shapes(const Node& node, const Shape& a, const Shape& b);

// Each file of operators registers its own.
void register_elementwise_ops(OpRegistry& registry);
void register_conv_ops(OpRegistry& registry);
void register_pool_ops(OpRegistry& registry);
void register_shape_ops(OpRegistry& registry);
void register_resize_ops(OpRegistry& registry);
void register_softmax_ops(OpRegistry& registry);
void register_matmul_ops(OpRegistry& registry);
void register_quantize_ops(OpRegistry& registry);
void register_qlinear_ops(OpRegistry& registry);

// The float activation a fused post-op applies (shared by every kernel that
// applies post-ops in software).
float apply_activation(const PostOp& op, float x);
void apply_activation(const PostOp& op, float* values, std::int64_t count);

}  // namespace canopy::infer
