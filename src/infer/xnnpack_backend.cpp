// XNNPACK backend: the portable one (ARM boards first; it runs on x86 too).
// float32 Conv and ConvTranspose, and int8 QLinearConv (per-channel weights,
// "qc8"), NHWC.
// XNNPACK fuses only a clamp, so a leading Relu or Clip becomes the clamp
// and any other float activation or residual sum is applied after, on the
// output; an int8 residual sum is XNNPACK's own int8 add. uint8 activations are shifted to int8 on the way in and out
// (x - 128 with the zero point moved alike: the same real values).
#include <pthreadpool.h>
#include <xnnpack.h>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>

#include "infer/backend.h"
#include "infer/nhwc_ops.h"
#include "infer/ops/spatial.h"

namespace canopy::infer {

namespace {

bool xnnpack_ready() {
  static const bool ready = xnn_initialize(nullptr) == xnn_status_success;
  return ready;
}

using Threadpool = std::shared_ptr<pthreadpool>;
using Operator = std::unique_ptr<xnn_operator, enum xnn_status (*)(xnn_operator_t)>;

// The weights as XNNPACK wants them: [M][kH][kW][C/group] (ONNX has [M][C/group][kH][kW]).
template <typename T>
std::vector<T> ohwi(const Tensor& w) {
  const std::int64_t M = w.dim(0), C = w.dim(1), KH = w.dim(2), KW = w.dim(3);
  std::vector<T> out(static_cast<size_t>(w.numel()));
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t h = 0; h < KH; ++h)
        for (std::int64_t k = 0; k < KW; ++k)
          out[static_cast<size_t>(((m * KH + h) * KW + k) * C + c)] = w.data<T>()[((m * C + c) * KH + h) * KW + k];
  return out;
}

// Which XNNPACK operator a kernel drives.
enum class ConvKind { kFloat, kQuantized, kTransposed };

class XnnpackConv final : public Kernel {
 public:
  XnnpackConv(const Node& node, Operator op, Threadpool pool, ConvKind kind, bool nchw_input, bool u8_input,
              bool u8_output, size_t first_software_post_op, std::int64_t staged_input_bytes,
              std::int64_t staged_output_bytes, bool nchw_residual)
      : node_(node), op_(std::move(op)), pool_(std::move(pool)), kind_(kind), nchw_input_(nchw_input),
        u8_input_(u8_input), u8_output_(u8_output), nchw_residual_(nchw_residual),
        first_software_post_op_(first_software_post_op), staged_input_(static_cast<size_t>(staged_input_bytes)),
        staged_output_(static_cast<size_t>(staged_output_bytes)) {}

