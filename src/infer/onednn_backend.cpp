// oneDNN backend (x86-64): convolutions and transposed convolutions in
// float32, with fused activations and residual sums as oneDNN post-ops.
// Activations between its kernels are NHWC, the layout oneDNN's direct
// (brgemm/JIT) convolutions read without reordering; weights are reordered
// once, at plan time, into the layout oneDNN picks.
// Threads: oneDNN here is built on OpenMP; creating a kernel and each run set
// the calling thread's OpenMP thread count to the engine's.
#include <omp.h>

#include <dnnl.hpp>

#include <cstring>
#include <optional>
#include <unordered_map>

#include "infer/backend.h"
#include "infer/nhwc_ops.h"
#include "infer/ops/spatial.h"

namespace canopy::infer {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

memory::dims dims_of(const Shape& shape) { return memory::dims(shape.begin(), shape.end()); }

tag tag_of(Layout layout) { return layout == Layout::kNhwc ? tag::nhwc : tag::nchw; }

memory::desc activation_md(const TensorInfo& info) { return memory::desc(dims_of(info.shape), dt::f32, tag_of(info.layout)); }

// Appends one activation post-op; false if it has no oneDNN equivalent.
bool append_activation(const PostOp& op, dnnl::post_ops& ops) {
  switch (op.activation) {
    case Activation::kRelu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f); return true;
    case Activation::kLeakyRelu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, op.alpha, 0.f); return true;
    case Activation::kClip: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip_v2, op.alpha, op.beta); return true;
    case Activation::kSigmoid: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f); return true;
    case Activation::kSiLU: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, 1.f, 0.f); return true;
    case Activation::kHardSwish: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_hardswish, 0.f, 0.f); return true;
    case Activation::kHardSigmoid:  // oneDNN 2.6 has none: linear, then clip to [0, 1]
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, op.alpha, op.beta);
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip_v2, 0.f, 1.f);
      return true;
    case Activation::kNone: return false;
  }
  return false;
}

// Appends the node's post-ops to `ops`; false if one has no oneDNN
// equivalent. Residual operands are described in the output's layout
// (oneDNN silently miscomputes mixed layouts); the kernel converts them.
bool append_post_ops(const Node& node, const std::vector<TensorInfo>& inputs, Layout output_layout,
                     dnnl::post_ops& ops, std::vector<int>& binary_inputs) {
  for (const auto& op : node.post_ops) {
    if (op.kind == PostOp::Kind::kSum) {
      const auto& operand = inputs[static_cast<size_t>(op.sum_input)];
      ops.append_binary(dnnl::algorithm::binary_add, memory::desc(dims_of(operand.shape), dt::f32, tag_of(output_layout)));
      binary_inputs.push_back(op.sum_input);
      continue;
    }
    if (!append_activation(op, ops)) return false;
  }
  return true;
}

// One oneDNN primitive with plain NCHW source and destination, its
// pre-reordered weights, bias, binary post-op operands and scratchpad.
// A residual operand of a binary post-op, reordered into the output's
// layout when it arrives in another.
struct BinaryOperand {
  int input = -1;
  memory::desc given, wanted;
  std::optional<memory> staged;
  dnnl::reorder reorder;
};

class OneDnnKernel final : public Kernel {
 public:
  // `given_src_md` is how the input arrives; when it differs from the
  // primitive's `src_md` the kernel reorders it into a buffer of its own
  // (allocated here, at plan time) before each run.
  OneDnnKernel(dnnl::primitive primitive, memory weights, std::optional<memory> bias, memory::desc given_src_md,
               memory::desc src_md, memory::desc dst_md, std::vector<BinaryOperand> binaries,
               memory scratchpad, int threads)
      : primitive_(std::move(primitive)), weights_(std::move(weights)), bias_(std::move(bias)),
        given_src_md_(given_src_md), src_md_(src_md), dst_md_(dst_md), binaries_(std::move(binaries)),
        scratchpad_(std::move(scratchpad)), threads_(threads) {
    if (given_src_md_ != src_md_) {
      staged_src_ = memory(src_md_, cpu_engine());
      src_reorder_ = dnnl::reorder(memory(given_src_md_, cpu_engine(), DNNL_MEMORY_NONE), *staged_src_);
    }
    for (auto& b : binaries_) {
      if (b.given == b.wanted) continue;
      b.staged = memory(b.wanted, cpu_engine());
      b.reorder = dnnl::reorder(memory(b.given, cpu_engine(), DNNL_MEMORY_NONE), *b.staged);
    }
  }

