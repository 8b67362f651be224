// The ONNX export against the model it came from: libtorch, Canopy's engine
// and ONNX Runtime must agree on the same weights, BatchNorm folding must be
// exact, and a model loaded back from its ONNX must compute the same function.
// Also the pieces of compression that need no training run: channel pruning
// and the activation calibrators.
#include <gtest/gtest.h>

#include <cmath>

#include "common/files.h"
#include "infer/engine.h"
#include "onnxruntime.h"
#include "test_support.h"
#include "train/calibration.h"
#include "train/model.h"
#include "train/onnx_export.h"
#include "train/prune.h"
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
  infer::Tensor out =
      infer::Tensor::allocate(infer::DataType::kFloat32, infer::Shape(c.sizes().begin(), c.sizes().end()));
  std::memcpy(out.raw(), c.data_ptr<float>(), out.size_bytes());
  return out;
}

// Every element within 1e-4 relative, or 1e-4 absolute near zero.
void expect_close(const torch::Tensor& expected, const infer::Tensor& actual, const std::string& what) {
  ASSERT_EQ(std::vector<std::int64_t>(expected.sizes().begin(), expected.sizes().end()), actual.shape())
      << what;
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

  for (infer::BackendKind backend :
       {infer::BackendKind::kReference, infer::BackendKind::kOneDnn, infer::BackendKind::kXnnpack}) {
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

TEST(OnnxExport, ALoadedModelsBatchNormIsUnfoldedWithoutChangingItsFunction) {
  FieldDetector model = random_detector();
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(export_to(*model, dir, kLabels));
  auto loaded = load_model(dir / "model.onnx");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const torch::Tensor batch = torch::rand({4, 3, 96, 96});
  const torch::Tensor exported = torch_output(*loaded->model, batch);
  // Folded, training BatchNorm would normalize by the batch: not the exported function.
  loaded->model->train();
  const torch::Tensor training_folded = torch_output(*loaded->model, batch);
  EXPECT_LT((training_folded - exported).abs().max().item<float>(), 1e-3) << "frozen until unfolded";

  int given = 0;
  unfold_batch_norm(*loaded->model, [&]() -> std::optional<torch::Tensor> {
    return given++ == 0 ? std::optional<torch::Tensor>(batch) : std::nullopt;
  });
  EXPECT_TRUE(loaded->model->is_training());
  for (const auto& module : loaded->model->modules(false))
    if (auto* unit = module->as<ConvBnActImpl>()) {
      EXPECT_FALSE(unit->frozen_statistics);
      EXPECT_GT(unit->bn->running_var.abs().sum().item<double>(), 0);
    }
  // Training BatchNorm on the measured batch computes the exported function,
  // and so do the unfolded model at rest and its fold.
  const torch::Tensor training = torch_output(*loaded->model, batch);
  EXPECT_LT((training - exported).abs().max().item<float>(), 2e-3);
  loaded->model->eval();
  EXPECT_LT((torch_output(*loaded->model, batch) - exported).abs().max().item<float>(), 1e-3);
  TempDir again;
  ASSERT_NO_FATAL_FAILURE(export_to(*loaded->model, again, kLabels));
  auto reloaded = load_model(again / "model.onnx");
  ASSERT_TRUE(reloaded.ok()) << reloaded.error().message;
  EXPECT_LT((torch_output(*reloaded->model, batch) - exported).abs().max().item<float>(), 1e-3);
}

TEST(OnnxExport, ForeignOnnxIsRefusedForFineTuning) {
  TempDir dir;
  // Debian's ONNX test data: a real model that canopy-train did not write.
  const std::filesystem::path foreign =
      "/usr/share/libonnx-testdata/data/node/test_basic_conv_with_padding/model.onnx";
  auto loaded = load_model(foreign);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("not exported by canopy-train"), std::string::npos)
      << loaded.error().message;

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

// Half of every channel group goes: the network really shrinks (weights
// have half the inputs and half the outputs, so about a quarter of the
// parameters and FLOPs), the least important channels are the ones removed,
// and the smaller network exports and runs on the engine like in libtorch.
TEST(Prune, RemovesTheLeastImportantChannelsAndShrinksTheNetwork) {
  FieldDetector model = random_detector(96, 0.5);
  {
    // stage2's first 32 of 64 channels barely contribute.
    torch::NoGradGuard no_grad;
    model->stage2->down->conv->weight.narrow(0, 0, 32).mul_(1e-3);
    for (const auto& block : *model->stage2->blocks)
      block->as<BottleneckImpl>()->expand->conv->weight.narrow(0, 0, 32).mul_(1e-3);
  }
  std::map<std::string, int> keep;
  for (const auto& [group, size] : channel_groups(*model)) keep[group] = size / 2;
  EXPECT_EQ(keep.size(), 15u);  // stem, 4 stages, 6 bottlenecks, neck, 3 heads
  EXPECT_EQ(keep["stage2"], 32);
  FieldDetector pruned = prune_channels(*model, keep, PruneCriterion::kL1);
  for (const auto& [group, size] : channel_groups(*pruned)) EXPECT_EQ(size, keep[group]) << group;
  EXPECT_TRUE(
      torch::equal(pruned->stage2->down->bn->weight, model->stage2->down->bn->weight.narrow(0, 32, 32)));
  EXPECT_EQ(pruned->stage3->down->conv->weight.size(1), 32);  // the next stage reads only the kept channels

  const double parameters = double(parameter_count(*pruned)) / double(parameter_count(*model));
  const double flops = gflops(*pruned) / gflops(*model);
  EXPECT_GT(parameters, 0.22);
  EXPECT_LT(parameters, 0.30);
  EXPECT_GT(flops, 0.22);
  EXPECT_LT(flops, 0.32);

  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(export_to(*pruned, dir, kLabels));
  auto loaded = load_model(dir / "model.onnx");  // the channel counts travel in the ONNX metadata
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->model->config.channels, pruned->config.channels);
  const torch::Tensor input = torch::rand({1, 3, 96, 96});
  auto engine = infer::Engine::load(dir / "model.onnx", {});
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  auto outputs = (*engine)->run({to_engine(input)});
  ASSERT_TRUE(outputs.ok()) << outputs.error().message;
  expect_close(torch_output(*pruned, input), (*outputs)[0], "pruned on the engine");
}

TEST(Prune, UnknownCriterionIsAnError) {
  EXPECT_TRUE(parse_prune_criterion("l2").ok());
  auto bad = parse_prune_criterion("magnitude");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("l1, l2 or bn"), std::string::npos);
}

