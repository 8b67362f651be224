// Builds ONNX models in C++, one call per input, initializer, node and
// output, over an onnx::ModelProto (IR version 8, one opset import for the
// default domain): test models, benchmark networks, and models exported by
// other modules. Nothing is validated here (a test may build a model the
// engine must reject); the loader validates.
// Also random tensors for synthetic weights and inputs.
// Thread-safety: an OnnxBuilder is a plain value; use one per thread.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "common/error.h"
#include "infer/tensor.h"

namespace canopy::infer {

// One node attribute. Build it with the attr_* functions below, e.g.
// attr_ints("pads", {1, 1, 1, 1}).
struct OnnxAttribute {
  using Value = std::variant<std::int64_t, float, std::string, std::vector<std::int64_t>,
                             std::vector<float>, Tensor>;
  std::string name;
  Value value;
};

OnnxAttribute attr_int(std::string name, std::int64_t value);
OnnxAttribute attr_float(std::string name, float value);
OnnxAttribute attr_string(std::string name, std::string value);
OnnxAttribute attr_ints(std::string name, std::vector<std::int64_t> values);
OnnxAttribute attr_floats(std::string name, std::vector<float> values);
OnnxAttribute attr_tensor(std::string name, const Tensor& value);

class OnnxBuilder {
 public:
  explicit OnnxBuilder(int opset);

  // Graph inputs and outputs. An empty `shape` leaves the shape unspecified
  // (any rank); a negative dimension is left symbolic (a dim_param).
  OnnxBuilder& add_input(const std::string& name, DataType type, const Shape& shape);
  OnnxBuilder& add_output(const std::string& name, DataType type, const Shape& shape);
  // A constant stored in the model (raw little-endian data).
  OnnxBuilder& add_initializer(const std::string& name, const Tensor& value);
  // A node of the default domain; `name` empty: "<op_type>_<index>".
  OnnxBuilder& add_node(const std::string& op_type, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs,
                        const std::vector<OnnxAttribute>& attributes = {},
                        const std::string& name = "");

  const onnx::ModelProto& proto() const { return model_; }
  std::string serialize() const;
  // Writes the serialized model to `path`; kIo when the file cannot be written.
  Status save(const std::filesystem::path& path) const;

 private:
  onnx::ModelProto model_;
};

// The ONNX TensorProto element type of `type` (onnx::TensorProto_DataType_*).
int onnx_element_type(DataType type);
// A TensorProto holding `value` as raw data, named `name`.
onnx::TensorProto to_tensor_proto(const std::string& name, const Tensor& value);

// A tensor of uniformly distributed values, the same for the same arguments.
// float32: in [lo, hi). Integer types ignore lo/hi: uint8 covers [0, 255],
// int8 [-128, 127], int32 and int64 [-1000, 1000].
Tensor random_tensor(DataType type, Shape shape, unsigned seed, float lo = -1,
                            float hi = 1);
// A float32 tensor holding `values`; throws std::invalid_argument when their

}  // namespace canopy::infer
