// The engine's graph: what an ONNX model becomes after loading. Values are
// numbered; nodes refer to them by index (-1 for an omitted optional input).
// Constants (initializers, Constant nodes, folded subgraphs) hold tensors.
// Thread-safety: built once, then read-only.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/error.h"
#include "infer/tensor.h"

namespace canopy::infer {

using AttributeValue =
    std::variant<std::int64_t, float, std::string, std::vector<std::int64_t>, std::vector<float>, Tensor>;

class Attributes {
 public:
  void set(std::string name, AttributeValue value) { values_[std::move(name)] = std::move(value); }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::int64_t get_int(const std::string& name, std::int64_t fallback) const;
  float get_float(const std::string& name, float fallback) const;
  std::string get_string(const std::string& name, const std::string& fallback) const;
  std::vector<std::int64_t> get_ints(const std::string& name, std::vector<std::int64_t> fallback = {}) const;
  std::vector<float> get_floats(const std::string& name, std::vector<float> fallback = {}) const;
  const Tensor* get_tensor(const std::string& name) const;
  const std::map<std::string, AttributeValue>& all() const { return values_; }

 private:
  std::map<std::string, AttributeValue> values_;
};

// The activations the optimizer fuses into a producing node.
enum class Activation { kNone, kRelu, kLeakyRelu, kClip, kSigmoid, kHardSigmoid, kHardSwish, kSiLU };

// An operation fused onto a node's output by the optimizer: an activation,
// or the sum with another value (a residual connection). Applied in order.
struct PostOp {
  enum class Kind { kActivation, kSum };
  Kind kind = Kind::kActivation;
  Activation activation = Activation::kNone;
  float alpha = 0;         // LeakyRelu/HardSigmoid alpha, Clip min
  float beta = 0;          // HardSigmoid beta, Clip max
  int sum_input = -1;      // for kSum: index into Node::inputs of the value added
  // For kSum on an int8 convolution (QLinearConv): index into Node::inputs
  // of the operand's scale; the operand is int8/uint8 with zero point 0.
  int sum_scale_input = -1;
};

struct Node {
  std::string op_type;
  std::string name;
  std::vector<int> inputs;   // value indices, -1 = omitted optional input
  std::vector<int> outputs;  // value indices, -1 = omitted optional output
  Attributes attributes;
  int opset = 0;             // the default-domain opset the model imports
  std::vector<PostOp> post_ops;

  int input(size_t i) const { return i < inputs.size() ? inputs[i] : -1; }
};

struct Value {
  std::string name;
  DataType dtype = DataType::kFloat32;
  Shape shape;  // as declared; -1 for a dimension known only at run time
};

struct Graph {
  std::vector<Value> values;
  std::vector<Node> nodes;              // in a valid topological order
  std::map<int, Tensor> constants;      // value index -> data
  std::vector<int> inputs;              // graph inputs that are not constants
  std::vector<int> outputs;
  int opset = 0;

  int add_value(Value value);
  bool is_constant(int value) const { return constants.count(value) > 0; }
  const Tensor* constant(int value) const;
  // How many nodes read each value (graph outputs count once).
  std::vector<int> use_counts() const;
};

}  // namespace canopy::infer
