// Conv and ConvTranspose, float32, 2-D (NCHW), with groups, dilation and
// every padding mode. Direct loops: this is the reference the backends are
// checked against, written to be obviously right rather than fast.
#include <algorithm>

#include "infer/ops/op.h"
#include "infer/ops/spatial.h"

namespace canopy::infer {

namespace {

Status check_float_inputs(const Node& node, const std::vector<TensorInfo>& in) {
  for (const auto& t : in)
    if (t.present && t.dtype != DataType::kFloat32) return op_error(node, "only float32 tensors are supported");
  if (in[0].shape.size() != 4) return op_error(node, "only 2-D convolution (4-D NCHW input) is supported");
  if (in[1].shape.size() != 4) return op_error(node, "weights must be 4-D");
  return {};
}

Status check_kernel_shape(const Node& node, const Shape& weights) {
  auto kernel_shape = node.attributes.get_ints("kernel_shape");
  if (!kernel_shape.empty() && (kernel_shape.size() != 2 || kernel_shape[0] != weights[2] || kernel_shape[1] != weights[3]))
    return op_error(node, "kernel_shape does not match the weights");
  return {};
}

Status infer_conv(const Node& node, const std::vector<TensorInfo>& in, std::vector<TensorInfo>& out) {
  CANOPY_TRY(check_float_inputs(node, in));
  const Shape& x = in[0].shape;
  const Shape& w = in[1].shape;
  const std::int64_t group = node.attributes.get_int("group", 1);
  if (group <= 0 || x[1] % group != 0 || w[0] % group != 0)
    return op_error(node, "group " + std::to_string(group) + " must divide the input and output channels");
  if (w[1] * group != x[1])
    return op_error(node, "weights expect " + std::to_string(w[1] * group) + " input channels, the input has " +
                              std::to_string(x[1]));
  if (in.size() > 2 && in[2].present && element_count(in[2].shape) != w[0])
    return op_error(node, "bias must have one value per output channel");
  CANOPY_TRY(check_kernel_shape(node, w));
  CANOPY_ASSIGN_OR_RETURN(Window2d win, forward_window(node, x[2], x[3], {w[2], w[3]}, false));
  out = {TensorInfo{true, DataType::kFloat32, {x[0], w[0], win.output[0], win.output[1]}, nullptr}};
  return {};
}

Status run_conv(const Node& node, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const Tensor& X = *in[0];
  const Tensor& W = *in[1];
  const Tensor* B = in.size() > 2 ? in[2] : nullptr;
  Tensor& Y = *out[0];
  CANOPY_ASSIGN_OR_RETURN(Window2d win, forward_window(node, X.dim(2), X.dim(3), {W.dim(2), W.dim(3)}, false));
  const std::int64_t N = X.dim(0), C = X.dim(1), H = X.dim(2), Wd = X.dim(3);
  const std::int64_t M = W.dim(0), Cg = W.dim(1), KH = W.dim(2), KW = W.dim(3);
  const std::int64_t OH = Y.dim(2), OW = Y.dim(3);
  const std::int64_t group = node.attributes.get_int("group", 1);
  const std::int64_t Mg = M / group;
  const auto [sh, sw] = win.stride;
  const auto [dh, dw] = win.dilation;
  const std::int64_t ph = win.pad_begin[0], pw = win.pad_begin[1];
  const float* x = X.data<float>();
  const float* w = W.data<float>();
  float* y = Y.data<float>();
  for (std::int64_t n = 0; n < N; ++n) {
    for (std::int64_t m = 0; m < M; ++m) {
      const std::int64_t g = m / Mg;
      float* plane = y + (n * M + m) * OH * OW;
      std::fill(plane, plane + OH * OW, B != nullptr ? B->data<float>()[m] : 0.0f);
      for (std::int64_t c = 0; c < Cg; ++c) {
        const float* xin = x + (n * C + g * Cg + c) * H * Wd;
        for (std::int64_t kh = 0; kh < KH; ++kh) {
          for (std::int64_t kw = 0; kw < KW; ++kw) {
            const float wv = w[((m * Cg + c) * KH + kh) * KW + kw];
            const std::int64_t col_offset = kw * dw - pw;
            // Output columns whose input column ow*sw + col_offset lies inside [0, W).
            const std::int64_t ow_begin = col_offset >= 0 ? 0 : (-col_offset + sw - 1) / sw;
            const std::int64_t ow_end = std::min(OW, Wd - 1 - col_offset < 0 ? 0 : (Wd - 1 - col_offset) / sw + 1);
            for (std::int64_t oh = 0; oh < OH; ++oh) {
              const std::int64_t ih = oh * sh - ph + kh * dh;
              if (ih < 0 || ih >= H) continue;
              const float* row_in = xin + ih * Wd + col_offset;
              float* row_out = plane + oh * OW;
              for (std::int64_t ow = ow_begin; ow < ow_end; ++ow) row_out[ow] += wv * row_in[ow * sw];
            }
          }
        }
      }
    }
  }
  return {};
}

Status infer_conv_transpose(const Node& node, const std::vector<TensorInfo>& in, std::vector<TensorInfo>& out) {
  CANOPY_TRY(check_float_inputs(node, in));
  const Shape& x = in[0].shape;
  const Shape& w = in[1].shape;
  const std::int64_t group = node.attributes.get_int("group", 1);
  if (group <= 0 || x[1] % group != 0) return op_error(node, "group must divide the input channels");
  if (w[0] != x[1]) return op_error(node, "weights must have one row per input channel");
  const std::int64_t M = w[1] * group;
  if (in.size() > 2 && in[2].present && element_count(in[2].shape) != M)
    return op_error(node, "bias must have one value per output channel");
  CANOPY_TRY(check_kernel_shape(node, w));
  CANOPY_ASSIGN_OR_RETURN(Window2d win, transposed_window(node, x[2], x[3], {w[2], w[3]}));
  out = {TensorInfo{true, DataType::kFloat32, {x[0], M, win.output[0], win.output[1]}, nullptr}};
  return {};
}

Status run_conv_transpose(const Node& node, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const Tensor& X = *in[0];
  const Tensor& W = *in[1];
  const Tensor* B = in.size() > 2 ? in[2] : nullptr;
  Tensor& Y = *out[0];
  CANOPY_ASSIGN_OR_RETURN(Window2d win, transposed_window(node, X.dim(2), X.dim(3), {W.dim(2), W.dim(3)}));
  const std::int64_t N = X.dim(0), C = X.dim(1), H = X.dim(2), Wd = X.dim(3);
  const std::int64_t Mg = W.dim(1), KH = W.dim(2), KW = W.dim(3);
  const std::int64_t group = node.attributes.get_int("group", 1);
  const std::int64_t Cg = C / group, M = Mg * group;
  const std::int64_t OH = Y.dim(2), OW = Y.dim(3);
  const float* x = X.data<float>();
  const float* w = W.data<float>();
  float* y = Y.data<float>();
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t m = 0; m < M; ++m)
      std::fill(y + (n * M + m) * OH * OW, y + (n * M + m + 1) * OH * OW, B != nullptr ? B->data<float>()[m] : 0.0f);
  for (std::int64_t n = 0; n < N; ++n) {
    for (std::int64_t c = 0; c < C; ++c) {
      const std::int64_t g = c / Cg;
      const float* xin = x + (n * C + c) * H * Wd;
      for (std::int64_t mm = 0; mm < Mg; ++mm) {
        float* plane = y + (n * M + g * Mg + mm) * OH * OW;
        for (std::int64_t kh = 0; kh < KH; ++kh) {
          for (std::int64_t kw = 0; kw < KW; ++kw) {
            const float wv = w[((c * Mg + mm) * KH + kh) * KW + kw];
            for (std::int64_t ih = 0; ih < H; ++ih) {
              const std::int64_t oh = ih * win.stride[0] - win.pad_begin[0] + kh * win.dilation[0];
              if (oh < 0 || oh >= OH) continue;
              for (std::int64_t iw = 0; iw < Wd; ++iw) {
                const std::int64_t ow = iw * win.stride[1] - win.pad_begin[1] + kw * win.dilation[1];
                if (ow >= 0 && ow < OW) plane[oh * OW + ow] += wv * xin[ih * Wd + iw];
              }
            }
          }
        }
      }
    }
  }
  return {};
}

}  // namespace

void register_conv_ops(OpRegistry& registry) {
  registry.add(OpDefinition{"Conv", 2, 3, infer_conv, run_conv});
  registry.add(OpDefinition{"ConvTranspose", 2, 3, infer_conv_transpose, run_conv_transpose});
}

}  // namespace canopy::infer