  Status run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    const Tensor& x = *inputs[0];
    Tensor& y = *outputs[0];
    const void* input = x.raw();
    if (nchw_input_ || u8_input_) {
      if (nchw_input_) convert_layout(x, Layout::kNchw, Layout::kNhwc, staged_input_.data());
      else std::memcpy(staged_input_.data(), x.raw(), x.size_bytes());
      if (u8_input_)
        for (auto& b : staged_input_) b = static_cast<unsigned char>(b ^ 0x80);  // u8 - 128 as s8
      input = staged_input_.data();
    }
    void* output = u8_output_ ? staged_output_.data() : y.raw();
    // With a residual, the convolution writes to a buffer of its own and the add writes the output.
    void* conv_output = residual_op_ ? residual_staged_conv_.data() : output;
    if (input != last_input_ || conv_output != last_output_) {
      // XNNPACK builds its indirection buffers at setup: redo it only when pointers move.
      const auto n = static_cast<size_t>(x.dim(0)), h = static_cast<size_t>(x.dim(2)), w = static_cast<size_t>(x.dim(3));
      xnn_status status = xnn_status_success;
      switch (kind_) {
        case ConvKind::kQuantized:
          status = xnn_setup_convolution2d_nhwc_qc8(op_.get(), n, h, w, static_cast<const int8_t*>(input),
                                                    static_cast<int8_t*>(conv_output), pool_.get());
          break;
        case ConvKind::kFloat:
          status = xnn_setup_convolution2d_nhwc_f32(op_.get(), n, h, w, static_cast<const float*>(input),
                                                    static_cast<float*>(output), pool_.get());
          break;
        case ConvKind::kTransposed:
          status = xnn_setup_deconvolution2d_nhwc_f32(op_.get(), n, h, w, adjustment_[0], adjustment_[1],
                                                      static_cast<const float*>(input), static_cast<float*>(output),
                                                      pool_.get());
          break;
      }
      if (status != xnn_status_success) return make_error(ErrorCode::kInternal, "XNNPACK setup failed for " + node_.name);
      last_input_ = input;
      last_output_ = conv_output;
    }
    if (xnn_run_operator(op_.get(), pool_.get()) != xnn_status_success)
      return make_error(ErrorCode::kInternal, "XNNPACK run failed for " + node_.name);
    if (residual_op_) CANOPY_TRY(add_residual(*inputs[static_cast<size_t>(residual_input_)], output));
    if (u8_output_) {
      auto* out = static_cast<unsigned char*>(y.raw());
      for (size_t i = 0; i < staged_output_.size(); ++i) out[i] = static_cast<unsigned char>(staged_output_[i] ^ 0x80);
    }
    // Post-ops XNNPACK could not fuse; they are element-wise, so NHWC is fine.
    if (kind_ != ConvKind::kQuantized && first_software_post_op_ < node_.post_ops.size()) {
      float* values = y.data<float>();
      const std::int64_t n = y.numel();
      for (size_t i = first_software_post_op_; i < node_.post_ops.size(); ++i) {
        const PostOp& op = node_.post_ops[i];
        if (op.kind == PostOp::Kind::kSum) {
          const Tensor& operand = *inputs[static_cast<size_t>(op.sum_input)];
          const float* r = operand.data<float>();
          if (nchw_residual_) {
            // The residual arrives in NCHW (a graph input, say): bring it to NHWC first.
            staged_residual_.resize(static_cast<size_t>(n));
            convert_layout(operand, Layout::kNchw, Layout::kNhwc, staged_residual_.data());
            r = staged_residual_.data();
          }
          for (std::int64_t k = 0; k < n; ++k) values[k] += r[k];
        } else {
          apply_activation(op, values, n);
        }
      }
    }
    return {};
  }
  bool fuses_post_ops() const override { return true; }
  std::string_view backend() const override { return "xnnpack"; }
  // For transposed convolutions: output rows/columns beyond the minimal size.
  void set_adjustment(uint32_t height, uint32_t width) { adjustment_ = {height, width}; }
  // For int8 convolutions with a fused residual: `add` (qs8) adds input
  // `residual_input` (NHWC, int8 or uint8) to the convolution's output.
  // An NCHW operand (from a reference kernel) is brought to NHWC first.
  void set_residual(Operator add, int residual_input, bool u8_residual, bool nchw_residual, std::int64_t elements) {
    residual_op_ = std::move(add);
    residual_input_ = residual_input;
    u8_residual_ = u8_residual;
    nchw_residual_ = nchw_residual;
    residual_staged_conv_.resize(static_cast<size_t>(elements));
    if (u8_residual || nchw_residual) residual_staged_operand_.resize(static_cast<size_t>(elements));
  }

 private:
  Status add_residual(const Tensor& operand, void* output) {
    const void* other = operand.raw();
    if (u8_residual_ || nchw_residual_) {
      if (nchw_residual_) convert_layout(operand, Layout::kNchw, Layout::kNhwc, residual_staged_operand_.data());
      else std::memcpy(residual_staged_operand_.data(), operand.raw(), operand.size_bytes());
      if (u8_residual_)
        for (auto& b : residual_staged_operand_) b = static_cast<unsigned char>(b ^ 0x80);  // u8 - 128 as s8
      other = residual_staged_operand_.data();
    }
    const size_t shape[1] = {residual_staged_conv_.size()};
    if (xnn_setup_add_nd_qs8(residual_op_.get(), 1, shape, 1, shape,
                             reinterpret_cast<const int8_t*>(residual_staged_conv_.data()),
                             static_cast<const int8_t*>(other), static_cast<int8_t*>(output),
                             pool_.get()) != xnn_status_success ||
        xnn_run_operator(residual_op_.get(), pool_.get()) != xnn_status_success)
      return make_error(ErrorCode::kInternal, "XNNPACK residual add failed for " + node_.name);
    return {};
  }