  Status run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    omp_set_num_threads(threads_);
    const auto& engine = cpu_engine();
    dnnl::stream stream(engine);
    memory src(given_src_md_, engine, const_cast<void*>(inputs[0]->raw()));
    if (staged_src_) {
      src_reorder_.execute(stream, src, *staged_src_);
      src = *staged_src_;
    }
    memory dst(dst_md_, engine, outputs[0]->raw());
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_DST, dst},
                                         {DNNL_ARG_SCRATCHPAD, scratchpad_}};
    if (bias_) args[DNNL_ARG_BIAS] = *bias_;
    for (size_t i = 0; i < binaries_.size(); ++i) {
      auto& b = binaries_[i];
      memory operand(b.given, engine, const_cast<void*>(inputs[static_cast<size_t>(b.input)]->raw()));
      if (b.staged) {
        b.reorder.execute(stream, operand, *b.staged);
        operand = *b.staged;
      }
      args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(static_cast<int>(post_op_index(i))) | DNNL_ARG_SRC_1] = operand;
    }
    primitive_.execute(stream, args);
    stream.wait();
    return {};
  }
  bool fuses_post_ops() const override { return true; }
  std::string_view backend() const override { return "onednn"; }

  void set_post_op_positions(std::vector<size_t> positions) { positions_ = std::move(positions); }

 private:
  size_t post_op_index(size_t binary) const { return positions_[binary]; }

  dnnl::primitive primitive_;
  memory weights_;
  std::optional<memory> bias_;
  memory::desc given_src_md_, src_md_, dst_md_;
  std::optional<memory> staged_src_;
  dnnl::reorder src_reorder_;
  std::vector<BinaryOperand> binaries_;
  std::vector<size_t> positions_;
  memory scratchpad_;
  int threads_;
};

// QuantizeLinear / DequantizeLinear with per-tensor scale and zero point as
// one oneDNN reorder: the layout change and the (de)quantization in one
// multi-threaded pass (round half to even, saturated).
class OneDnnReorder final : public Kernel {
 public:
  OneDnnReorder(memory::desc src_md, memory::desc dst_md, const dnnl::primitive_attr& attr, int threads)
      : src_md_(src_md), dst_md_(dst_md),
        reorder_(dnnl::reorder::primitive_desc(cpu_engine(), src_md, cpu_engine(), dst_md, attr)), threads_(threads) {}

  Status run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    omp_set_num_threads(threads_);
    memory src(src_md_, cpu_engine(), const_cast<void*>(inputs[0]->raw()));
    memory dst(dst_md_, cpu_engine(), outputs[0]->raw());
    dnnl::stream stream(cpu_engine());
    reorder_.execute(stream, src, dst);
    stream.wait();
    return {};
  }
  std::string_view backend() const override { return "onednn"; }

 private:
  memory::desc src_md_, dst_md_;
  dnnl::reorder reorder_;
  int threads_;
};

// Where each binary post-op sits in the oneDNN post-op chain (HardSigmoid
// takes two entries, so positions differ from the node's post-op indices).
std::vector<size_t> binary_positions(const Node& node) {
  std::vector<size_t> positions;
  size_t index = 0;
  for (const auto& op : node.post_ops) {
    if (op.kind == PostOp::Kind::kSum) positions.push_back(index);
    index += (op.kind == PostOp::Kind::kActivation && op.activation == Activation::kHardSigmoid) ? 2 : 1;
  }
  return positions;
}

