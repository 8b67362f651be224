// Gemm and MatMul on float32. Both reduce to one plain matrix product whose
// loops run i-k-j, so the innermost loop walks rows of B and Y contiguously.
#include <algorithm>

#include "infer/ops/op.h"

namespace canopy::infer {
namespace {

using Index = std::int64_t;

Status require_float(const Node& node, const TensorInfo& info, const char* name) {
  if (!info.present) return op_error(node, std::string("input ") + name + " is missing");
  if (info.dtype != DataType::kFloat32)
    return op_error(node, std::string("input ") + name + " must be float32, not " +
                              std::string(data_type_name(info.dtype)));
  return {};
}

TensorInfo float_output(Shape shape) {
  TensorInfo info;
  info.shape = std::move(shape);
  return info;
}

// y[M,N] = a[M,K] * b[K,N], all row-major.
void matmul_2d(const float* a, const float* b, float* y, Index m, Index k, Index n) {
  std::fill(y, y + m * n, 0.0f);
  for (Index i = 0; i < m; ++i) {
    float* row = y + i * n;
    for (Index p = 0; p < k; ++p) {
      const float scale = a[i * k + p];
      const float* b_row = b + p * n;
      for (Index j = 0; j < n; ++j) row[j] += scale * b_row[j];
    }
  }
}

std::vector<float> transposed(const float* data, Index rows, Index cols) {
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (Index r = 0; r < rows; ++r)
    for (Index c = 0; c < cols; ++c) out[static_cast<size_t>(c * rows + r)] = data[r * cols + c];
  return out;
}

// ---- Gemm: Y = alpha * A' * B' + beta * C ----

struct GemmDims {
  Index m = 0;
  Index k = 0;
  Index n = 0;
};

Result<GemmDims> gemm_dims(const Node& node, const Shape& a, const Shape& b) {
  if (a.size() != 2 || b.size() != 2)
    return op_error(node, "A and B must be 2-D, got " + shape_to_string(a) + " and " + shape_to_string(b));
  const bool trans_a = node.attributes.get_int("transA", 0) != 0;
  const bool trans_b = node.attributes.get_int("transB", 0) != 0;
  GemmDims dims{trans_a ? a[1] : a[0], trans_a ? a[0] : a[1], trans_b ? b[0] : b[1]};
  const Index k_b = trans_b ? b[1] : b[0];
  if (dims.k != k_b)
    return op_error(node, "inner dimensions differ: A' is [" + std::to_string(dims.m) + "," +
                              std::to_string(dims.k) + "] and B' is [" + std::to_string(k_b) + "," +
                              std::to_string(dims.n) + "]");
  return dims;
}

Status infer_gemm(const Node& node, const std::vector<TensorInfo>& inputs, std::vector<TensorInfo>& outputs) {
  CANOPY_TRY(require_float(node, inputs[0], "A"));
  CANOPY_TRY(require_float(node, inputs[1], "B"));
  CANOPY_ASSIGN_OR_RETURN(GemmDims dims, gemm_dims(node, inputs[0].shape, inputs[1].shape));
  if (inputs.size() > 2 && inputs[2].present) {
    CANOPY_TRY(require_float(node, inputs[2], "C"));
    // C broadcasts one way only: to [M,N], never enlarging the output.
    const Shape& c = inputs[2].shape;
    CANOPY_ASSIGN_OR_RETURN(Shape broadcast, broadcast_shapes(node, c, {dims.m, dims.n}));
    if (c.size() > 2 || broadcast != Shape{dims.m, dims.n})
      return op_error(node, "C " + shape_to_string(c) + " does not broadcast to [" + std::to_string(dims.m) +
                                "," + std::to_string(dims.n) + "]");
  }
  outputs = {float_output({dims.m, dims.n})};
  return {};
}

Status run_gemm(const Node& node, const std::vector<const Tensor*>& inputs,
                const std::vector<Tensor*>& outputs) {
  const Tensor& a = *inputs[0];
  const Tensor& b = *inputs[1];
  CANOPY_ASSIGN_OR_RETURN(GemmDims dims, gemm_dims(node, a.shape(), b.shape()));
  // Transposed operands are copied once so the product loop stays contiguous.
  std::vector<float> a_copy;
  std::vector<float> b_copy;
  const float* a_data = a.data<float>();
  const float* b_data = b.data<float>();
  if (node.attributes.get_int("transA", 0) != 0)
    a_data = (a_copy = transposed(a_data, dims.k, dims.m)).data();
  if (node.attributes.get_int("transB", 0) != 0)
    b_data = (b_copy = transposed(b_data, dims.n, dims.k)).data();
  float* y = outputs[0]->data<float>();
  matmul_2d(a_data, b_data, y, dims.m, dims.k, dims.n);

  const float alpha = node.attributes.get_float("alpha", 1.0f);
  const float beta = node.attributes.get_float("beta", 1.0f);
  const Tensor* c = inputs.size() > 2 ? inputs[2] : nullptr;
  // A C of shape [], [N], [1,N], [M,1] or [M,N]: a dimension of 1 repeats.
  const Shape c_shape = c == nullptr ? Shape{} : c->shape();
  const Index c_rows = c_shape.size() == 2 ? c_shape[0] : 1;
  const Index c_cols = c_shape.empty() ? 1 : c_shape.back();
  for (Index i = 0; i < dims.m; ++i) {
    for (Index j = 0; j < dims.n; ++j) {
      float& out = y[i * dims.n + j];
      out *= alpha;
      if (c != nullptr)
        out += beta * c->data<float>()[(c_rows == 1 ? 0 : i) * c_cols + (c_cols == 1 ? 0 : j)];
    }
  }
  return {};
}

// ---- MatMul: numpy.matmul ----

// Operands as batches of matrices. A 1-D A is a [1,K] row and a 1-D B a [K,1]
// column; the dimension they add is dropped from the output again.
struct MatMulPlan {
  Shape batch;  // broadcast batch dimensions of the output
  Shape a_batch;
  Shape b_batch;
  Index m = 0;
  Index k = 0;
  Index n = 0;
  Shape output;
};

Result<MatMulPlan> matmul_plan(const Node& node, const Shape& a, const Shape& b) {
  if (a.empty() || b.empty())
    return op_error(
        node, "operands must have rank 1 or more, got " + shape_to_string(a) + " and " + shape_to_string(b));
  MatMulPlan plan;
  const Shape a2 = a.size() == 1 ? Shape{1, a[0]} : a;
  const Shape b2 = b.size() == 1 ? Shape{b[0], 1} : b;
  plan.a_batch.assign(a2.begin(), a2.end() - 2);
  plan.b_batch.assign(b2.begin(), b2.end() - 2);
  plan.m = a2[a2.size() - 2];
  plan.k = a2.back();
  plan.n = b2.back();
  if (b2[b2.size() - 2] != plan.k)
    return op_error(node, "inner dimensions differ: " + shape_to_string(a) + " x " + shape_to_string(b));
  CANOPY_ASSIGN_OR_RETURN(plan.batch, broadcast_shapes(node, plan.a_batch, plan.b_batch));
  plan.output = plan.batch;
  if (a.size() > 1) plan.output.push_back(plan.m);
  if (b.size() > 1) plan.output.push_back(plan.n);
  return plan;
}

// For each batch index of `out`, the batch index it reads in `in` (which
// broadcasts: missing leading dimensions and dimensions of 1 repeat).
std::vector<Index> broadcast_batch_indices(const Shape& out, const Shape& in) {
  const size_t lead = out.size() - in.size();
  std::vector<Index> indices(static_cast<size_t>(element_count(out)));
  for (size_t flat = 0; flat < indices.size(); ++flat) {
    auto rest = static_cast<Index>(flat);
    Index source = 0;
    Index stride = 1;
    for (size_t d = out.size(); d-- > 0;) {
      const Index coord = rest % out[d];
      rest /= out[d];
      if (d < lead) continue;
      const Index dim = in[d - lead];
      source += (dim == 1 ? 0 : coord) * stride;
      stride *= dim;
    }
    indices[flat] = source;
  }
  return indices;
}

Status infer_matmul(const Node& node, const std::vector<TensorInfo>& inputs,
                    std::vector<TensorInfo>& outputs) {
  CANOPY_TRY(require_float(node, inputs[0], "A"));
  CANOPY_TRY(require_float(node, inputs[1], "B"));
  CANOPY_ASSIGN_OR_RETURN(MatMulPlan plan, matmul_plan(node, inputs[0].shape, inputs[1].shape));
  outputs = {float_output(plan.output)};
  return {};
}

Status run_matmul(const Node& node, const std::vector<const Tensor*>& inputs,
                  const std::vector<Tensor*>& outputs) {
  CANOPY_ASSIGN_OR_RETURN(MatMulPlan plan, matmul_plan(node, inputs[0]->shape(), inputs[1]->shape()));
  const auto a_sources = broadcast_batch_indices(plan.batch, plan.a_batch);
  const auto b_sources = broadcast_batch_indices(plan.batch, plan.b_batch);
  const float* a = inputs[0]->data<float>();
  const float* b = inputs[1]->data<float>();
  float* y = outputs[0]->data<float>();
  for (size_t i = 0; i < a_sources.size(); ++i)
    matmul_2d(a + a_sources[i] * plan.m * plan.k, b + b_sources[i] * plan.k * plan.n,
              y + static_cast<Index>(i) * plan.m * plan.n, plan.m, plan.k, plan.n);
  return {};
}

}  // namespace

void register_matmul_ops(OpRegistry& registry) {
  registry.add(OpDefinition{"Gemm", 2, 3, infer_gemm, run_gemm});
  registry.add(OpDefinition{"MatMul", 2, 2, infer_matmul, run_matmul});
}

}  // namespace canopy::infer
