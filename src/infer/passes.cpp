#include "infer/passes.h"

#include <cmath>
#include <optional>
#include <set>

#include "infer/ops/op.h"
#include "infer/shape_inference.h"

namespace canopy::infer {

namespace {

// Index of the node producing each value, -1 for inputs and constants.
std::vector<int> producers(const Graph& graph) {
  std::vector<int> producer(graph.values.size(), -1);
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (int v : graph.nodes[i].outputs)
      if (v >= 0) producer[static_cast<size_t>(v)] = static_cast<int>(i);
  return producer;
}

// The single node reading `value`, or -1 when zero or several nodes (or the
// graph outputs) read it.
int sole_consumer(const Graph& graph, int value) {
  int found = -1;
  for (int out : graph.outputs)
    if (out == value) return -1;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (int v : graph.nodes[i].inputs) {
      if (v != value) continue;
      if (found >= 0 && found != static_cast<int>(i)) return -1;
      found = static_cast<int>(i);
    }
  }
  return found;
}

int count_readers(const Graph& graph, int value) {
  int count = 0;
  for (const auto& node : graph.nodes)
    for (int v : node.inputs)
      if (v == value) ++count;
  for (int out : graph.outputs)
    if (out == value) ++count;
  return count;
}

void erase_nodes(Graph& graph, const std::set<size_t>& doomed) {
  std::vector<Node> kept;
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    if (!doomed.count(i)) kept.push_back(std::move(graph.nodes[i]));
  graph.nodes = std::move(kept);
}

bool is_fusable_producer(const Node& node) { return node.op_type == "Conv" || node.op_type == "ConvTranspose"; }

// The activation `node` applies, as a post-op, when its parameters are known now.
std::optional<PostOp> as_activation(const Graph& graph, const Node& node) {
  PostOp op;
  if (node.op_type == "Relu") op.activation = Activation::kRelu;
  if (node.op_type == "Sigmoid") op.activation = Activation::kSigmoid;
  if (node.op_type == "HardSwish") op.activation = Activation::kHardSwish;
  if (op.activation != Activation::kNone) return op;
  if (node.op_type == "LeakyRelu") {
    op.activation = Activation::kLeakyRelu;
    op.alpha = node.attributes.get_float("alpha", 0.01f);
    return op;
  }
  if (node.op_type == "HardSigmoid") {
    op.activation = Activation::kHardSigmoid;
    op.alpha = node.attributes.get_float("alpha", 0.2f);
    op.beta = node.attributes.get_float("beta", 0.5f);
    return op;
  }
  if (node.op_type == "Clip") {
    op.activation = Activation::kClip;
    op.alpha = -INFINITY;
    op.beta = INFINITY;
    for (size_t i = 1; i < node.inputs.size(); ++i) {
      if (node.inputs[i] < 0) continue;
      const Tensor* bound = graph.constant(node.inputs[i]);
      if (bound == nullptr || bound->numel() != 1 || bound->dtype() != DataType::kFloat32) return std::nullopt;
      (i == 1 ? op.alpha : op.beta) = bound->data<float>()[0];
    }
    return op;
  }
  return std::nullopt;
}

bool same_shape(const std::vector<TensorInfo>& infos, int a, int b) {
  if (infos.empty()) return false;
  const auto& ia = infos[static_cast<size_t>(a)];
  const auto& ib = infos[static_cast<size_t>(b)];
  return ia.present && ib.present && !ia.shape.empty() && ia.shape == ib.shape;
}

// Tries one fusion onto the producer node at `index`; true when the graph changed.
// `infos` holds each value's shape for the default input shapes (empty when
// they could not be computed, which disables residual fusion).
bool fuse_one(Graph& graph, size_t index, const std::vector<TensorInfo>& infos) {
  Node& producer = graph.nodes[index];
  if (!is_fusable_producer(producer)) return false;
  const int out = producer.outputs[0];
  // SiLU: x * Sigmoid(x), where x is our output, read by exactly those two nodes.
  if (count_readers(graph, out) == 2) {
    int sigmoid = -1, mul = -1;
    for (size_t i = index + 1; i < graph.nodes.size(); ++i) {
      const Node& n = graph.nodes[i];
      if (n.op_type == "Sigmoid" && n.inputs[0] == out) sigmoid = static_cast<int>(i);
    }
    if (sigmoid >= 0) {
      const int s = graph.nodes[static_cast<size_t>(sigmoid)].outputs[0];
      for (size_t i = index + 1; i < graph.nodes.size(); ++i) {
        const Node& n = graph.nodes[i];
        if (n.op_type == "Mul" && ((n.inputs[0] == out && n.inputs[1] == s) || (n.inputs[0] == s && n.inputs[1] == out)))
          mul = static_cast<int>(i);
      }
      if (mul >= 0 && sole_consumer(graph, s) == mul) {
        PostOp op;
        op.activation = Activation::kSiLU;
        producer.post_ops.push_back(op);
        producer.outputs[0] = graph.nodes[static_cast<size_t>(mul)].outputs[0];
        erase_nodes(graph, {static_cast<size_t>(sigmoid), static_cast<size_t>(mul)});
        return true;
      }
    }
  }
  const int consumer_index = sole_consumer(graph, out);
  if (consumer_index < 0) return false;
  Node& consumer = graph.nodes[static_cast<size_t>(consumer_index)];
  if (auto activation = as_activation(graph, consumer); activation && consumer.inputs[0] == out) {
    producer.post_ops.push_back(*activation);
    producer.outputs[0] = consumer.outputs[0];
    erase_nodes(graph, {static_cast<size_t>(consumer_index)});
    return true;
  }
  if (consumer.op_type == "Add") {
    const int other = consumer.inputs[0] == out ? consumer.inputs[1] : consumer.inputs[0];
    if (other == out || !same_shape(infos, other, consumer.outputs[0]) || !same_shape(infos, out, consumer.outputs[0]))
      return false;
    // The other operand must exist when the producer runs.
    auto producer_of = producers(graph);
    if (producer_of[static_cast<size_t>(other)] >= static_cast<int>(index)) return false;
    PostOp op;
    op.kind = PostOp::Kind::kSum;
    // Operands of post-ops follow all of the operator's own inputs (an
    // omitted bias keeps its slot).
    if (producer.inputs.size() < 3) producer.inputs.resize(3, -1);
    op.sum_input = static_cast<int>(producer.inputs.size());
    producer.inputs.push_back(other);
    producer.post_ops.push_back(op);
    producer.outputs[0] = consumer.outputs[0];
    erase_nodes(graph, {static_cast<size_t>(consumer_index)});
    return true;
  }
  return false;
}

// The DequantizeLinear node producing `value`, or nullptr.
const Node* dequantizer_of(const Graph& graph, const std::vector<int>& producer, int value) {
  const int p = value >= 0 ? producer[static_cast<size_t>(value)] : -1;
  if (p < 0) return nullptr;
  const Node& node = graph.nodes[static_cast<size_t>(p)];
  return node.op_type == "DequantizeLinear" ? &node : nullptr;
}

// A scalar constant (scale or zero point), or nullptr.
const Tensor* scalar_constant(const Graph& graph, int value) {
  const Tensor* t = value >= 0 ? graph.constant(value) : nullptr;
  return t != nullptr && t->numel() == 1 ? t : nullptr;
}

// A zero point input of a Q/DQ node; an omitted one means uint8 zero.
int zero_point_or_default(Graph& graph, const Node& node, const std::string& name) {
  if (node.input(2) >= 0) return node.inputs[2];
  Tensor zero = Tensor::allocate(DataType::kUInt8, {});
  const int v = graph.add_value(Value{name, DataType::kUInt8, {}});
  graph.constants[v] = std::move(zero);
  return v;
}

// Tries to turn the Conv at `index` and its Q/DQ neighbours into one
// QLinearConv; true when the graph changed.
bool fuse_qdq_at(Graph& graph, size_t index) {
  const Node& conv = graph.nodes[index];
  if (conv.op_type != "Conv") return false;
  const auto producer = producers(graph);
  // A residual sum stays fused when its operand is dequantized int8 with a
  // zero point of 0: the int8 kernel reads the int8 tensor and its scale.
  int sum_post_op = -1;
  const Node* dsum = nullptr;
  for (size_t k = 0; k < conv.post_ops.size(); ++k) {
    if (conv.post_ops[k].kind != PostOp::Kind::kSum) continue;
    if (dsum != nullptr) return false;
    dsum = dequantizer_of(graph, producer, conv.inputs[static_cast<size_t>(conv.post_ops[k].sum_input)]);
    if (dsum == nullptr || !scalar_constant(graph, dsum->inputs[1])) return false;
    if (dsum->input(2) >= 0) {
      const Tensor* zero = scalar_constant(graph, dsum->inputs[2]);
      if (zero == nullptr || to_int64_vector(*zero)[0] != 0) return false;
    }
    sum_post_op = static_cast<int>(k);
  }
  const Node* dx = dequantizer_of(graph, producer, conv.inputs[0]);
  const Node* dw = dequantizer_of(graph, producer, conv.inputs[1]);
  const int q_index = sole_consumer(graph, conv.outputs[0]);
  if (dx == nullptr || dw == nullptr || q_index < 0) return false;
  const Node& q = graph.nodes[static_cast<size_t>(q_index)];
  if (q.op_type != "QuantizeLinear" || q.inputs[0] != conv.outputs[0]) return false;
  const Tensor* w = graph.constant(dw->inputs[0]);
  const Tensor* w_scale = graph.constant(dw->inputs[1]);
  const Tensor* x_scale = scalar_constant(graph, dx->inputs[1]);
  const Tensor* y_scale = scalar_constant(graph, q.inputs[1]);
  if (w == nullptr || w_scale == nullptr || x_scale == nullptr || y_scale == nullptr) return false;
  if (w->rank() != 4 || (w_scale->numel() != 1 && w_scale->numel() != w->dim(0))) return false;
  if (w_scale->numel() > 1 && dw->attributes.get_int("axis", 1) != 0) return false;
  if ((dx->input(2) >= 0 && !scalar_constant(graph, dx->inputs[2])) ||
      (q.input(2) >= 0 && !scalar_constant(graph, q.inputs[2])) || (dw->input(2) >= 0 && !graph.is_constant(dw->inputs[2])))
    return false;
  // The bias becomes int32 in accumulator units (x_scale * w_scale).
  std::optional<Tensor> bias_int;
  const bool has_bias = conv.input(2) >= 0 && (dsum == nullptr || conv.post_ops[static_cast<size_t>(sum_post_op)].sum_input != 2);
  if (has_bias) {
    const Tensor* bias = graph.constant(conv.inputs[2]);
    const Node* db = dequantizer_of(graph, producer, conv.inputs[2]);
    std::vector<float> real;
    if (bias != nullptr && bias->dtype() == DataType::kFloat32) {
      real = to_float_vector(*bias);
    } else if (db != nullptr && graph.is_constant(db->inputs[0]) && graph.is_constant(db->inputs[1])) {
      // int32 bias with a scale per tensor or per output channel.
      auto q_bias = to_float_vector(*graph.constant(db->inputs[0]));
      const Tensor& s = *graph.constant(db->inputs[1]);
      if (s.numel() != 1 && s.numel() != static_cast<std::int64_t>(q_bias.size())) return false;
      for (size_t m = 0; m < q_bias.size(); ++m) real.push_back(q_bias[m] * s.data<float>()[s.numel() == 1 ? 0 : m]);
    } else {
      return false;
    }
    if (static_cast<std::int64_t>(real.size()) != w->dim(0)) return false;
    Tensor b = Tensor::allocate(DataType::kInt32, {w->dim(0)});
    const float xs = x_scale->data<float>()[0];
    for (std::int64_t m = 0; m < w->dim(0); ++m) {
      const float ws = w_scale->data<float>()[w_scale->numel() > 1 ? m : 0];
      b.data<std::int32_t>()[m] = static_cast<std::int32_t>(std::nearbyint(real[static_cast<size_t>(m)] / (xs * ws)));
    }
    bias_int = std::move(b);
  }
  Node fused;
  fused.op_type = "QLinearConv";
  fused.name = conv.name + ".int8";
  fused.opset = conv.opset;
  fused.attributes = conv.attributes;
  fused.post_ops = conv.post_ops;
  const int x_zero = zero_point_or_default(graph, *dx, conv.name + ".x_zero_point");
  const int w_zero = zero_point_or_default(graph, *dw, conv.name + ".w_zero_point");
  const int y_zero = zero_point_or_default(graph, q, conv.name + ".y_zero_point");
  // zero_point_or_default may have grown graph.values; node references stay valid (nodes unchanged).
  fused.inputs = {dx->inputs[0], dx->inputs[1], x_zero, dw->inputs[0], dw->inputs[1], w_zero, q.inputs[1], y_zero};
  if (bias_int) {
    const int b = graph.add_value(Value{conv.name + ".bias_int32", DataType::kInt32, bias_int->shape()});
    graph.constants[b] = std::move(*bias_int);
    fused.inputs.push_back(b);
  }
  if (dsum != nullptr) {
    if (fused.inputs.size() < 9) fused.inputs.push_back(-1);  // no bias
    PostOp& sum = fused.post_ops[static_cast<size_t>(sum_post_op)];
    sum.sum_input = static_cast<int>(fused.inputs.size());
    sum.sum_scale_input = sum.sum_input + 1;
    fused.inputs.push_back(dsum->inputs[0]);
    fused.inputs.push_back(dsum->inputs[1]);
  }
  fused.outputs = {q.outputs[0]};
  graph.nodes[index] = std::move(fused);
  erase_nodes(graph, {static_cast<size_t>(q_index)});
  return true;
}

}  // namespace

