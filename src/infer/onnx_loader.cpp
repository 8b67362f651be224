#include "infer/onnx_loader.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "infer/ops/op.h"

namespace canopy::infer {

namespace {

Error invalid(const std::string& message) {
  return make_error(ErrorCode::kInvalidArgument, "ONNX model: " + message);
}

Result<DataType> convert_type(std::int32_t elem_type, const std::string& what) {
  switch (elem_type) {
    case onnx::TensorProto_DataType_FLOAT: return DataType::kFloat32;
    case onnx::TensorProto_DataType_UINT8: return DataType::kUInt8;
    case onnx::TensorProto_DataType_INT8: return DataType::kInt8;
    case onnx::TensorProto_DataType_INT32: return DataType::kInt32;
    case onnx::TensorProto_DataType_INT64: return DataType::kInt64;
    default:
      return invalid(what + " has element type " +
                     (onnx::TensorProto_DataType_IsValid(elem_type)
                          ? onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(elem_type))
                          : std::to_string(elem_type)) +
                     ", which the engine does not support (float32, uint8, int8, int32, int64)");
  }
}

template <typename T, typename Field>
void copy_typed(Tensor& tensor, const Field& field) {
  T* out = tensor.data<T>();
  for (int i = 0; i < field.size(); ++i) out[i] = static_cast<T>(field.Get(i));
}

Result<Tensor> convert_tensor(const onnx::TensorProto& proto, const LoadLimits& limits) {
  const std::string what = "tensor '" + proto.name() + "'";
  if (proto.data_location() == onnx::TensorProto_DataLocation_EXTERNAL || proto.external_data_size() > 0)
    return invalid(what + " uses external data, which is not supported; save the model with its weights inside");
  CANOPY_ASSIGN_OR_RETURN(DataType type, convert_type(proto.data_type(), what));
  const Shape shape(proto.dims().begin(), proto.dims().end());
  for (auto d : shape)
    if (d < 0) return invalid(what + " has a negative dimension");
  const std::optional<std::uint64_t> count = bounded_element_count(shape, limits.max_tensor_elements);
  if (!count)
    return invalid(what + " is larger than the limit of " + std::to_string(limits.max_tensor_elements) + " elements");
  Tensor tensor = Tensor::allocate(type, shape);
  const auto n = static_cast<std::int64_t>(*count);
  if (proto.has_raw_data()) {
    if (proto.raw_data().size() != tensor.size_bytes())
      return invalid(what + " has " + std::to_string(proto.raw_data().size()) + " bytes of data, its shape " +
                     shape_to_string(shape) + " needs " + std::to_string(tensor.size_bytes()));
    if (tensor.size_bytes() > 0) std::memcpy(tensor.raw(), proto.raw_data().data(), tensor.size_bytes());
    return tensor;
  }
  auto mismatch = [&](int size) { return invalid(what + " has " + std::to_string(size) + " values, its shape " +
                                                 shape_to_string(shape) + " needs " + std::to_string(n)); };
  switch (type) {
    case DataType::kFloat32:
      if (proto.float_data_size() != n) return mismatch(proto.float_data_size());
      copy_typed<float>(tensor, proto.float_data());
      break;
    case DataType::kInt64:
      if (proto.int64_data_size() != n) return mismatch(proto.int64_data_size());
      copy_typed<std::int64_t>(tensor, proto.int64_data());
      break;
    case DataType::kInt32:
      if (proto.int32_data_size() != n) return mismatch(proto.int32_data_size());
      copy_typed<std::int32_t>(tensor, proto.int32_data());
      break;
    case DataType::kUInt8:
      if (proto.int32_data_size() != n) return mismatch(proto.int32_data_size());
      copy_typed<std::uint8_t>(tensor, proto.int32_data());
      break;
    case DataType::kInt8:
      if (proto.int32_data_size() != n) return mismatch(proto.int32_data_size());
      copy_typed<std::int8_t>(tensor, proto.int32_data());
      break;
  }
  return tensor;
}

Result<AttributeValue> convert_attribute(const onnx::AttributeProto& a, const LoadLimits& limits) {
  switch (a.type()) {
    case onnx::AttributeProto_AttributeType_INT: return AttributeValue(static_cast<std::int64_t>(a.i()));
    case onnx::AttributeProto_AttributeType_FLOAT: return AttributeValue(a.f());
    case onnx::AttributeProto_AttributeType_STRING: return AttributeValue(a.s());
    case onnx::AttributeProto_AttributeType_INTS:
      return AttributeValue(std::vector<std::int64_t>(a.ints().begin(), a.ints().end()));
    case onnx::AttributeProto_AttributeType_FLOATS:
      return AttributeValue(std::vector<float>(a.floats().begin(), a.floats().end()));
    case onnx::AttributeProto_AttributeType_TENSOR: {
      CANOPY_ASSIGN_OR_RETURN(Tensor t, convert_tensor(a.t(), limits));
      return AttributeValue(std::move(t));
    }
    default:
      return invalid("attribute '" + a.name() + "' has a type the engine does not support");
  }
}

// The Constant operator's value, from whichever attribute carries it.
Result<Tensor> constant_value(const onnx::NodeProto& node, const LoadLimits& limits) {
  for (const auto& a : node.attribute()) {
    if (a.name() == "value") return convert_tensor(a.t(), limits);
    if (a.name() == "value_float") {
      Tensor t = Tensor::allocate(DataType::kFloat32, {});
      t.data<float>()[0] = a.f();
      return t;
    }
    if (a.name() == "value_int") {
      Tensor t = Tensor::allocate(DataType::kInt64, {});
      t.data<std::int64_t>()[0] = a.i();
      return t;
    }
    if (a.name() == "value_floats") {
      Tensor t = Tensor::allocate(DataType::kFloat32, {a.floats_size()});
      for (int i = 0; i < a.floats_size(); ++i) t.data<float>()[i] = a.floats(i);
      return t;
    }
    if (a.name() == "value_ints") {
      Tensor t = Tensor::allocate(DataType::kInt64, {a.ints_size()});
      for (int i = 0; i < a.ints_size(); ++i) t.data<std::int64_t>()[i] = a.ints(i);
      return t;
    }
  }
  return invalid("Constant node '" + node.name() + "' has no supported value attribute");
}

Result<Value> convert_value_info(const onnx::ValueInfoProto& info) {
  Value value;
  value.name = info.name();
  if (!info.type().has_tensor_type()) return invalid("value '" + info.name() + "' is not a tensor");
  const auto& tensor_type = info.type().tensor_type();
  CANOPY_ASSIGN_OR_RETURN(value.dtype, convert_type(tensor_type.elem_type(), "value '" + info.name() + "'"));
  if (tensor_type.has_shape())
    for (const auto& d : tensor_type.shape().dim())
      value.shape.push_back(d.has_dim_value() && d.dim_value() > 0 ? d.dim_value() : -1);
  return value;
}

Result<int> find_opset(const onnx::ModelProto& model) {
  int opset = -1;
  for (const auto& import : model.opset_import())
    if (import.domain().empty() || import.domain() == "ai.onnx") opset = static_cast<int>(import.version());
  if (opset < 0) return invalid("it imports no default-domain opset");
  if (opset < kMinOpset || opset > kMaxOpset)
    return invalid("opset " + std::to_string(opset) + " is not supported (opsets " + std::to_string(kMinOpset) +
                   "-" + std::to_string(kMaxOpset) + "); re-export the model with one of them");
  return opset;
}

// Every graph input, output and value_info must be a tensor of a type the
// engine knows, checked here before any library code looks at the model.
Status check_value_types(const onnx::ModelProto& model) {
  const auto& g = model.graph();
  for (const auto* list : {&g.input(), &g.output(), &g.value_info()}) {
    for (const auto& info : *list) {
      if (!info.has_type() || !info.type().has_tensor_type())
        return invalid("value '" + info.name() + "' is not a plain tensor");
      auto type = convert_type(info.type().tensor_type().elem_type(), "value '" + info.name() + "'");
      if (!type.ok()) return type.error();
    }
  }
  return {};
}

// The ONNX checker throws on bad input; turn that into an Error. It insists
// on a shape for every graph output, which ONNX itself (and ONNX Runtime)
// does not: an output declared without one is given an empty one for the
// checker's sake. The engine computes every shape itself at plan time.
Status run_checker(onnx::ModelProto& model) {
  for (auto& output : *model.mutable_graph()->mutable_output())
    if (!output.type().tensor_type().has_shape()) output.mutable_type()->mutable_tensor_type()->mutable_shape();
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    return invalid(std::string("the ONNX checker refused it: ") + e.what());
  }
  return {};
}

