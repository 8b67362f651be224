#include "infer/ops/op.h"

#include <algorithm>

namespace canopy::infer {

const OpRegistry& OpRegistry::reference() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    register_elementwise_ops(r);
    register_conv_ops(r);
    register_pool_ops(r);
    register_shape_ops(r);
    register_resize_ops(r);
    register_softmax_ops(r);
    register_matmul_ops(r);
    register_quantize_ops(r);
    register_qlinear_ops(r);
    return r;
  }();
  return registry;
}

void OpRegistry::add(OpDefinition definition) { definitions_.push_back(std::move(definition)); }

const OpDefinition* OpRegistry::find(const std::string& op_type) const {
  for (const auto& d : definitions_)
    if (d.op_type == op_type) return &d;
  return nullptr;
}

std::vector<std::string> OpRegistry::op_types() const {
  std::vector<std::string> out;
  for (const auto& d : definitions_) out.push_back(d.op_type);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace canopy::infer