void fuse_qdq_convolutions(Graph& graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) fuse_qdq_at(graph, i);
}

Status fold_constants(Graph& graph, bool fold_dequantize) {
  const OpRegistry& ops = OpRegistry::reference();
  std::set<size_t> folded;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    if ((node.op_type == "DequantizeLinear" && !fold_dequantize) || !node.post_ops.empty()) continue;
    bool all_constant = true;
    for (int v : node.inputs)
      if (v >= 0 && !graph.is_constant(v)) all_constant = false;
    if (!all_constant) continue;
    const OpDefinition* op = ops.find(node.op_type);
    std::vector<TensorInfo> in_info;
    std::vector<const Tensor*> in_tensors;
    for (int v : node.inputs) {
      const Tensor* t = v >= 0 ? graph.constant(v) : nullptr;
      in_info.push_back(t ? TensorInfo{true, t->dtype(), t->shape(), t} : TensorInfo{false, DataType::kFloat32, {}, nullptr});
      in_tensors.push_back(t);
    }
    std::vector<TensorInfo> out_info;
    CANOPY_TRY(op->infer(node, in_info, out_info));
    std::vector<Tensor> outputs;
    std::vector<Tensor*> out_ptrs;
    outputs.reserve(out_info.size());
    for (const auto& info : out_info) outputs.push_back(info.present ? Tensor::allocate(info.dtype, info.shape) : Tensor());
    for (size_t k = 0; k < outputs.size(); ++k) out_ptrs.push_back(out_info[k].present ? &outputs[k] : nullptr);
    CANOPY_TRY(op->run(node, in_tensors, out_ptrs));
    for (size_t k = 0; k < node.outputs.size() && k < outputs.size(); ++k)
      if (node.outputs[k] >= 0 && out_info[k].present) graph.constants[node.outputs[k]] = std::move(outputs[k]);
    folded.insert(i);
  }
  erase_nodes(graph, folded);
  return {};
}

