// Element-wise operators: binary arithmetic with NumPy broadcasting, the
// activations a detector uses, and BatchNormalization.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "infer/ops/op.h"

namespace canopy::infer {

namespace {

// Strides of `shape` aligned to an output of `rank` dims; 0 where broadcast.
std::vector<std::int64_t> broadcast_strides(const Shape& shape, const Shape& out) {
  std::vector<std::int64_t> strides(out.size(), 0);
  std::int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    size_t o = out.size() - shape.size() + i;
    strides[o] = shape[i] == 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

template <typename T, typename Op>
void broadcast_apply(const Tensor& a, const Tensor& b, Tensor& out, Op op) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  const std::int64_t n = out.numel();
  if (a.shape() == out.shape() && b.shape() == out.shape()) {
    for (std::int64_t i = 0; i < n; ++i) po[i] = op(pa[i], pb[i]);
    return;
  }
  const Shape& shape = out.shape();
  if (shape.empty()) {
    po[0] = op(pa[0], pb[0]);
    return;
  }
  auto sa = broadcast_strides(a.shape(), shape);
  auto sb = broadcast_strides(b.shape(), shape);
  const size_t last = shape.size() - 1;
  const std::int64_t inner = shape[last];
  std::vector<std::int64_t> index(shape.size(), 0);
  for (std::int64_t base = 0; base < n; base += inner) {
    std::int64_t oa = 0, ob = 0;
    for (size_t d = 0; d < last; ++d) {
      oa += index[d] * sa[d];
      ob += index[d] * sb[d];
    }
    for (std::int64_t j = 0; j < inner; ++j) po[base + j] = op(pa[oa + j * sa[last]], pb[ob + j * sb[last]]);
    for (size_t d = last; d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
}

template <typename Op>
OpDefinition binary_op(const std::string& name, Op op) {
  OpDefinition def;
  def.op_type = name;
  def.min_inputs = def.max_inputs = 2;
  def.infer = [](const Node& node, const std::vector<TensorInfo>& in, std::vector<TensorInfo>& out) -> Status {
    if (in[0].dtype != in[1].dtype) return op_error(node, "inputs have different types");
    if (in[0].dtype != DataType::kFloat32 && in[0].dtype != DataType::kInt64 && in[0].dtype != DataType::kInt32)
      return op_error(node, "type " + std::string(data_type_name(in[0].dtype)) + " is not supported");
    CANOPY_ASSIGN_OR_RETURN(Shape shape, broadcast_shapes(node, in[0].shape, in[1].shape));
    out = {TensorInfo{true, in[0].dtype, shape, nullptr}};
    return {};
  };
  def.run = [op](const Node&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) -> Status {
    switch (in[0]->dtype()) {
      case DataType::kFloat32: broadcast_apply<float>(*in[0], *in[1], *out[0], op); break;
      case DataType::kInt64: broadcast_apply<std::int64_t>(*in[0], *in[1], *out[0], op); break;
      case DataType::kInt32: broadcast_apply<std::int32_t>(*in[0], *in[1], *out[0], op); break;
      default: break;
    }
    return {};
  };
  return def;
}

// A float32 activation y = f(x) whose parameters come from attributes.
OpDefinition unary_op(const std::string& name, std::function<std::function<float(float)>(const Node&)> make) {
  OpDefinition def;
  def.op_type = name;
  def.infer = [](const Node& node, const std::vector<TensorInfo>& in, std::vector<TensorInfo>& out) -> Status {
    if (in[0].dtype != DataType::kFloat32) return op_error(node, "only float32 input is supported");
    out = {TensorInfo{true, DataType::kFloat32, in[0].shape, nullptr}};
    return {};
  };
  def.run = [make](const Node& node, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) -> Status {
    auto f = make(node);
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    for (std::int64_t i = 0, n = in[0]->numel(); i < n; ++i) y[i] = f(x[i]);
    return {};
  };
  return def;
}

float scalar_or(const Tensor* t, float fallback) { return t != nullptr && t->numel() > 0 ? t->data<float>()[0] : fallback; }

OpDefinition clip_op() {
  OpDefinition def;
  def.op_type = "Clip";
  def.min_inputs = 1;
  def.max_inputs = 3;
  def.infer = [](const Node& node, const std::vector<TensorInfo>& in, std::vector<TensorInfo>& out) -> Status {
    if (in[0].dtype != DataType::kFloat32) return op_error(node, "only float32 input is supported");
    for (size_t i = 1; i < in.size(); ++i)
      if (in[i].present && (in[i].dtype != DataType::kFloat32 || element_count(in[i].shape) != 1))
        return op_error(node, "min and max must be float32 scalars");
    out = {TensorInfo{true, DataType::kFloat32, in[0].shape, nullptr}};
    return {};
  };
  def.run = [](const Node&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) -> Status {
    const float lo = scalar_or(in.size() > 1 ? in[1] : nullptr, -std::numeric_limits<float>::infinity());
    const float hi = scalar_or(in.size() > 2 ? in[2] : nullptr, std::numeric_limits<float>::infinity());
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    for (std::int64_t i = 0, n = in[0]->numel(); i < n; ++i) y[i] = std::min(hi, std::max(lo, x[i]));
    return {};
  };
  return def;
}

OpDefinition batch_norm_op() {
  OpDefinition def;
  def.op_type = "BatchNormalization";
  def.min_inputs = def.max_inputs = 5;
  def.infer = [](const Node& node, const std::vector<TensorInfo>& in, std::vector<TensorInfo>& out) -> Status {
    if (node.attributes.get_int("training_mode", 0) != 0) return op_error(node, "training_mode is not supported");
    if (node.outputs.size() > 1) {
      for (size_t i = 1; i < node.outputs.size(); ++i)
        if (node.outputs[i] >= 0) return op_error(node, "running mean/var outputs (training) are not supported");
    }
    if (in[0].shape.size() < 2) return op_error(node, "input must have at least 2 dimensions");
    for (const auto& t : in)
      if (t.dtype != DataType::kFloat32) return op_error(node, "only float32 is supported");
    for (size_t i = 1; i < 5; ++i)
      if (element_count(in[i].shape) != in[0].shape[1])
        return op_error(node, "scale, bias, mean and var must have one value per channel");
    out.assign(node.outputs.size(), TensorInfo{false, DataType::kFloat32, {}, nullptr});
    out[0] = TensorInfo{true, DataType::kFloat32, in[0].shape, nullptr};
    return {};
  };
  def.run = [](const Node& node, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) -> Status {
    const float epsilon = node.attributes.get_float("epsilon", 1e-5f);
    const Shape& shape = in[0]->shape();
    const std::int64_t channels = shape[1];
    std::int64_t inner = 1;
    for (size_t i = 2; i < shape.size(); ++i) inner *= shape[i];
    const float *x = in[0]->data<float>(), *scale = in[1]->data<float>(), *bias = in[2]->data<float>(),
                *mean = in[3]->data<float>(), *var = in[4]->data<float>();
    float* y = out[0]->data<float>();
    for (std::int64_t n = 0; n < shape[0]; ++n) {
      for (std::int64_t c = 0; c < channels; ++c) {
        const float a = scale[c] / std::sqrt(var[c] + epsilon);
        const float b = bias[c] - mean[c] * a;
        const std::int64_t base = (n * channels + c) * inner;
        for (std::int64_t i = 0; i < inner; ++i) y[base + i] = x[base + i] * a + b;
      }
    }
    return {};
  };
  return def;
}

}  // namespace

void register_elementwise_ops(OpRegistry& registry) {
  registry.add(binary_op("Add", [](auto a, auto b) { return a + b; }));
  registry.add(binary_op("Sub", [](auto a, auto b) { return a - b; }));
  registry.add(binary_op("Mul", [](auto a, auto b) { return a * b; }));
  registry.add(binary_op("Div", [](auto a, auto b) {
    using T = decltype(a);
    if constexpr (std::is_integral_v<T>) {
      // Integer division by zero (or MIN / -1) would trap; a model must not crash the device.
      if (b == 0 || (b == -1 && a == std::numeric_limits<T>::min())) return T{0};
    }
    return a / b;
  }));
  registry.add(unary_op("Relu", [](const Node&) { return [](float x) { return x > 0 ? x : 0.0f; }; }));
  registry.add(unary_op("LeakyRelu", [](const Node& node) {
    const float alpha = node.attributes.get_float("alpha", 0.01f);
    return [alpha](float x) { return x >= 0 ? x : alpha * x; };
  }));
  registry.add(unary_op("Sigmoid", [](const Node&) { return [](float x) { return 1.0f / (1.0f + std::exp(-x)); }; }));
  registry.add(unary_op("HardSigmoid", [](const Node& node) {
    const float alpha = node.attributes.get_float("alpha", 0.2f);
    const float beta = node.attributes.get_float("beta", 0.5f);
    return [alpha, beta](float x) { return std::max(0.0f, std::min(1.0f, alpha * x + beta)); };
  }));
  registry.add(unary_op("HardSwish", [](const Node&) {
    return [](float x) { return x * std::max(0.0f, std::min(1.0f, x / 6.0f + 0.5f)); };
  }));
  registry.add(clip_op());
  registry.add(batch_norm_op());
}

}  // namespace canopy::infer