memory reorder_weights(const Tensor& weights, const memory::desc& plain, const memory::desc& wanted) {
  const auto& engine = cpu_engine();
  memory source(plain, engine, const_cast<void*>(weights.raw()));
  memory target(wanted, engine);
  dnnl::stream stream(engine);
  dnnl::reorder(source, target).execute(stream, source, target);
  stream.wait();
  return target;
}

memory copy_bias(const Tensor& bias) {
  memory::desc md({bias.numel()}, dt::f32, tag::x);
  memory target(md, cpu_engine());
  std::memcpy(target.get_data_handle(), bias.raw(), bias.size_bytes());
  return target;
}

class OneDnnBackend final : public Backend {
 public:
  explicit OneDnnBackend(int threads) : threads_(threads) {}
  std::string_view name() const override { return "onednn"; }
  Layout preferred_layout() const override { return Layout::kNhwc; }

  Result<std::unique_ptr<Kernel>> create(const Node& node, const std::vector<TensorInfo>& inputs,
                                         const std::vector<TensorInfo>& outputs) override {
    if (node.op_type == "QLinearConv") {
      omp_set_num_threads(threads_);
      try {
        return make_qconv(node, inputs, outputs);
      } catch (const dnnl::error&) {
        return std::unique_ptr<Kernel>();
      }
    }
    if (auto moved = make_nhwc_kernel(node, inputs, outputs, "onednn")) return moved;
    if (node.op_type == "QuantizeLinear" || node.op_type == "DequantizeLinear") {
      omp_set_num_threads(threads_);
      try {
        return make_quantize(node, inputs, outputs);
      } catch (const dnnl::error&) {
        return std::unique_ptr<Kernel>();
      }
    }
    if (node.op_type != "Conv" && node.op_type != "ConvTranspose") return std::unique_ptr<Kernel>();
    for (size_t i = 0; i < std::min<size_t>(inputs.size(), 3); ++i)
      if (inputs[i].present && inputs[i].dtype != DataType::kFloat32) return std::unique_ptr<Kernel>();
    // Weights and bias must be constants to be prepared once.
    if (inputs[1].value == nullptr || (inputs.size() > 2 && inputs[2].present && node.input(2) >= 0 &&
                                       inputs[2].value == nullptr && !is_post_op_input(node, 2)))
      return std::unique_ptr<Kernel>();
    // oneDNN fixes a primitive's thread count when it is created (from the
    // calling thread's OpenMP setting), so set it here as well as in run().
    omp_set_num_threads(threads_);
    try {
      return make_float_conv(node, inputs, outputs);
    } catch (const dnnl::error& e) {
      // oneDNN has no implementation for this configuration: the reference kernel runs it.
      return std::unique_ptr<Kernel>();
    }
  }

 private:
  static bool is_post_op_input(const Node& node, int index) {
    for (const auto& op : node.post_ops)
      if (op.kind == PostOp::Kind::kSum && op.sum_input == index) return true;
    return false;
  }

  static const Tensor* bias_of(const Node& node, const std::vector<TensorInfo>& inputs) {
    if (inputs.size() < 3 || is_post_op_input(node, 2) || !inputs[2].present) return nullptr;
    return inputs[2].value;
  }

