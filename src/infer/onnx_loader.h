// Reads an ONNX model into the engine's Graph. Nothing in the file is
// trusted: the size is bounded, the protobuf must parse, every declared value
// must be a tensor of a supported type, the ONNX checker must accept it, the
// default-domain opset must be 11-17,
// every operator must be one the engine implements (otherwise the error
// names the operator, the node and the opset), and every initializer's data
// must match its declared type and shape.
// Thread-safety: stateless; safe to call concurrently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "common/error.h"
#include "infer/graph.h"

namespace canopy::infer {

inline constexpr int kMinOpset = 11;
inline constexpr int kMaxOpset = 17;

struct LoadLimits {
  std::uint64_t max_model_bytes = 1ull << 30;
  std::uint64_t max_nodes = 100000;
  std::uint64_t max_tensor_elements = 1ull << 28;
};

Result<Graph> load_onnx_file(const std::filesystem::path& path, const LoadLimits& limits = {});
Result<Graph> load_onnx_bytes(std::string_view bytes, const LoadLimits& limits = {});
// One serialized TensorProto (the ONNX test-data `.pb` files that packages
// carry as golden samples), checked like an initializer.
Result<Tensor> load_tensor_proto(std::string_view bytes, const LoadLimits& limits = {});

}  // namespace canopy::infer