// Converts the model; its initializers' data is released as it is copied,
// so a model's weights are never held three times over while loading.
Result<Graph> convert_graph(onnx::ModelProto& model, int opset, const LoadLimits& limits) {
  const auto& g = model.graph();
  if (static_cast<std::uint64_t>(g.node_size()) > limits.max_nodes)
    return invalid("it has more than " + std::to_string(limits.max_nodes) + " nodes");
  Graph graph;
  graph.opset = opset;
  std::map<std::string, int> by_name;
  auto define = [&](Value value) {
    int index = graph.add_value(value);
    by_name[value.name] = index;
    return index;
  };
  for (auto& init : *model.mutable_graph()->mutable_initializer()) {
    CANOPY_ASSIGN_OR_RETURN(Tensor t, convert_tensor(init, limits));
    int index = define(Value{init.name(), t.dtype(), t.shape()});
    graph.constants[index] = std::move(t);
    init.clear_raw_data();
    init.clear_float_data();
  }
  for (const auto& input : g.input()) {
    if (by_name.count(input.name())) continue;  // an initializer listed as input (old exporters)
    CANOPY_ASSIGN_OR_RETURN(Value value, convert_value_info(input));
    graph.inputs.push_back(define(value));
  }
  std::map<std::string, Value> declared;
  for (const auto& info : g.value_info()) {
    auto value = convert_value_info(info);
    if (value.ok()) declared[info.name()] = *value;
  }
  for (const auto& out : g.output()) {
    auto value = convert_value_info(out);
    if (!value.ok()) return value.error();
    declared[out.name()] = *value;
  }
  const OpRegistry& ops = OpRegistry::reference();
  for (const auto& proto : g.node()) {
    const std::string node_name = proto.name().empty() ? proto.op_type() + "#" + std::to_string(graph.nodes.size())
                                                        : proto.name();
    if (!proto.domain().empty() && proto.domain() != "ai.onnx")
      return invalid("operator '" + proto.op_type() + "' of domain '" + proto.domain() + "' (node '" + node_name +
                     "') is not supported; only the default ONNX domain is");
    if (proto.op_type() == "Constant") {
      CANOPY_ASSIGN_OR_RETURN(Tensor t, constant_value(proto, limits));
      if (proto.output_size() != 1) return invalid("Constant node '" + node_name + "' must have one output");
      int index = define(Value{proto.output(0), t.dtype(), t.shape()});
      graph.constants[index] = std::move(t);
      continue;
    }
    const OpDefinition* op = ops.find(proto.op_type());
    if (op == nullptr)
      return make_error(ErrorCode::kInvalidArgument,
                        "ONNX model: operator '" + proto.op_type() + "' (node '" + node_name + "', opset " +
                            std::to_string(opset) + ") is not supported by the canopy engine");
    if (proto.input_size() < op->min_inputs || proto.input_size() > op->max_inputs)
      return invalid(proto.op_type() + " node '" + node_name + "' has " + std::to_string(proto.input_size()) +
                     " inputs; it takes " + std::to_string(op->min_inputs) + "-" + std::to_string(op->max_inputs));
    Node node;
    node.op_type = proto.op_type();
    node.name = node_name;
    node.opset = opset;
    for (const auto& name : proto.input()) {
      if (name.empty()) {
        node.inputs.push_back(-1);
        continue;
      }
      auto it = by_name.find(name);
      if (it == by_name.end())
        return invalid("node '" + node_name + "' reads '" + name + "' before anything produces it");
      node.inputs.push_back(it->second);
    }
    for (const auto& a : proto.attribute()) {
      CANOPY_ASSIGN_OR_RETURN(AttributeValue value, convert_attribute(a, limits));
      node.attributes.set(a.name(), std::move(value));
    }
    for (const auto& name : proto.output()) {
      if (name.empty()) {
        node.outputs.push_back(-1);
        continue;
      }
      if (by_name.count(name)) return invalid("value '" + name + "' is produced twice");
      Value value{name, DataType::kFloat32, {}};
      if (auto it = declared.find(name); it != declared.end()) value = it->second;
      node.outputs.push_back(define(value));
    }
    graph.nodes.push_back(std::move(node));
  }
  for (const auto& out : g.output()) {
    auto it = by_name.find(out.name());
    if (it == by_name.end()) return invalid("graph output '" + out.name() + "' is never produced");
    graph.outputs.push_back(it->second);
  }
  if (graph.outputs.empty()) return invalid("the graph has no outputs");
  return graph;
}

