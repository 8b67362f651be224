#include "infer/onnx_builder.h"

#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>

namespace canopy::infer {

namespace {

void set_value_info(onnx::ValueInfoProto* info, const std::string& name, DataType type,
                    const Shape& shape) {
  info->set_name(name);
  auto* tensor_type = info->mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(onnx_element_type(type));
  if (shape.empty()) return;
  auto* proto_shape = tensor_type->mutable_shape();
  for (size_t i = 0; i < shape.size(); ++i) {
    auto* dim = proto_shape->add_dim();
    if (shape[i] < 0) {
      dim->set_dim_param(name + "_dim" + std::to_string(i));
    } else {
      dim->set_dim_value(shape[i]);
    }
  }
}

void set_attribute(onnx::AttributeProto* proto, const OnnxAttribute& attribute) {
  proto->set_name(attribute.name);
  const auto& value = attribute.value;
  if (const auto* i = std::get_if<std::int64_t>(&value)) {
    proto->set_type(onnx::AttributeProto::INT);
    proto->set_i(*i);
  } else if (const auto* f = std::get_if<float>(&value)) {
    proto->set_type(onnx::AttributeProto::FLOAT);
    proto->set_f(*f);
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    proto->set_type(onnx::AttributeProto::STRING);
    proto->set_s(*s);
  } else if (const auto* ints = std::get_if<std::vector<std::int64_t>>(&value)) {
    proto->set_type(onnx::AttributeProto::INTS);
    for (auto v : *ints) proto->add_ints(v);
  } else if (const auto* floats = std::get_if<std::vector<float>>(&value)) {
    proto->set_type(onnx::AttributeProto::FLOATS);
    for (auto v : *floats) proto->add_floats(v);
  } else {
    proto->set_type(onnx::AttributeProto::TENSOR);
    *proto->mutable_t() = to_tensor_proto("", std::get<Tensor>(value));
  }
}

}  // namespace

OnnxAttribute attr_int(std::string name, std::int64_t value) { return {std::move(name), value}; }
OnnxAttribute attr_float(std::string name, float value) { return {std::move(name), value}; }
OnnxAttribute attr_string(std::string name, std::string value) {
  return {std::move(name), std::move(value)};
}
OnnxAttribute attr_ints(std::string name, std::vector<std::int64_t> values) {
  return {std::move(name), std::move(values)};
}
OnnxAttribute attr_floats(std::string name, std::vector<float> values) {
  return {std::move(name), std::move(values)};
}
OnnxAttribute attr_tensor(std::string name, const Tensor& value) {
  return {std::move(name), value.clone()};
}

OnnxBuilder::OnnxBuilder(int opset) {
  model_.set_ir_version(8);
  model_.set_producer_name("canopy-tests");
  auto* import = model_.add_opset_import();
  import->set_domain("");
  import->set_version(opset);
  model_.mutable_graph()->set_name("test_graph");
}

OnnxBuilder& OnnxBuilder::add_input(const std::string& name, DataType type,
                                    const Shape& shape) {
  set_value_info(model_.mutable_graph()->add_input(), name, type, shape);
  return *this;
}

OnnxBuilder& OnnxBuilder::add_output(const std::string& name, DataType type,
                                     const Shape& shape) {
  set_value_info(model_.mutable_graph()->add_output(), name, type, shape);
  return *this;
}

OnnxBuilder& OnnxBuilder::add_initializer(const std::string& name, const Tensor& value) {
  *model_.mutable_graph()->add_initializer() = to_tensor_proto(name, value);
  return *this;
}

OnnxBuilder& OnnxBuilder::add_node(const std::string& op_type, const std::vector<std::string>& inputs,
                                   const std::vector<std::string>& outputs,
                                   const std::vector<OnnxAttribute>& attributes,
                                   const std::string& name) {
  auto* graph = model_.mutable_graph();
  auto* node = graph->add_node();
  node->set_op_type(op_type);
  node->set_name(name.empty() ? op_type + "_" + std::to_string(graph->node_size() - 1) : name);
  for (const auto& input : inputs) node->add_input(input);
  for (const auto& output : outputs) node->add_output(output);
  for (const auto& attribute : attributes) set_attribute(node->add_attribute(), attribute);
  return *this;
}

std::string OnnxBuilder::serialize() const { return model_.SerializeAsString(); }

Status OnnxBuilder::save(const std::filesystem::path& path) const {
  std::string bytes = serialize();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return make_error(ErrorCode::kIo, "cannot write the model to " + path.string());
  return {};
}

int onnx_element_type(DataType type) {
  switch (type) {
    case DataType::kFloat32: return onnx::TensorProto::FLOAT;
    case DataType::kUInt8: return onnx::TensorProto::UINT8;
    case DataType::kInt8: return onnx::TensorProto::INT8;
    case DataType::kInt32: return onnx::TensorProto::INT32;
    case DataType::kInt64: return onnx::TensorProto::INT64;
  }
  return onnx::TensorProto::UNDEFINED;
}

onnx::TensorProto to_tensor_proto(const std::string& name, const Tensor& value) {
  onnx::TensorProto proto;
  proto.set_name(name);
  proto.set_data_type(onnx_element_type(value.dtype()));
  for (auto d : value.shape()) proto.add_dims(d);
  proto.set_raw_data(static_cast<const char*>(value.raw()), value.size_bytes());
  return proto;
}

Tensor random_tensor(DataType type, Shape shape, unsigned seed, float lo,
                            float hi) {
  std::mt19937 rng(seed);
  Tensor tensor = Tensor::allocate(type, std::move(shape));
  const auto n = static_cast<size_t>(tensor.numel());
  auto fill = [&](auto* data, std::int64_t min, std::int64_t max) {
    std::uniform_int_distribution<std::int64_t> dist(min, max);
    using T = std::remove_pointer_t<decltype(data)>;
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<T>(dist(rng));
  };
  switch (type) {
    case DataType::kFloat32: {
      std::uniform_real_distribution<float> dist(lo, hi);
      auto* data = tensor.data<float>();
      for (size_t i = 0; i < n; ++i) data[i] = dist(rng);
      break;
    }
    case DataType::kUInt8: fill(tensor.data<std::uint8_t>(), 0, 255); break;
    case DataType::kInt8: fill(tensor.data<std::int8_t>(), -128, 127); break;
    case DataType::kInt32: fill(tensor.data<std::int32_t>(), -1000, 1000); break;
    case DataType::kInt64: fill(tensor.data<std::int64_t>(), -1000, 1000); break;
  }
  return tensor;
}


}  // namespace canopy::infer
