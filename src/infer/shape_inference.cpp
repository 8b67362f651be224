#include "infer/shape_inference.h"

#include <algorithm>

namespace canopy::infer {

Result<std::vector<TensorInfo>> infer_value_infos(const Graph& graph, const std::vector<Shape>& input_shapes) {
  std::vector<TensorInfo> infos(graph.values.size(), TensorInfo{false, DataType::kFloat32, {}, nullptr});
  for (const auto& [value, tensor] : graph.constants)
    infos[static_cast<size_t>(value)] = TensorInfo{true, tensor.dtype(), tensor.shape(), &tensor};
  for (size_t i = 0; i < graph.inputs.size() && i < input_shapes.size(); ++i) {
    const Value& v = graph.values[static_cast<size_t>(graph.inputs[i])];
    infos[static_cast<size_t>(graph.inputs[i])] = TensorInfo{true, v.dtype, input_shapes[i], nullptr};
  }
  const OpRegistry& ops = OpRegistry::reference();
  for (const auto& node : graph.nodes) {
    const OpDefinition* op = ops.find(node.op_type);
    std::vector<TensorInfo> in;
    const size_t op_inputs = std::min(node.inputs.size(), static_cast<size_t>(op->max_inputs));
    for (size_t i = 0; i < op_inputs; ++i)
      in.push_back(node.inputs[i] >= 0 ? infos[static_cast<size_t>(node.inputs[i])]
                                       : TensorInfo{false, DataType::kFloat32, {}, nullptr});
    std::vector<TensorInfo> out;
    CANOPY_TRY(op->infer(node, in, out));
    for (size_t i = 0; i < node.outputs.size() && i < out.size(); ++i) {
      if (node.outputs[i] < 0) continue;
      out[i].value = nullptr;
      infos[static_cast<size_t>(node.outputs[i])] = out[i];
    }
  }
  return infos;
}

std::vector<Shape> default_input_shapes(const Graph& graph) {
  std::vector<Shape> shapes;
  for (int v : graph.inputs) {
    Shape shape = graph.values[static_cast<size_t>(v)].shape;
    for (auto& d : shape)
      if (d < 0) d = 1;
    shapes.push_back(shape);
  }
  return shapes;
}

}  // namespace canopy::infer