// Quantization-aware training computes what the int8 model will: the input
// on its uint8 grid, the weights on a per-channel int8 grid; and gradients
// still reach the float weights.
TEST(Qat, FakeQuantizedConvolutionIsTheInt8Computation) {
  torch::manual_seed(3);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(4, 8, 3).padding(1));
  const torch::Tensor x = torch::rand({2, 4, 9, 9});
  const FakeQuant quant{1.0f / 255, false};
  const torch::Tensor y = fake_quantized_conv(*conv, x, quant);

  torch::NoGradGuard no_grad;
  // Multiplied by inverse scales, as ATen's fake quantization does, so
  // values near a rounding boundary land on the same side.
  const torch::Tensor x_grid = torch::round(x * (1.0f / quant.scale)).clamp(0, 255) * quant.scale;
  const torch::Tensor w = conv->weight;
  const torch::Tensor w_scale = w.abs().flatten(1).amax(1).reshape({-1, 1, 1, 1}) / 127;
  const torch::Tensor w_grid = torch::round(w * (1.0 / w_scale)).clamp(-127, 127) * w_scale;
  const torch::Tensor expected = torch::conv2d(x_grid, w_grid, conv->bias, 1, 1);
  EXPECT_LT((y - expected).abs().max().item<float>(), 1e-5);
  EXPECT_GT((y - conv(x)).abs().max().item<float>(), 1e-4) << "the rounding must show";
}

TEST(Qat, GradientsReachTheFloatWeights) {
  torch::manual_seed(4);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 5, 3).padding(1));
  fake_quantized_conv(*conv, torch::rand({1, 3, 8, 8}), FakeQuant{0.01f, false}).sum().backward();
  ASSERT_TRUE(conv->weight.grad().defined());
  EXPECT_GT(conv->weight.grad().abs().sum().item<float>(), 0.0f);
}

// Uniform values in [0, 1) and one far outlier: min-max keeps the outlier,
// the percentile and entropy calibrators clip it and keep resolution.
TEST(Calibration, CalibratorsAgreeOnTheBulkAndDifferOnOutliers) {
  std::vector<float> values(100000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = float(i % 1000) / 1000.0f;
  values[17] = 50.0f;
  ActivationHistogram histogram;
  histogram.observe_range(values.data(), std::int64_t(values.size()));
  histogram.observe(values.data(), std::int64_t(values.size()));
  EXPECT_FALSE(histogram.is_signed());
  EXPECT_FLOAT_EQ(histogram.threshold(Calibrator::kMinMax), 50.0f);
  EXPECT_NEAR(histogram.threshold(Calibrator::kPercentile), 1.0f, 0.05f);
  // Entropy cannot clip below one histogram bin per level (256 of 2048 bins
  // of [0, 50] here), but it does clip the outlier.
  EXPECT_LT(histogram.threshold(Calibrator::kEntropy), 10.0f);
  EXPECT_GT(histogram.threshold(Calibrator::kEntropy), 1.0f);

  ActivationHistogram signed_values;
  const float mixed[] = {-3.0f, 1.0f, 2.0f};
  signed_values.observe_range(mixed, 3);
  signed_values.observe(mixed, 3);
  EXPECT_TRUE(signed_values.is_signed());
  EXPECT_FLOAT_EQ(signed_values.threshold(Calibrator::kMinMax), 3.0f);

  ActivationHistogram zeros;
  const float zero[] = {0.0f, 0.0f};
  zeros.observe_range(zero, 2);
  zeros.observe(zero, 2);
  EXPECT_GT(zeros.threshold(Calibrator::kEntropy), 0.0f);  // never a zero scale
  EXPECT_FALSE(parse_calibrator("kl").ok());
}

}  // namespace
}  // namespace canopy::train