void fold_batch_norm(Graph& graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    Node& conv = graph.nodes[i];
    if (conv.op_type != "Conv" || !conv.post_ops.empty()) continue;
    const int bn_index = sole_consumer(graph, conv.outputs[0]);
    if (bn_index < 0) continue;
    const Node& bn = graph.nodes[static_cast<size_t>(bn_index)];
    if (bn.op_type != "BatchNormalization" || bn.inputs[0] != conv.outputs[0]) continue;
    const Tensor* weights = graph.constant(conv.inputs[1]);
    const Tensor* bias = conv.input(2) >= 0 ? graph.constant(conv.inputs[2]) : nullptr;
    const Tensor *scale = graph.constant(bn.inputs[1]), *shift = graph.constant(bn.inputs[2]),
                 *mean = graph.constant(bn.inputs[3]), *var = graph.constant(bn.inputs[4]);
    if (!weights || !scale || !shift || !mean || !var || (conv.input(2) >= 0 && !bias)) continue;
    if (weights->dtype() != DataType::kFloat32 || weights->rank() != 4) continue;
    const std::int64_t channels = weights->dim(0);
    if (scale->numel() != channels || shift->numel() != channels || mean->numel() != channels || var->numel() != channels)
      continue;
    const float epsilon = bn.attributes.get_float("epsilon", 1e-5f);
    Tensor new_weights = weights->clone();
    Tensor new_bias = Tensor::allocate(DataType::kFloat32, {channels});
    const std::int64_t per_channel = weights->numel() / channels;
    for (std::int64_t c = 0; c < channels; ++c) {
      const float a = scale->data<float>()[c] / std::sqrt(var->data<float>()[c] + epsilon);
      for (std::int64_t k = 0; k < per_channel; ++k) new_weights.data<float>()[c * per_channel + k] *= a;
      const float b = bias ? bias->data<float>()[c] : 0.0f;
      new_bias.data<float>()[c] = (b - mean->data<float>()[c]) * a + shift->data<float>()[c];
    }
    const int w_value = graph.add_value(Value{conv.name + ".folded_weights", DataType::kFloat32, new_weights.shape()});
    const int b_value = graph.add_value(Value{conv.name + ".folded_bias", DataType::kFloat32, {channels}});
    graph.constants[w_value] = std::move(new_weights);
    graph.constants[b_value] = std::move(new_bias);
    Node& target = graph.nodes[i];
    target.inputs.resize(3);
    target.inputs[1] = w_value;
    target.inputs[2] = b_value;
    target.outputs[0] = graph.nodes[static_cast<size_t>(bn_index)].outputs[0];
    erase_nodes(graph, {static_cast<size_t>(bn_index)});
  }
}

