// canopy-train quantize and prune end to end, as a pipeline runs them: a
// tiny detector trained on generated field images is compressed, and the
// compressed packages are checked the way a device and a reviewer would:
// ONNX Runtime runs the same QDQ file and agrees within one quantization
// step, the accuracy in the report is what the engine measures, the pruned
// network really lost channels, and `canopy package create` takes both.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <set>

#include "common/json.h"
#include "infer/engine.h"
#include "infer/onnx_loader.h"
#include "onnxruntime.h"
#include "test_support.h"

namespace canopy {
namespace {

using testing::run_shell;
using testing::TempDir;
namespace fs = std::filesystem;

const std::string kTrain = testing::train_binary().string();

class CompressTest : public ::testing::Test {
 public:
  static fs::path data(const std::string& name) { return dir_->path() / name; }

 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string canopy = testing::canopy_binary().string();
    for (auto [name, images, seed] : {std::tuple{"train", 64, 1}, std::tuple{"val", 16, 2}}) {
      const auto result = run_shell(canopy + " dataset generate --out " + (dir_->path() / name).string() + " --images " +
                                    std::to_string(images) + " --seed " + std::to_string(seed) + " -q");
      ASSERT_EQ(result.exit_code, 0) << result.output;
    }
    const auto trained = run_shell(kTrain + " train --data " + data("train").string() + " --val " + data("val").string() +
                                   " --out " + (dir_->path() / "run").string() +
                                   " --epochs 6 --batch 8 --img 160 --width 0.25 --seed 3 --golden 1 -q");
    ASSERT_EQ(trained.exit_code, 0) << trained.output;
  }
  static void TearDownTestSuite() { delete dir_; }
  static fs::path package() { return dir_->path() / "run" / "package"; }
  static TempDir* dir_;
};
TempDir* CompressTest::dir_ = nullptr;

double eval_map50(const fs::path& package_dir) {
  const auto evaluated =
      run_shell(kTrain + " eval --model " + package_dir.string() + " --data " + (CompressTest::data("val")).string() + " --json -q");
  EXPECT_EQ(evaluated.exit_code, 0) << evaluated.output;
  return Json::parse(evaluated.output.substr(evaluated.output.find('{')))["map50"].get<double>();
}

// The QDQ model with every quantized activation (QuantizeLinear output)
// also a graph output, so two runtimes can be compared tensor by tensor.
fs::path with_quantized_outputs(const fs::path& model, const fs::path& out, std::vector<std::string>& names) {
  onnx::ModelProto proto;
  const std::string bytes = testing::read_bytes(model);
  EXPECT_TRUE(proto.ParseFromString(bytes));
  std::map<std::string, int> types;
  for (const auto& tensor : proto.graph().initializer()) types[tensor.name()] = tensor.data_type();
  for (const auto& node : proto.graph().node()) {
    if (node.op_type() != "QuantizeLinear") continue;
    auto* output = proto.mutable_graph()->add_output();
    output->set_name(node.output(0));
    output->mutable_type()->mutable_tensor_type()->set_elem_type(types.at(node.input(2)));
    names.push_back(node.output(0));
  }
  testing::write_bytes(out, proto.SerializeAsString());
  return out;
}

TEST_F(CompressTest, Int8PackageMatchesOnnxRuntimeAndItsAccuracyIsTheEngines) {
  TempDir work;
  const auto quantized = run_shell(kTrain + " quantize --model " + package().string() + " --calib " +
                                   data("train").string() + " --images 16 --val " + data("val").string() + " --out " +
                                   (work / "q").string() + " -q");
  ASSERT_EQ(quantized.exit_code, 0) << quantized.output;
  const Json report = Json::parse(testing::read_bytes(work / "q/report.json"));
  ASSERT_EQ(report["models"].size(), 2u);
  const Json& original = report["models"][0];
  const Json& int8 = report["models"][1];
  EXPECT_EQ(int8["variant"], "int8");
  EXPECT_LT(int8["file_ratio"].get<double>(), 0.4) << "int8 weights are a quarter of float ones";
  EXPECT_EQ(report["quantization"]["calibrator_map50"].size(), 3u) << "auto tries every calibrator";
  EXPECT_FALSE(report["quantization"]["layers"].empty());
  EXPECT_GT(original["map50"].get<double>(), 0.0);

  // The accuracy in the report is the engine's, not an estimate: the same
  // package evaluated again gives the same number, and so does the original.
  EXPECT_NEAR(eval_map50(work / "q/package"), int8["map50"].get<double>(), 1e-9);
  EXPECT_NEAR(eval_map50(package()), original["map50"].get<double>(), 1e-9);
  const Json manifest = Json::parse(testing::read_bytes(work / "q/package/canopy.json"));
  EXPECT_EQ(manifest["metrics"]["compression"]["models"][1]["variant"], "int8");
  EXPECT_EQ(manifest["labels"], Json({"healthy", "diseased", "water_stressed"}));
  const auto packaged = run_shell(testing::canopy_binary().string() + " package create " + (work / "q/package").string() +
                                  " --output " + (work / "int8.zip").string());
  EXPECT_EQ(packaged.exit_code, 0) << packaged.output;

  // ONNX Runtime runs the same file; every quantized activation agrees
  // within one step on the reference and oneDNN backends, and so do the
  // detections. XNNPACK has no int8 convolution with a residual sum: it
  // rounds the convolution to the output scale, then adds (each op within a
  // step, see the conformance test), and those steps add up through the
  // residual blocks, so deep activations may differ by a few steps there.
  // The detections must agree on every backend.
  std::vector<std::string> names;
  const fs::path probe = with_quantized_outputs(work / "q/package/model.onnx", work / "probe.onnx", names);
  ASSERT_GT(names.size(), 10u);
  auto input = infer::load_tensor_proto(testing::read_bytes(work / "q/package/golden/input_0.pb"));
  ASSERT_TRUE(input.ok()) << input.error().message;
  auto expected = testing::run_onnxruntime(probe, {{"images", *input}});
  ASSERT_TRUE(expected.ok()) << expected.error().message;
  for (auto backend : {infer::BackendKind::kReference, infer::BackendKind::kOneDnn, infer::BackendKind::kXnnpack}) {
    infer::EngineOptions options;
    options.backend = backend;
    auto engine = infer::Engine::load(probe, options);
    ASSERT_TRUE(engine.ok()) << engine.error().message;
    auto actual = (*engine)->run({*input});
    ASSERT_TRUE(actual.ok()) << actual.error().message;
    ASSERT_EQ(actual->size(), expected->size());
    const std::string where(infer::backend_kind_name(backend));
    for (size_t k = 1; k < actual->size(); ++k) {
      const auto ours = infer::to_float_vector((*actual)[k]), theirs = infer::to_float_vector((*expected)[k]);
      ASSERT_EQ(ours.size(), theirs.size());
      float worst = 0;
      for (size_t i = 0; i < ours.size(); ++i) worst = std::max(worst, std::fabs(ours[i] - theirs[i]));
      const float allowed = backend == infer::BackendKind::kXnnpack ? 4.0f : 1.0f;
      EXPECT_LE(worst, allowed) << where << ": " << names[k - 1] << " differs by " << worst << " steps";
    }
    // Detections: box coordinates in input pixels, then class probabilities.
    const auto ours = infer::to_float_vector((*actual)[0]), theirs = infer::to_float_vector((*expected)[0]);
    const size_t row = 4 + 3;
    for (size_t i = 0; i < ours.size(); ++i) {
      const float allowed = i % row < 4 ? 1.0f : 0.02f;
      ASSERT_NEAR(ours[i], theirs[i], allowed) << where << ": detections element " << i;
    }
  }
}

// Quantization-aware fine-tuning first: the fine-tuned float model is kept
// (OUT/qat), and the report still compares the int8 model with the original.
TEST_F(CompressTest, QuantizationAwareFineTuningThenInt8) {
  TempDir work;
  const auto quantized = run_shell(kTrain + " quantize --model " + package().string() + " --calib " +
                                   data("train").string() + " --images 16 --val " + data("val").string() + " --out " +
                                   (work / "q").string() + " --qat-epochs 1 --batch 8 -q");
  ASSERT_EQ(quantized.exit_code, 0) << quantized.output;
  EXPECT_TRUE(fs::exists(work / "q/qat/best.pt"));
  EXPECT_TRUE(fs::exists(work / "q/qat/package/model.onnx"));
  const Json report = Json::parse(testing::read_bytes(work / "q/report.json"));
  ASSERT_EQ(report["models"].size(), 2u);
  EXPECT_NEAR(eval_map50(package()), report["models"][0]["map50"].get<double>(), 1e-9) << "the reference is the original";
  EXPECT_NEAR(eval_map50(work / "q/package"), report["models"][1]["map50"].get<double>(), 1e-9);
  const Json manifest = Json::parse(testing::read_bytes(work / "q/package/canopy.json"));
  EXPECT_NE(manifest["lineage"]["compression"].get<std::string>().find("quantization-aware"), std::string::npos);
}

TEST_F(CompressTest, PrunedPackageHasFewerChannelsAndRuns) {
  TempDir work;
  const auto pruned = run_shell(kTrain + " prune --model " + package().string() + " --data " + data("train").string() +
                                " --val " + data("val").string() + " --out " + (work / "p").string() +
                                " --ratio 0.5 --uniform --epochs 1 --batch 8 -q");
  ASSERT_EQ(pruned.exit_code, 0) << pruned.output;
  const Json report = Json::parse(testing::read_bytes(work / "p/report.json"));
  ASSERT_EQ(report["models"].size(), 2u);
  const Json& original = report["models"][0];
  const Json& smaller = report["models"][1];
  // Width 0.25 leaves 8-channel groups that stay (8 is the floor): the rest halve.
  for (const Json& group : report["pruning"]["groups"]) {
    const int before = group["channels_before"], after = group["channels_after"];
    EXPECT_EQ(after, std::max(8, (before / 2 + 7) / 8 * 8)) << group.dump();
    EXPECT_TRUE(group["sensitivity_map50"].is_number()) << group.dump();
  }
  const double parameters = smaller["parameters"].get<double>() / original["parameters"].get<double>();
  const double flops = smaller["gflops"].get<double>() / original["gflops"].get<double>();
  EXPECT_LT(parameters, 0.45);
  EXPECT_LT(flops, 0.55);
  EXPECT_LT(smaller["file_bytes"].get<double>(), original["file_bytes"].get<double>());
  // The pruned model runs on the engine and is measured there.
  EXPECT_NEAR(eval_map50(work / "p/package"), smaller["map50"].get<double>(), 1e-9);
  EXPECT_TRUE(fs::exists(work / "p/step1/best.pt"));
  const auto packaged = run_shell(testing::canopy_binary().string() + " package create " + (work / "p/package").string() +
                                  " --output " + (work / "pruned.zip").string());
  EXPECT_EQ(packaged.exit_code, 0) << packaged.output;
}

TEST_F(CompressTest, BadInputIsAClearError) {
  TempDir work;
  // Not a package directory.
  auto result = run_shell(kTrain + " quantize --model " + work.path().string() + " --calib " + data("train").string() +
                          " --val " + data("val").string() + " --out " + (work / "q").string() + " -q");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("canopy.json"), std::string::npos) << result.output;
  // A calibrator that does not exist.
  result = run_shell(kTrain + " quantize --model " + package().string() + " --calib " + data("train").string() +
                     " --val " + data("val").string() + " --out " + (work / "q").string() + " --calibrator kl -q");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("kl"), std::string::npos) << result.output;
  // A ratio that would remove everything.
  result = run_shell(kTrain + " prune --model " + package().string() + " --data " + data("train").string() + " --val " +
                     data("val").string() + " --out " + (work / "p").string() + " --ratio 1.0 -q");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_FALSE(fs::exists(work / "p/package"));
}

}  // namespace
}  // namespace canopy
