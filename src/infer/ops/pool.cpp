// Pooling: MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool over
// float32 NCHW tensors.
#include <algorithm>
#include <limits>

#include "infer/ops/op.h"
#include "infer/ops/spatial.h"

namespace canopy::infer {

namespace {

Result<std::array<std::int64_t, 2>> pool_kernel(const Node& node) {
  auto kernel = node.attributes.get_ints("kernel_shape");
  if (kernel.size() != 2 || kernel[0] <= 0 || kernel[1] <= 0)
    return op_error(node, "kernel_shape must give 2 positive sizes (2-D pooling only)");
  return std::array<std::int64_t, 2>{kernel[0], kernel[1]};
}

Result<Window2d> pool_window(const Node& node, const Shape& x) {
  CANOPY_ASSIGN_OR_RETURN(auto kernel, pool_kernel(node));
  return forward_window(node, x[2], x[3], kernel, node.attributes.get_int("ceil_mode", 0) != 0);
}

Status infer_pool(const Node& node, const std::vector<TensorInfo>& in, std::vector<TensorInfo>& out) {
  if (in[0].dtype != DataType::kFloat32) return op_error(node, "only float32 input is supported");
  if (in[0].shape.size() != 4) return op_error(node, "only 2-D pooling (4-D NCHW input) is supported");
  if (node.outputs.size() > 1 && node.outputs[1] >= 0) return op_error(node, "the Indices output is not supported");
  if (node.op_type == "AveragePool" && node.attributes.has("dilations"))
    return op_error(node, "dilations are not supported for AveragePool");
  if (node.attributes.get_int("storage_order", 0) != 0) return op_error(node, "storage_order 1 is not supported");
  CANOPY_ASSIGN_OR_RETURN(Window2d win, pool_window(node, in[0].shape));
  const Shape& x = in[0].shape;
  out.assign(node.outputs.size(), TensorInfo{false, DataType::kFloat32, {}, nullptr});
  out[0] = TensorInfo{true, DataType::kFloat32, {x[0], x[1], win.output[0], win.output[1]}, nullptr};
  return {};
}

Status run_pool(const Node& node, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const Tensor& X = *in[0];
  Tensor& Y = *out[0];
  CANOPY_ASSIGN_OR_RETURN(Window2d win, pool_window(node, X.shape()));
  const bool is_max = node.op_type == "MaxPool";
  const bool count_pad = node.attributes.get_int("count_include_pad", 0) != 0;
  const std::int64_t planes = X.dim(0) * X.dim(1), H = X.dim(2), W = X.dim(3);
  const std::int64_t OH = Y.dim(2), OW = Y.dim(3);
  const float* x = X.data<float>();
  float* y = Y.data<float>();
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* plane = x + p * H * W;
    for (std::int64_t oh = 0; oh < OH; ++oh) {
      for (std::int64_t ow = 0; ow < OW; ++ow) {
        float best = -std::numeric_limits<float>::infinity();
        float sum = 0;
        std::int64_t inside = 0, padded = 0;
        for (std::int64_t kh = 0; kh < win.kernel[0]; ++kh) {
          const std::int64_t ih = oh * win.stride[0] - win.pad_begin[0] + kh * win.dilation[0];
          for (std::int64_t kw = 0; kw < win.kernel[1]; ++kw) {
            const std::int64_t iw = ow * win.stride[1] - win.pad_begin[1] + kw * win.dilation[1];
            // Positions in the explicit padding count for count_include_pad;
            // positions past it (ceil_mode overhang) never do.
            if (ih >= -win.pad_begin[0] && ih < H + win.pad_end[0] && iw >= -win.pad_begin[1] && iw < W + win.pad_end[1])
              ++padded;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            const float v = plane[ih * W + iw];
            best = std::max(best, v);
            sum += v;
            ++inside;
          }
        }
        float result = is_max ? best : sum / static_cast<float>(std::max<std::int64_t>(1, count_pad ? padded : inside));
        y[(p * OH + oh) * OW + ow] = result;
      }
    }
  }
  return {};
}

Status infer_global_pool(const Node& node, const std::vector<TensorInfo>& in, std::vector<TensorInfo>& out) {
  if (in[0].dtype != DataType::kFloat32) return op_error(node, "only float32 input is supported");
  if (in[0].shape.size() < 3) return op_error(node, "input must have at least 3 dimensions");
  Shape shape = in[0].shape;
  for (size_t i = 2; i < shape.size(); ++i) shape[i] = 1;
  out = {TensorInfo{true, DataType::kFloat32, shape, nullptr}};
  return {};
}

Status run_global_pool(const Node& node, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const Tensor& X = *in[0];
  const std::int64_t planes = X.dim(0) * X.dim(1);
  const std::int64_t inner = X.numel() / std::max<std::int64_t>(1, planes);
  const bool is_max = node.op_type == "GlobalMaxPool";
  const float* x = X.data<float>();
  float* y = out[0]->data<float>();
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* plane = x + p * inner;
    if (is_max) {
      y[p] = *std::max_element(plane, plane + inner);
    } else {
      double sum = 0;
      for (std::int64_t i = 0; i < inner; ++i) sum += plane[i];
      y[p] = static_cast<float>(sum / static_cast<double>(inner));
    }
  }
  return {};
}

}  // namespace

void register_pool_ops(OpRegistry& registry) {
  registry.add(OpDefinition{"MaxPool", 1, 1, infer_pool, run_pool});
  registry.add(OpDefinition{"AveragePool", 1, 1, infer_pool, run_pool});
  registry.add(OpDefinition{"GlobalAveragePool", 1, 1, infer_global_pool, run_global_pool});
  registry.add(OpDefinition{"GlobalMaxPool", 1, 1, infer_global_pool, run_global_pool});
}

}  // namespace canopy::infer