  // Conv or ConvTranspose in float32; the two differ only in their window,
  // their weight layout and the oneDNN primitive.
  Result<std::unique_ptr<Kernel>> make_float_conv(const Node& node, const std::vector<TensorInfo>& inputs,
                                                  const std::vector<TensorInfo>& outputs) {
    const bool transposed = node.op_type == "ConvTranspose";
    const Shape& x = inputs[0].shape;
    const Tensor& w = *inputs[1].value;
    const std::int64_t group = node.attributes.get_int("group", 1);
    Window2d win;
    memory::dims w_dims;
    tag w_tag;
    if (transposed) {
      CANOPY_ASSIGN_OR_RETURN(win, transposed_window(node, x[2], x[3], {w.dim(2), w.dim(3)}));
      // ONNX keeps ConvTranspose weights as [C_in, C_out/group, kH, kW]: oneDNN's iohw.
      w_dims = group == 1 ? memory::dims{w.dim(1), w.dim(0), w.dim(2), w.dim(3)}
                          : memory::dims{group, w.dim(1), w.dim(0) / group, w.dim(2), w.dim(3)};
      w_tag = group == 1 ? tag::iohw : tag::giohw;
    } else {
      CANOPY_ASSIGN_OR_RETURN(win, forward_window(node, x[2], x[3], {w.dim(2), w.dim(3)}, false));
      w_dims = group == 1 ? dims_of(w.shape()) : memory::dims{group, w.dim(0) / group, w.dim(1), w.dim(2), w.dim(3)};
      w_tag = group == 1 ? tag::oihw : tag::goihw;
    }
    // Mixed layouts send oneDNN to its slow reference code: the source is
    // brought to the destination's layout first.
    memory::desc given_src_md = activation_md(inputs[0]);
    memory::desc dst_md = activation_md(outputs[0]);
    memory::desc src_md(dims_of(x), dt::f32, tag_of(outputs[0].layout));
    memory::desc w_any(w_dims, dt::f32, tag::any);
    const Tensor* bias = bias_of(node, inputs);
    memory::desc b_md = bias ? memory::desc({bias->numel()}, dt::f32, tag::x) : memory::desc();
    dnnl::post_ops ops;
    std::vector<int> binary_inputs;
    if (!append_post_ops(node, inputs, outputs[0].layout, ops, binary_inputs)) return std::unique_ptr<Kernel>();
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const memory::dims strides{win.stride[0], win.stride[1]}, dilations{win.dilation[0] - 1, win.dilation[1] - 1},
        pad_l{win.pad_begin[0], win.pad_begin[1]}, pad_r{win.pad_end[0], win.pad_end[1]};
    dnnl::primitive primitive;
    memory::desc weights_md, scratchpad_md;
    if (transposed) {
      dnnl::deconvolution_forward::primitive_desc pd(
          dnnl::deconvolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct,
                                            src_md, w_any, b_md, dst_md, strides, dilations, pad_l, pad_r),
          attr, cpu_engine());
      primitive = dnnl::deconvolution_forward(pd);
      weights_md = pd.weights_desc();
      scratchpad_md = pd.scratchpad_desc();
    } else {
      dnnl::convolution_forward::primitive_desc pd(
          dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                          src_md, w_any, b_md, dst_md, strides, dilations, pad_l, pad_r),
          attr, cpu_engine());
      primitive = dnnl::convolution_forward(pd);
      weights_md = pd.weights_desc();
      scratchpad_md = pd.scratchpad_desc();
    }
    return finish(node, std::move(primitive), reorder_weights(w, memory::desc(w_dims, dt::f32, w_tag), weights_md),
                  bias, given_src_md, src_md, dst_md, outputs[0].layout, inputs, binary_inputs, scratchpad_md);
  }

  Result<std::unique_ptr<Kernel>> make_quantize(const Node& node, const std::vector<TensorInfo>& inputs,
                                                const std::vector<TensorInfo>& outputs) {
    const bool quantize = node.op_type == "QuantizeLinear";
    if (inputs[0].shape.size() != 4 || inputs[1].value == nullptr || inputs[1].value->numel() != 1)
      return std::unique_ptr<Kernel>();
    if (inputs.size() > 2 && inputs[2].present && (inputs[2].value == nullptr || inputs[2].value->numel() != 1))
      return std::unique_ptr<Kernel>();
    const DataType int_type = quantize ? outputs[0].dtype : inputs[0].dtype;
    if (int_type != DataType::kUInt8 && int_type != DataType::kInt8) return std::unique_ptr<Kernel>();
    const float scale = inputs[1].value->data<float>()[0];
    const auto zero = static_cast<std::int32_t>(
        inputs.size() > 2 && inputs[2].present ? to_int64_vector(*inputs[2].value)[0] : 0);
    const dt int_dt = int_type == DataType::kInt8 ? dt::s8 : dt::u8;
    memory::desc src_md(dims_of(inputs[0].shape), quantize ? dt::f32 : int_dt, tag_of(inputs[0].layout));
    memory::desc dst_md(dims_of(outputs[0].shape), quantize ? int_dt : dt::f32, tag_of(outputs[0].layout));
    dnnl::primitive_attr attr;
    attr.set_output_scales(0, {quantize ? 1.0f / scale : scale});
    if (zero != 0) attr.set_zero_points(quantize ? DNNL_ARG_DST : DNNL_ARG_SRC, 0, {zero});
    return std::unique_ptr<Kernel>(std::make_unique<OneDnnReorder>(src_md, dst_md, attr, threads_));
  }

  // int8 convolution (QLinearConv) with symmetric (zero-point 0) input and
  // weights: s8/u8 NHWC activations, s8 weights, per-channel output scales
  // x_scale * w_scale giving real values, float activations, then the
  // requantization to y_scale / y_zero_point as a final linear post-op.
  Result<std::unique_ptr<Kernel>> make_qconv(const Node& node, const std::vector<TensorInfo>& inputs,
                                             const std::vector<TensorInfo>& outputs) {
    for (int i : {1, 2, 3, 4, 5, 6, 7})
      if (inputs[static_cast<size_t>(i)].value == nullptr) return std::unique_ptr<Kernel>();
    const Tensor& w = *inputs[3].value;
    const Tensor& w_scale = *inputs[4].value;
    if (w.dtype() != DataType::kInt8) return std::unique_ptr<Kernel>();
    for (auto z : to_int64_vector(*inputs[5].value))
      if (z != 0) return std::unique_ptr<Kernel>();
    if (to_int64_vector(*inputs[2].value)[0] != 0) return std::unique_ptr<Kernel>();
    const Tensor* bias = inputs.size() > 8 && inputs[8].present ? inputs[8].value : nullptr;
    if (inputs.size() > 8 && inputs[8].present && bias == nullptr) return std::unique_ptr<Kernel>();
    const float x_scale = inputs[1].value->data<float>()[0];
    const float y_scale = inputs[6].value->data<float>()[0];
    const float y_zero = static_cast<float>(to_int64_vector(*inputs[7].value)[0]);
    const Shape& x = inputs[0].shape;
    CANOPY_ASSIGN_OR_RETURN(Window2d win, forward_window(node, x[2], x[3], {w.dim(2), w.dim(3)}, false));
    const std::int64_t group = node.attributes.get_int("group", 1);
    memory::dims w_dims = group == 1 ? dims_of(w.shape())
                                     : memory::dims{group, w.dim(0) / group, w.dim(1), w.dim(2), w.dim(3)};
    auto int8_type = [](DataType t) { return t == DataType::kInt8 ? dt::s8 : dt::u8; };
    memory::desc given_src_md(dims_of(x), int8_type(inputs[0].dtype), tag_of(inputs[0].layout));
    memory::desc src_md(dims_of(x), int8_type(inputs[0].dtype), tag_of(outputs[0].layout));
    memory::desc dst_md(dims_of(outputs[0].shape), int8_type(outputs[0].dtype), tag_of(outputs[0].layout));
    memory::desc w_plain(w_dims, dt::s8, group == 1 ? tag::oihw : tag::goihw);
    memory::desc w_any(w_dims, dt::s8, tag::any);
    memory::desc b_md = bias ? memory::desc({bias->numel()}, dt::s32, tag::x) : memory::desc();
    // A residual sum adds an int8 operand that oneDNN cannot scale, so the
    // accumulator is brought to the operand's units instead (output scales
    // divided by its scale, the final linear step multiplied by it). That is
    // exact only when every activation commutes with a positive scale.
    float unit = 1.0f;
    std::vector<BinaryOperand> binaries;
    for (const auto& op : node.post_ops) {
      if (op.kind == PostOp::Kind::kActivation && op.activation != Activation::kRelu &&
          op.activation != Activation::kLeakyRelu && has_sum(node))
        return std::unique_ptr<Kernel>();
      if (op.kind != PostOp::Kind::kSum) continue;
      const TensorInfo& operand = inputs[static_cast<size_t>(op.sum_input)];
      const TensorInfo& operand_scale = inputs[static_cast<size_t>(op.sum_scale_input)];
      if (operand_scale.value == nullptr) return std::unique_ptr<Kernel>();
      unit = operand_scale.value->data<float>()[0];
      binaries.push_back(BinaryOperand{op.sum_input, memory::desc(dims_of(operand.shape), int8_type(operand.dtype), tag_of(operand.layout)),
                                       memory::desc(dims_of(operand.shape), int8_type(operand.dtype), tag_of(outputs[0].layout)),
                                       std::nullopt, {}});
    }
    std::vector<float> scales;
    for (std::int64_t m = 0; m < w_scale.numel(); ++m) scales.push_back(x_scale * w_scale.data<float>()[m] / unit);
    dnnl::post_ops ops;
    if (!append_int8_post_ops(node, binaries, ops)) return std::unique_ptr<Kernel>();
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, unit / y_scale, y_zero);
    dnnl::primitive_attr attr;
    attr.set_output_scales(scales.size() > 1 ? 2 : 0, scales);
    attr.set_post_ops(ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md, w_any, b_md, dst_md,
        {win.stride[0], win.stride[1]}, {win.dilation[0] - 1, win.dilation[1] - 1},
        {win.pad_begin[0], win.pad_begin[1]}, {win.pad_end[0], win.pad_end[1]});
    dnnl::convolution_forward::primitive_desc pd(desc, attr, cpu_engine());
    std::optional<memory> bias_memory;
    if (bias) {
      bias_memory = memory(b_md, cpu_engine());
      std::memcpy(bias_memory->get_data_handle(), bias->raw(), bias->size_bytes());
    }
    auto kernel = std::make_unique<OneDnnKernel>(
        dnnl::convolution_forward(pd), reorder_weights(w, w_plain, pd.weights_desc()), std::move(bias_memory),
        given_src_md, src_md, dst_md, std::move(binaries), memory(pd.scratchpad_desc(), cpu_engine()), threads_);
    kernel->set_post_op_positions(binary_positions(node));
    return std::unique_ptr<Kernel>(std::move(kernel));
  }

  static bool has_sum(const Node& node) {
    for (const auto& op : node.post_ops)
      if (op.kind == PostOp::Kind::kSum) return true;
    return false;
  }

  // The post-ops of an int8 convolution: activations as eltwise steps and the
  // residual sum as a binary add of the int8 operand (see make_qconv).
  static bool append_int8_post_ops(const Node& node, const std::vector<BinaryOperand>& binaries, dnnl::post_ops& ops) {
    size_t next_binary = 0;
    for (const auto& op : node.post_ops) {
      if (op.kind == PostOp::Kind::kSum) {
        ops.append_binary(dnnl::algorithm::binary_add, binaries[next_binary++].wanted);
        continue;
      }
      if (!append_activation(op, ops)) return false;
    }
    return true;
  }

  std::unique_ptr<Kernel> finish(const Node& node, dnnl::primitive primitive, memory weights, const Tensor* bias,
                                 const memory::desc& given_src_md, const memory::desc& src_md,
                                 const memory::desc& dst_md, Layout output_layout,
                                 const std::vector<TensorInfo>& inputs, const std::vector<int>& binary_inputs,
                                 const memory::desc& scratchpad_md) {
    std::vector<BinaryOperand> binaries;
    for (int input : binary_inputs) {
      const auto& operand = inputs[static_cast<size_t>(input)];
      binaries.push_back(BinaryOperand{input, activation_md(operand),
                                       memory::desc(dims_of(operand.shape), dt::f32, tag_of(output_layout)),
                                       std::nullopt, {}});
    }
    auto kernel = std::make_unique<OneDnnKernel>(
        std::move(primitive), std::move(weights), bias ? std::optional<memory>(copy_bias(*bias)) : std::nullopt,
        given_src_md, src_md, dst_md, std::move(binaries), memory(scratchpad_md, cpu_engine()), threads_);
    kernel->set_post_op_positions(binary_positions(node));
    return kernel;
  }

  int threads_;
};

}  // namespace

std::unique_ptr<Backend> make_onednn_backend(int threads) { return std::make_unique<OneDnnBackend>(threads); }

}  // namespace canopy::infer