  const Node& node_;
  Operator op_;
  Threadpool pool_;
  ConvKind kind_;
  std::array<uint32_t, 2> adjustment_{0, 0};
  bool nchw_input_, u8_input_, u8_output_, nchw_residual_;
  size_t first_software_post_op_;
  std::vector<unsigned char> staged_input_, staged_output_;
  std::vector<float> staged_residual_;
  const void* last_input_ = nullptr;
  void* last_output_ = nullptr;
  Operator residual_op_{nullptr, xnn_delete_operator};
  int residual_input_ = -1;
  bool u8_residual_ = false;
  std::vector<unsigned char> residual_staged_conv_, residual_staged_operand_;
};

// A leading Relu or Clip becomes XNNPACK's output clamp; the other post-ops
// are applied after.
struct Clamp {
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
  size_t post_ops_used = 0;
};

Clamp leading_clamp(const Node& node) {
  Clamp clamp;
  if (node.post_ops.empty() || node.post_ops[0].kind != PostOp::Kind::kActivation) return clamp;
  const PostOp& op = node.post_ops[0];
  if (op.activation == Activation::kRelu) clamp = {0.0f, clamp.hi, 1};
  else if (op.activation == Activation::kClip) clamp = {op.alpha, op.beta, 1};
  return clamp;
}

// ConvTranspose weights as XNNPACK wants them: [group][C_out/group][kH][kW][C_in/group]
// (ONNX has [C_in][C_out/group][kH][kW]).
std::vector<float> grouped_ohwi_from_iohw(const Tensor& w, std::int64_t group) {
  const std::int64_t C = w.dim(0), Mg = w.dim(1), KH = w.dim(2), KW = w.dim(3), Cg = C / group;
  std::vector<float> out(static_cast<size_t>(w.numel()));
  for (std::int64_t g = 0; g < group; ++g)
    for (std::int64_t m = 0; m < Mg; ++m)
      for (std::int64_t h = 0; h < KH; ++h)
        for (std::int64_t k = 0; k < KW; ++k)
          for (std::int64_t c = 0; c < Cg; ++c)
            out[static_cast<size_t>((((g * Mg + m) * KH + h) * KW + k) * Cg + c)] =
                w.data<float>()[(((g * Cg + c) * Mg + m) * KH + h) * KW + k];
  return out;
}

class XnnpackBackend final : public Backend {
 public:
  explicit XnnpackBackend(int threads)
      : pool_(threads > 1 ? Threadpool(pthreadpool_create(static_cast<size_t>(threads)), pthreadpool_destroy)
                          : Threadpool()) {}
  std::string_view name() const override { return "xnnpack"; }
  Layout preferred_layout() const override { return Layout::kNhwc; }

  Result<std::unique_ptr<Kernel>> create(const Node& node, const std::vector<TensorInfo>& inputs,
                                         const std::vector<TensorInfo>& outputs) override {
    if (!xnnpack_ready()) return std::unique_ptr<Kernel>();
    if (auto moved = make_nhwc_kernel(node, inputs, outputs, "xnnpack")) return moved;
    // XNNPACK writes NHWC only.
    if (outputs.empty() || outputs[0].layout != Layout::kNhwc) return std::unique_ptr<Kernel>();
    if (node.op_type == "Conv") return make_conv(node, inputs, outputs);
    if (node.op_type == "ConvTranspose") return make_deconv(node, inputs);
    if (node.op_type == "QLinearConv") return make_qconv(node, inputs, outputs);
    return std::unique_ptr<Kernel>();
  }