void fuse_post_ops(Graph& graph) {
  // Shapes decide whether an Add is a residual the convolution can absorb.
  // Fusions only rewire values, so shapes computed once stay valid.
  auto infos = infer_value_infos(graph, default_input_shapes(graph));
  const std::vector<TensorInfo> known = infos.ok() ? std::move(*infos) : std::vector<TensorInfo>{};
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    while (fuse_one(graph, i, known)) {
    }
}

void remove_dead_nodes(Graph& graph) {
  bool changed = true;
  while (changed) {
    changed = false;
    auto uses = graph.use_counts();
    std::set<size_t> dead;
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      bool used = false;
      for (int v : graph.nodes[i].outputs)
        if (v >= 0 && uses[static_cast<size_t>(v)] > 0) used = true;
      if (!used) dead.insert(i);
    }
    if (!dead.empty()) {
      erase_nodes(graph, dead);
      changed = true;
    }
  }
}

Status optimize_graph(Graph& graph) {
  CANOPY_TRY(fold_constants(graph));
  fold_batch_norm(graph);
  fuse_post_ops(graph);
  fuse_qdq_convolutions(graph);
  remove_dead_nodes(graph);
  CANOPY_TRY(fold_constants(graph, true));
  remove_dead_nodes(graph);
  return {};
}

}  // namespace canopy::infer
