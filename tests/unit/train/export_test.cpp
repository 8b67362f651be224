// The ONNX export against the model it came from: libtorch, Canopy's engine
// and ONNX Runtime must agree on the same weights, BatchNorm folding must be
// exact, and a model loaded back from its ONNX must compute the same function.
#include <gtest/gtest.h>

#include <cmath>

#include "common/files.h"
#include "infer/engine.h"
#include "onnxruntime.h"
#include "test_support.h"
#include "train/model.h"
#include "train/onnx_export.h"
#include "train/trainer.h"

namespace canopy::train {
namespace {

using testing::TempDir;

// A small detector whose BatchNorm layers hold non-trivial statistics, so a
// wrong fold would show.
FieldDetector random_detector(int size = 96, double width = 0.25) {
  torch::manual_seed(7);
  DetectorConfig config;
  config.input_size = size;
  config.width = width;
  FieldDetector model(config);
  torch::NoGradGuard no_grad;
  for (auto& buffer : model->named_buffers()) {
    if (buffer.key().find("running_mean") != std::string::npos) buffer.value().uniform_(-0.5, 0.5);
    if (buffer.key().find("running_var") != std::string::npos) buffer.value().uniform_(0.5, 2.0);
  }
  for (auto& parameter : model->named_parameters()) {
    if (parameter.key().find("bn.weight") != std::string::npos) parameter.value().uniform_(0.5, 1.5);
    if (parameter.key().find("bn.bias") != std::string::npos) parameter.value().uniform_(-0.2, 0.2);
  }
  model->eval();
  return model;
}

torch::Tensor torch_output(FieldDetectorImpl& model, const torch::Tensor& input) {
  torch::NoGradGuard no_grad;
  return decode(model.forward(input), model.config);
}

infer::Tensor to_engine(const torch::Tensor& value) {
  const torch::Tensor c = value.contiguous();
  infer::Tensor out = infer::Tensor::allocate(infer::DataType::kFloat32, infer::Shape(c.sizes().begin(), c.sizes().end()));
  std::memcpy(out.raw(), c.data_ptr<float>(), out.size_bytes());
  return out;
}

// Every element within 1e-4 relative, or 1e-4 absolute near zero.
void expect_close(const torch::Tensor& expected, const infer::Tensor& actual, const std::string& what) {
  ASSERT_EQ(std::vector<std::int64_t>(expected.sizes().begin(), expected.sizes().end()), actual.shape()) << what;
  const torch::Tensor e = expected.contiguous();
  const float* a = actual.data<float>();
  const float* x = e.data_ptr<float>();
  int reported = 0;
  for (std::int64_t i = 0; i < e.numel(); ++i) {
    const double tolerance = std::max(1e-4, 1e-4 * std::abs(x[i]));
    if (std::abs(a[i] - x[i]) > tolerance && reported++ < 5) {
      ADD_FAILURE() << what << ": element " << i << " is " << a[i] << ", libtorch says " << x[i];
    }
  }
}

// Exports `model` to DIR/model.onnx.
void export_to(FieldDetectorImpl& model, const TempDir& dir, const std::vector<std::string>& labels) {
  auto onnx = export_onnx(model, labels);
  ASSERT_TRUE(onnx.ok()) << onnx.error().message;
  ASSERT_TRUE(write_file_atomic(dir / "model.onnx", *onnx).ok());
}

const std::vector<std::string> kLabels = {"healthy", "diseased", "water_stressed"};

TEST(OnnxExport, EngineMatchesLibtorch) {
  FieldDetector model = random_detector();
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(export_to(*model, dir, kLabels));
  const torch::Tensor input = torch::rand({1, 3, 96, 96});
  const torch::Tensor expected = torch_output(*model, input);
  EXPECT_EQ(expected.size(1), 12 * 12 + 6 * 6 + 3 * 3);

  for (infer::BackendKind backend : {infer::BackendKind::kReference, infer::BackendKind::kOneDnn, infer::BackendKind::kXnnpack}) {
    infer::EngineOptions options;
    options.backend = backend;
    auto engine = infer::Engine::load(dir / "model.onnx", options);
    ASSERT_TRUE(engine.ok()) << engine.error().message;
    auto context = (*engine)->create_context();
    auto outputs = context->run({to_engine(input)});
    ASSERT_TRUE(outputs.ok()) << outputs.error().message;
    expect_close(expected, (*outputs)[0], std::string(infer::backend_kind_name(backend)));
  }
}

TEST(OnnxExport, OnnxRuntimeMatchesLibtorch) {
  if (!testing::onnxruntime_available()) GTEST_SKIP() << "onnxruntime-node is not installed (make deps)";
  FieldDetector model = random_detector();
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(export_to(*model, dir, kLabels));
  const torch::Tensor input = torch::rand({1, 3, 96, 96});
  auto outputs = testing::run_onnxruntime(dir / "model.onnx", {{kInputName, to_engine(input)}});
  ASSERT_TRUE(outputs.ok()) << outputs.error().message;
  expect_close(torch_output(*model, input), (*outputs)[0], "onnxruntime");
}

TEST(OnnxExport, WeightsLoadBackIntoTheSameFunction) {
  FieldDetector model = random_detector();
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(export_to(*model, dir, {"a", "b", "c"}));
  auto loaded = load_model(dir / "model.onnx");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->labels, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(loaded->model->config.width, 0.25);
  const torch::Tensor input = torch::rand({2, 3, 96, 96});
  const torch::Tensor a = torch_output(*model, input), b = torch_output(*loaded->model, input);
  EXPECT_LT((a - b).abs().max().item<float>(), 1e-3);
}

TEST(OnnxExport, ForeignOnnxIsRefusedForFineTuning) {
  TempDir dir;
  // Debian's ONNX test data: a real model that canopy-train did not write.
  const std::filesystem::path foreign = "/usr/share/libonnx-testdata/data/node/test_basic_conv_with_padding/model.onnx";
  auto loaded = load_model(foreign);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("not exported by canopy-train"), std::string::npos) << loaded.error().message;

  testing::write_bytes(dir / "garbage.onnx", "not a protobuf at all \x01\x02");
  auto garbage = load_model(dir / "garbage.onnx");
  ASSERT_FALSE(garbage.ok());

  testing::write_bytes(dir / "broken.pt", std::string(300, 'x'));
  auto broken = load_model(dir / "broken.pt");
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find("broken.pt"), std::string::npos) << broken.error().message;
}

TEST(ModelSize, DefaultFitsAFarmBoard) {
  FieldDetector model{DetectorConfig{}};
  EXPECT_LE(parameter_count(*model), 2'000'000);
  EXPECT_LE(gflops(*model), 2.0);
  EXPECT_GT(gflops(*model), 0.1);
}

}  // namespace
}  // namespace canopy::train