 private:
  Result<std::unique_ptr<Kernel>> make_conv(const Node& node, const std::vector<TensorInfo>& inputs,
                                            const std::vector<TensorInfo>& outputs) {
    if (inputs[0].dtype != DataType::kFloat32 || inputs[1].value == nullptr) return std::unique_ptr<Kernel>();
    const Tensor* bias = inputs.size() > 2 && node.input(2) >= 0 ? inputs[2].value : nullptr;
    if (inputs.size() > 2 && node.input(2) >= 0 && bias == nullptr) return std::unique_ptr<Kernel>();
    bool nchw_residual = false;
    for (const auto& op : node.post_ops)
      if (op.kind == PostOp::Kind::kSum && inputs[static_cast<size_t>(op.sum_input)].layout != outputs[0].layout)
        nchw_residual = true;
    const Tensor& w = *inputs[1].value;
    const Shape& x = inputs[0].shape;
    CANOPY_ASSIGN_OR_RETURN(Window2d win, forward_window(node, x[2], x[3], {w.dim(2), w.dim(3)}, false));
    const std::int64_t group = node.attributes.get_int("group", 1);
    const Clamp clamp = leading_clamp(node);
    const float lo = clamp.lo, hi = clamp.hi;
    const size_t first_software = clamp.post_ops_used;
    auto weights = ohwi<float>(w);
    xnn_operator_t op = nullptr;
    const auto status = xnn_create_convolution2d_nhwc_f32(
        static_cast<uint32_t>(win.pad_begin[0]), static_cast<uint32_t>(win.pad_end[1]),
        static_cast<uint32_t>(win.pad_end[0]), static_cast<uint32_t>(win.pad_begin[1]), static_cast<uint32_t>(w.dim(2)),
        static_cast<uint32_t>(w.dim(3)), static_cast<uint32_t>(win.stride[0]), static_cast<uint32_t>(win.stride[1]),
        static_cast<uint32_t>(win.dilation[0]), static_cast<uint32_t>(win.dilation[1]), static_cast<uint32_t>(group),
        static_cast<size_t>(w.dim(1)), static_cast<size_t>(w.dim(0) / group), static_cast<size_t>(x[1]),
        static_cast<size_t>(w.dim(0)), weights.data(), bias ? bias->data<float>() : nullptr, lo, hi, 0, &op);
    if (status != xnn_status_success) return std::unique_ptr<Kernel>();
    const bool nchw = inputs[0].layout == Layout::kNchw;
    return std::unique_ptr<Kernel>(std::make_unique<XnnpackConv>(
        node, Operator(op, xnn_delete_operator), pool_, ConvKind::kFloat, nchw, false, false, first_software,
        nchw ? static_cast<std::int64_t>(element_count(x) * 4) : 0, 0, nchw_residual));
  }

