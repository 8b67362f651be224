#include <algorithm>
#include <cmath>
#include <cstring>

#include "infer/backend.h"

namespace canopy::infer {

namespace {

class ReferenceKernel final : public Kernel {
 public:
  ReferenceKernel(const Node& node, const OpDefinition& op) : node_(node), op_(op) {}
  Status run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    // Post-op operands are extra inputs the operator itself does not take,
    // unless it applies the post-ops itself.
    if (op_.applies_post_ops) return op_.run(node_, inputs, outputs);
    std::vector<const Tensor*> op_inputs(inputs.begin(),
                                         inputs.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(
                                                              inputs.size(), static_cast<size_t>(op_.max_inputs))));
    return op_.run(node_, op_inputs, outputs);
  }
  bool fuses_post_ops() const override { return op_.applies_post_ops; }
  std::string_view backend() const override { return "reference"; }

 private:
  const Node& node_;
  const OpDefinition& op_;
};

class ReferenceBackend final : public Backend {
 public:
  std::string_view name() const override { return "reference"; }
  Result<std::unique_ptr<Kernel>> create(const Node& node, const std::vector<TensorInfo>&,
                                         const std::vector<TensorInfo>&) override {
    const OpDefinition* op = OpRegistry::reference().find(node.op_type);
    if (op == nullptr) return make_error(ErrorCode::kInternal, "no reference operator " + node.op_type);
    return std::unique_ptr<Kernel>(new ReferenceKernel(node, *op));
  }
};

class LayoutConversion final : public Kernel {
 public:
  LayoutConversion(Layout from, Layout to) : from_(from), to_(to) {}
  Status run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    convert_layout(*inputs[0], from_, to_, outputs[0]->raw());
    return {};
  }
  std::string_view backend() const override { return "layout"; }

 private:
  Layout from_, to_;
};

}  // namespace

void convert_layout(const Tensor& in, Layout from, Layout to, void* out) {
  const std::int64_t N = in.dim(0), C = in.dim(1), H = in.dim(2), W = in.dim(3);
  const size_t bytes = element_size(in.dtype());
  const auto* src = static_cast<const unsigned char*>(in.raw());
  auto* dst = static_cast<unsigned char*>(out);
  if (from == to) {
    std::memcpy(dst, src, in.size_bytes());
    return;
  }
  const bool to_nchw = to == Layout::kNchw;
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t h = 0; h < H; ++h)
        for (std::int64_t w = 0; w < W; ++w) {
          const std::int64_t nchw = ((n * C + c) * H + h) * W + w;
          const std::int64_t nhwc = ((n * H + h) * W + w) * C + c;
          const std::int64_t s = to_nchw ? nhwc : nchw, d = to_nchw ? nchw : nhwc;
          std::memcpy(dst + static_cast<size_t>(d) * bytes, src + static_cast<size_t>(s) * bytes, bytes);
        }
}

std::unique_ptr<Kernel> make_layout_conversion(Layout from, Layout to) {
  return std::make_unique<LayoutConversion>(from, to);
}

std::unique_ptr<Backend> make_reference_backend() { return std::make_unique<ReferenceBackend>(); }

void apply_post_ops(const Node& node, const std::vector<const Tensor*>& inputs, Tensor& output) {
  float* y = output.data<float>();
  const std::int64_t n = output.numel();
  for (const auto& op : node.post_ops) {
    if (op.kind == PostOp::Kind::kSum) {
      const float* r = inputs[static_cast<size_t>(op.sum_input)]->data<float>();
      for (std::int64_t i = 0; i < n; ++i) y[i] += r[i];
    } else {
      apply_activation(op, y, n);
    }
  }
}

}  // namespace canopy::infer
