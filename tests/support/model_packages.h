// Real model packages for the agent's tests: a small ONNX model built with
// the engine's OnnxBuilder (y = x * scale), golden samples written as ONNX
// TensorProto files, and the zip made and signed by package::create_package,
// the code behind `canopy package create`.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "common/files.h"
#include "common/keys.h"
#include "infer/onnx_builder.h"
#include "package/package.h"
#include "test_support.h"

namespace canopy::testing {

struct ModelPackageSpec {
  std::string name = "crop-detector";
  float scale = 2.0f;            // the model multiplies its input by this
  float golden_scale = 2.0f;     // the golden output was recorded with this factor
  double latency_budget_ms = 0;  // budgets.latency_ms (0: none)
  std::uint64_t memory_budget_bytes = 0;
  std::uint64_t padding_bytes = 0;  // an extra file, so downloads and unpacking take a while
  unsigned seed = 1;
};

// Builds the package directory `dir` and the zip `zip`, signed with `key` if given.
inline void build_model_package(const std::filesystem::path& dir, const std::filesystem::path& zip,
                                const ModelPackageSpec& spec, const std::optional<KeyPair>& key) {
  namespace fs = std::filesystem;
  using infer::DataType;
  fs::remove_all(dir);
  fs::create_directories(dir / "golden");
  const infer::Shape shape = {1, 3, 8, 8};
  infer::Tensor k = infer::Tensor::allocate(DataType::kFloat32, {1});
  k.data<float>()[0] = spec.scale;
  infer::OnnxBuilder builder(13);
  builder.add_input("x", DataType::kFloat32, shape).add_initializer("k", k);
  builder.add_node("Mul", {"x", "k"}, {"y"});
  builder.add_output("y", DataType::kFloat32, shape);
  ASSERT_TRUE(builder.save(dir / "model.onnx").ok());

  const infer::Tensor input = infer::random_tensor(DataType::kFloat32, shape, spec.seed);
  infer::Tensor expected = input.clone();
  for (std::int64_t i = 0; i < expected.numel(); ++i) expected.data<float>()[i] *= spec.golden_scale;
  write_bytes(dir / "golden" / "input_0.pb", infer::to_tensor_proto("x", input).SerializeAsString());
  write_bytes(dir / "golden" / "output_0.pb", infer::to_tensor_proto("y", expected).SerializeAsString());

  package::InitOptions init;
  init.directory = dir;
  init.model = dir / "model.onnx";
  init.name = spec.name;
  init.labels = {"healthy", "diseased"};
  init.input_shape = shape;
  init.golden.emplace_back(dir / "golden" / "input_0.pb", dir / "golden" / "output_0.pb");
  auto manifest = package::init_package(init);
  ASSERT_TRUE(manifest.ok()) << manifest.error().message;
  manifest->budgets.latency_ms = spec.latency_budget_ms;
  manifest->budgets.memory_bytes = spec.memory_budget_bytes;
  if (spec.padding_bytes > 0) {
    write_bytes(dir / "calibration.bin", random_bytes(spec.padding_bytes, spec.seed));
    manifest->files.push_back({"calibration.bin", std::string(64, '0'), 0, "other"});
  }
  ASSERT_TRUE(write_file_atomic(dir / "canopy.json", package::serialize_manifest(*manifest)).ok());
  auto created = package::create_package(dir, zip, key);
  ASSERT_TRUE(created.ok()) << created.error().message;
}

}  // namespace canopy::testing