  Result<std::unique_ptr<Kernel>> make_deconv(const Node& node, const std::vector<TensorInfo>& inputs) {
    if (inputs[0].dtype != DataType::kFloat32 || inputs[1].value == nullptr) return std::unique_ptr<Kernel>();
    const Tensor* bias = inputs.size() > 2 && node.input(2) >= 0 ? inputs[2].value : nullptr;
    if (inputs.size() > 2 && node.input(2) >= 0 && bias == nullptr) return std::unique_ptr<Kernel>();
    for (const auto& op : node.post_ops)
      if (op.kind == PostOp::Kind::kSum) return std::unique_ptr<Kernel>();
    const Tensor& w = *inputs[1].value;
    const Shape& x = inputs[0].shape;
    CANOPY_ASSIGN_OR_RETURN(Window2d win, transposed_window(node, x[2], x[3], {w.dim(2), w.dim(3)}));
    const std::int64_t group = node.attributes.get_int("group", 1);
    std::array<uint32_t, 2> adjustment{};
    for (int i = 0; i < 2; ++i) {
      const std::int64_t extent = (w.dim(2 + i) - 1) * win.dilation[static_cast<size_t>(i)] + 1;
      const std::int64_t minimal = win.stride[static_cast<size_t>(i)] * (x[2 + static_cast<size_t>(i)] - 1) + extent -
                                   win.pad_begin[static_cast<size_t>(i)] - win.pad_end[static_cast<size_t>(i)];
      const std::int64_t extra = win.output[static_cast<size_t>(i)] - minimal;
      if (extra < 0 || extra >= win.stride[static_cast<size_t>(i)]) return std::unique_ptr<Kernel>();
      adjustment[static_cast<size_t>(i)] = static_cast<uint32_t>(extra);
    }
    const Clamp clamp = leading_clamp(node);
    auto weights = grouped_ohwi_from_iohw(w, group);
    xnn_operator_t op = nullptr;
    const auto status = xnn_create_deconvolution2d_nhwc_f32(
        static_cast<uint32_t>(win.pad_begin[0]), static_cast<uint32_t>(win.pad_end[1]),
        static_cast<uint32_t>(win.pad_end[0]), static_cast<uint32_t>(win.pad_begin[1]), static_cast<uint32_t>(w.dim(2)),
        static_cast<uint32_t>(w.dim(3)), static_cast<uint32_t>(win.stride[0]), static_cast<uint32_t>(win.stride[1]),
        static_cast<uint32_t>(win.dilation[0]), static_cast<uint32_t>(win.dilation[1]), static_cast<uint32_t>(group),
        static_cast<size_t>(w.dim(0) / group), static_cast<size_t>(w.dim(1)), static_cast<size_t>(x[1]),
        static_cast<size_t>(w.dim(1) * group), weights.data(), bias ? bias->data<float>() : nullptr, clamp.lo, clamp.hi,
        0, &op);
    if (status != xnn_status_success) return std::unique_ptr<Kernel>();
    const bool nchw = inputs[0].layout == Layout::kNchw;
    auto kernel = std::make_unique<XnnpackConv>(node, Operator(op, xnn_delete_operator), pool_, ConvKind::kTransposed,
                                                nchw, false, false, clamp.post_ops_used,
                                                nchw ? static_cast<std::int64_t>(element_count(x) * 4) : 0, 0, false);
    kernel->set_adjustment(adjustment[0], adjustment[1]);
    return std::unique_ptr<Kernel>(std::move(kernel));
  }