// Everything after parsing, shared by files and byte buffers.
Result<Graph> load_model(onnx::ModelProto& model, const LoadLimits& limits) {
  CANOPY_ASSIGN_OR_RETURN(int opset, find_opset(model));
  CANOPY_TRY(check_value_types(model));
  CANOPY_TRY(run_checker(model));
  return convert_graph(model, opset, limits);
}

}  // namespace

Result<Graph> load_onnx_bytes(std::string_view bytes, const LoadLimits& limits) {
  if (bytes.size() > limits.max_model_bytes)
    return invalid("the file is larger than the limit of " + std::to_string(limits.max_model_bytes) + " bytes");
  onnx::ModelProto model;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return invalid("the file is not a valid ONNX protobuf (truncated or not a model?)");
  return load_model(model, limits);
}

Result<Tensor> load_tensor_proto(std::string_view bytes, const LoadLimits& limits) {
  onnx::TensorProto proto;
  if (bytes.size() > limits.max_model_bytes || bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return invalid("not a valid serialized TensorProto (truncated, too large, or another format)");
  return convert_tensor(proto, limits);
}

Result<Graph> load_onnx_file(const std::filesystem::path& path, const LoadLimits& limits) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return make_error(ErrorCode::kNotFound, "cannot read model " + path.string() + ": " + ec.message());
  if (size > limits.max_model_bytes)
    return invalid(path.string() + " is larger than the limit of " + std::to_string(limits.max_model_bytes) + " bytes");
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, "cannot read model " + path.string());
  // Parsed straight from the stream: the file's bytes are never held whole.
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&in))
    return invalid(path.string() + " is not a valid ONNX protobuf (truncated or not a model?)");
  auto graph = load_model(model, limits);
  if (!graph.ok()) return graph.error().with_context(path.string());
  return graph;
}

}  // namespace canopy::infer
