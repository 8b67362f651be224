// QLinearConv: the int8 convolution. Either a model has it as such, or the
// optimizer turns the QDQ pattern Quantize -> Dequantize -> Conv -> Quantize
// into it. Exact integer accumulation, then (accumulator * x_scale *
// w_scale) gives the real value, the fused activations apply in float, and
// the result is quantized with y_scale and y_zero_point (round half to even,
// saturated) — what ONNX's QDQ form means. A fused residual sum adds its
// int8 operand (zero point 0) times the operand's scale, in float too.
#include <algorithm>
#include <cmath>
#include <limits>

#include "infer/ops/op.h"
#include "infer/ops/spatial.h"

namespace canopy::infer {

namespace {

// Inputs: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B.
bool is_int8(DataType t) { return t == DataType::kInt8 || t == DataType::kUInt8; }

std::int32_t integer_at(const Tensor& t, std::int64_t i) {
  return t.dtype() == DataType::kInt8 ? t.data<std::int8_t>()[i] : t.data<std::uint8_t>()[i];
}

Status infer_qlinear_conv(const Node& node, const std::vector<TensorInfo>& in, std::vector<TensorInfo>& out) {
  for (int i : {0, 1, 2, 3, 4, 5, 6, 7})
    if (!in[static_cast<size_t>(i)].present) return op_error(node, "input " + std::to_string(i) + " is required");
  if (!is_int8(in[0].dtype) || !is_int8(in[3].dtype)) return op_error(node, "x and w must be int8 or uint8");
  if (in[2].dtype != in[0].dtype || in[5].dtype != in[3].dtype || !is_int8(in[7].dtype))
    return op_error(node, "zero points must have the type of their tensor");
  for (int i : {1, 4, 6})
    if (in[static_cast<size_t>(i)].dtype != DataType::kFloat32) return op_error(node, "scales must be float32");
  if (element_count(in[1].shape) != 1 || element_count(in[2].shape) != 1 || element_count(in[6].shape) != 1 ||
      element_count(in[7].shape) != 1)
    return op_error(node, "x and y scales and zero points must be scalars");
  const Shape& x = in[0].shape;
  const Shape& w = in[3].shape;
  if (x.size() != 4 || w.size() != 4) return op_error(node, "only 2-D convolution is supported");
  const std::int64_t M = w[0];
  if (element_count(in[4].shape) != 1 && element_count(in[4].shape) != M)
    return op_error(node, "w_scale must be a scalar or have one value per output channel");
  if (element_count(in[5].shape) != element_count(in[4].shape))
    return op_error(node, "w_zero_point must match w_scale");
  if (in.size() > 8 && in[8].present && (in[8].dtype != DataType::kInt32 || element_count(in[8].shape) != M))
    return op_error(node, "B must be int32 with one value per output channel");
  const std::int64_t group = node.attributes.get_int("group", 1);
  if (group <= 0 || x[1] % group != 0 || M % group != 0 || w[1] * group != x[1])
    return op_error(node, "group and channel counts do not agree");
  CANOPY_ASSIGN_OR_RETURN(Window2d win, forward_window(node, x[2], x[3], {w[2], w[3]}, false));
  out = {TensorInfo{true, in[7].dtype, {x[0], M, win.output[0], win.output[1]}, nullptr}};
  return {};
}

Status run_qlinear_conv(const Node& node, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const Tensor& X = *in[0];
  const Tensor& W = *in[3];
  const Tensor* B = in.size() > 8 ? in[8] : nullptr;
  Tensor& Y = *out[0];
  CANOPY_ASSIGN_OR_RETURN(Window2d win, forward_window(node, X.dim(2), X.dim(3), {W.dim(2), W.dim(3)}, false));
  const std::int64_t N = X.dim(0), C = X.dim(1), H = X.dim(2), Wd = X.dim(3);
  const std::int64_t M = W.dim(0), Cg = W.dim(1), KH = W.dim(2), KW = W.dim(3);
  const std::int64_t OH = Y.dim(2), OW = Y.dim(3);
  const std::int64_t Mg = M / node.attributes.get_int("group", 1);
  const float x_scale = in[1]->data<float>()[0];
  const std::int32_t x_zero = integer_at(*in[2], 0);
  const float y_scale = in[6]->data<float>()[0];
  const std::int32_t y_zero = integer_at(*in[7], 0);
  const bool per_channel = in[4]->numel() == M;
  // A fused residual operand (added by the optimizer, never read from a
  // model): int8 or uint8 with zero point 0, its scale a float scalar.
  for (const auto& op : node.post_ops) {
    if (op.kind != PostOp::Kind::kSum) continue;
    const auto operand = static_cast<size_t>(op.sum_input), scale = static_cast<size_t>(op.sum_scale_input);
    if (op.sum_scale_input < 0 || scale >= in.size() || in[operand] == nullptr || in[scale] == nullptr ||
        !is_int8(in[operand]->dtype()) || in[scale]->dtype() != DataType::kFloat32 || in[scale]->numel() != 1 ||
        in[operand]->numel() != Y.numel())
      return op_error(node, "a fused residual sum needs an int8 operand of the output's size and its scale");
  }
  const bool out_signed = Y.dtype() == DataType::kInt8;
  const float lo = out_signed ? -128.0f : 0.0f, hi = out_signed ? 127.0f : 255.0f;
  for (std::int64_t n = 0; n < N; ++n) {
    for (std::int64_t m = 0; m < M; ++m) {
      const std::int64_t g = m / Mg;
      const float w_scale = in[4]->data<float>()[per_channel ? m : 0];
      const std::int32_t w_zero = integer_at(*in[5], per_channel ? m : 0);
      for (std::int64_t oh = 0; oh < OH; ++oh) {
        for (std::int64_t ow = 0; ow < OW; ++ow) {
          std::int64_t acc = B != nullptr ? B->data<std::int32_t>()[m] : 0;
          for (std::int64_t c = 0; c < Cg; ++c) {
            for (std::int64_t kh = 0; kh < KH; ++kh) {
              const std::int64_t ih = oh * win.stride[0] - win.pad_begin[0] + kh * win.dilation[0];
              for (std::int64_t kw = 0; kw < KW; ++kw) {
                const std::int64_t iw = ow * win.stride[1] - win.pad_begin[1] + kw * win.dilation[1];
                // Padding holds the zero point, i.e. the real value 0.
                const std::int32_t xv = (ih < 0 || ih >= H || iw < 0 || iw >= Wd)
                                            ? x_zero
                                            : integer_at(X, ((n * C + g * Cg + c) * H + ih) * Wd + iw);
                const std::int32_t wv = integer_at(W, ((m * Cg + c) * KH + kh) * KW + kw);
                acc += static_cast<std::int64_t>(xv - x_zero) * (wv - w_zero);
              }
            }
          }
          const std::int64_t index = ((n * M + m) * OH + oh) * OW + ow;
          float real = static_cast<float>(acc) * x_scale * w_scale;
          for (const auto& op : node.post_ops) {
            if (op.kind == PostOp::Kind::kSum)
              real += in[static_cast<size_t>(op.sum_scale_input)]->data<float>()[0] *
                      static_cast<float>(integer_at(*in[static_cast<size_t>(op.sum_input)], index));
            else
              real = apply_activation(op, real);
          }
          const float q = std::min(hi, std::max(lo, std::nearbyint(real / y_scale) + static_cast<float>(y_zero)));
          if (out_signed) Y.data<std::int8_t>()[index] = static_cast<std::int8_t>(q);
          else Y.data<std::uint8_t>()[index] = static_cast<std::uint8_t>(q);
        }
      }
    }
  }
  return {};
}

}  // namespace

void register_qlinear_ops(OpRegistry& registry) {
  registry.add(OpDefinition{"QLinearConv", 8, 9, infer_qlinear_conv, run_qlinear_conv, true});
}

}  // namespace canopy::infer