  Result<std::unique_ptr<Kernel>> make_qconv(const Node& node, const std::vector<TensorInfo>& inputs,
                                             const std::vector<TensorInfo>& outputs) {
    for (int i : {1, 2, 3, 4, 5, 6, 7})
      if (inputs[static_cast<size_t>(i)].value == nullptr) return std::unique_ptr<Kernel>();
    const Tensor& w = *inputs[3].value;
    if (w.dtype() != DataType::kInt8) return std::unique_ptr<Kernel>();
    for (auto z : to_int64_vector(*inputs[5].value))
      if (z != 0) return std::unique_ptr<Kernel>();
    const Tensor* bias = inputs.size() > 8 && inputs[8].present ? inputs[8].value : nullptr;
    if (inputs.size() > 8 && inputs[8].present && bias == nullptr) return std::unique_ptr<Kernel>();
    const bool u8_in = inputs[0].dtype == DataType::kUInt8, u8_out = outputs[0].dtype == DataType::kUInt8;
    const float x_scale = inputs[1].value->data<float>()[0];
    const float y_scale = inputs[6].value->data<float>()[0];
    const std::int64_t x_zero = to_int64_vector(*inputs[2].value)[0] - (u8_in ? 128 : 0);
    const std::int64_t y_zero = to_int64_vector(*inputs[7].value)[0] - (u8_out ? 128 : 0);
    // Only clamps fuse in the quantized domain. A residual sum, last, is a
    // second XNNPACK operator: the convolution's output is rounded to the
    // output scale first, so the result is within one step of the exact one.
    std::int64_t lo = -128, hi = 127;
    const PostOp* residual = nullptr;
    for (const auto& op : node.post_ops) {
      if (residual != nullptr) return std::unique_ptr<Kernel>();  // nothing may follow the sum
      if (op.kind == PostOp::Kind::kSum) {
        residual = &op;
        continue;
      }
      if (op.activation == Activation::kRelu) {
        lo = std::max<std::int64_t>(lo, y_zero);
      } else if (op.activation == Activation::kClip) {
        lo = std::max<std::int64_t>(lo, static_cast<std::int64_t>(std::nearbyint(op.alpha / y_scale)) + y_zero);
        hi = std::min<std::int64_t>(hi, static_cast<std::int64_t>(std::nearbyint(op.beta / y_scale)) + y_zero);
      } else {
        return std::unique_ptr<Kernel>();
      }
    }
    const Shape& x = inputs[0].shape;
    CANOPY_ASSIGN_OR_RETURN(Window2d win, forward_window(node, x[2], x[3], {w.dim(2), w.dim(3)}, false));
    const std::int64_t group = node.attributes.get_int("group", 1);
    const Tensor& w_scale = *inputs[4].value;
    std::vector<float> kernel_scales(static_cast<size_t>(w.dim(0)));
    for (std::int64_t m = 0; m < w.dim(0); ++m) kernel_scales[static_cast<size_t>(m)] = w_scale.data<float>()[w_scale.numel() > 1 ? m : 0];
    auto weights = ohwi<std::int8_t>(w);
    xnn_operator_t op = nullptr;
    const auto status = xnn_create_convolution2d_nhwc_qc8(
        static_cast<uint32_t>(win.pad_begin[0]), static_cast<uint32_t>(win.pad_end[1]),
        static_cast<uint32_t>(win.pad_end[0]), static_cast<uint32_t>(win.pad_begin[1]), static_cast<uint32_t>(w.dim(2)),
        static_cast<uint32_t>(w.dim(3)), static_cast<uint32_t>(win.stride[0]), static_cast<uint32_t>(win.stride[1]),
        static_cast<uint32_t>(win.dilation[0]), static_cast<uint32_t>(win.dilation[1]), static_cast<uint32_t>(group),
        static_cast<size_t>(w.dim(1)), static_cast<size_t>(w.dim(0) / group), static_cast<size_t>(x[1]),
        static_cast<size_t>(w.dim(0)), static_cast<int8_t>(x_zero), x_scale, kernel_scales.data(), weights.data(),
        bias ? bias->data<std::int32_t>() : nullptr, static_cast<int8_t>(y_zero), y_scale, static_cast<int8_t>(lo),
        static_cast<int8_t>(hi), 0, &op);
    if (status != xnn_status_success) return std::unique_ptr<Kernel>();
    Operator conv(op, xnn_delete_operator);
    Operator add(nullptr, xnn_delete_operator);
    bool u8_residual = false;
    if (residual != nullptr) {
      const TensorInfo& operand = inputs[static_cast<size_t>(residual->sum_input)];
      const TensorInfo& operand_scale = inputs[static_cast<size_t>(residual->sum_scale_input)];
      if (operand_scale.value == nullptr) return std::unique_ptr<Kernel>();
      u8_residual = operand.dtype == DataType::kUInt8;
      xnn_operator_t add_op = nullptr;
      if (xnn_create_add_nd_qs8(static_cast<int8_t>(y_zero), y_scale, static_cast<int8_t>(u8_residual ? -128 : 0),
                                operand_scale.value->data<float>()[0], static_cast<int8_t>(y_zero), y_scale, -128,
                                127, 0, &add_op) != xnn_status_success)
        return std::unique_ptr<Kernel>();
      add = Operator(add_op, xnn_delete_operator);
    }
    const bool nchw = inputs[0].layout == Layout::kNchw;
    auto kernel = std::make_unique<XnnpackConv>(node, std::move(conv), pool_, ConvKind::kQuantized, nchw, u8_in, u8_out,
                                                node.post_ops.size(), nchw || u8_in ? element_count(x) : 0,
                                                u8_out ? element_count(outputs[0].shape) : 0, false);
    if (add)
      kernel->set_residual(std::move(add), residual->sum_input, u8_residual,
                           inputs[static_cast<size_t>(residual->sum_input)].layout == Layout::kNchw,
                           element_count(outputs[0].shape));
    return std::unique_ptr<Kernel>(std::move(kernel));
  }

  Threadpool pool_;
};

}  // namespace

std::unique_ptr<Backend> make_xnnpack_backend(int threads) { return std::make_unique<XnnpackBackend>(threads); }

}  // namespace canopy::infer
