// Engine behaviour beyond single operators: concurrent contexts, other batch
// sizes on one engine, clear errors for wrong inputs, and the optimizer's
// fusions being real (fewer nodes, same numbers).
#include "infer/engine.h"

#include <gtest/gtest.h>

#include <thread>

#include "infer/onnx_builder.h"
#include "test_support.h"

namespace canopy::infer {
namespace {

namespace fs = std::filesystem;

EngineOptions on(BackendKind backend) {
  EngineOptions options;
  options.backend = backend;
  return options;
}

// Conv -> BatchNorm -> Relu -> Conv -> Add(residual) on a 1x4x12x12 input.
fs::path write_block(const fs::path& dir) {
  OnnxBuilder b(13);
  b.add_input("x", DataType::kFloat32, {-1, 4, 12, 12});
  b.add_initializer("w1", random_tensor(DataType::kFloat32, {4, 4, 3, 3}, 1, -0.3f, 0.3f));
  b.add_initializer("w2", random_tensor(DataType::kFloat32, {4, 4, 3, 3}, 2, -0.3f, 0.3f));
  b.add_initializer("s", random_tensor(DataType::kFloat32, {4}, 3, 0.5f, 1.5f));
  b.add_initializer("bb", random_tensor(DataType::kFloat32, {4}, 4));
  b.add_initializer("m", random_tensor(DataType::kFloat32, {4}, 5));
  b.add_initializer("v", random_tensor(DataType::kFloat32, {4}, 6, 0.5f, 1.5f));
  b.add_node("Conv", {"x", "w1"}, {"c1"}, {attr_ints("pads", {1, 1, 1, 1})});
  b.add_node("BatchNormalization", {"c1", "s", "bb", "m", "v"}, {"n1"});
  b.add_node("Relu", {"n1"}, {"r1"});
  b.add_node("Conv", {"r1", "w2"}, {"c2"}, {attr_ints("pads", {1, 1, 1, 1})});
  b.add_node("Add", {"c2", "x"}, {"y"});
  b.add_output("y", DataType::kFloat32, {});
  EXPECT_TRUE(b.save(dir / "block.onnx").ok());
  return dir / "block.onnx";
}

TEST(Engine, FusesBatchNormActivationAndResidual) {
  testing::TempDir dir;
  auto engine = Engine::load(write_block(dir.path()), on(BackendKind::kReference));
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  ASSERT_EQ((*engine)->graph().nodes.size(), 2u) << "two convolutions carry everything else";
  EXPECT_EQ((*engine)->graph().nodes[0].post_ops.size(), 1u);
  EXPECT_EQ((*engine)->graph().nodes[1].post_ops.size(), 1u);
}

TEST(Engine, ConcurrentContextsAgreeWithOneRun) {
  testing::TempDir dir;
  for (auto backend : {BackendKind::kReference, BackendKind::kOneDnn, BackendKind::kXnnpack}) {
    auto engine = Engine::load(write_block(dir.path()), on(backend));
    ASSERT_TRUE(engine.ok()) << engine.error().message;
    Tensor input = random_tensor(DataType::kFloat32, {1, 4, 12, 12}, 9);
    auto expected = (*engine)->run({input});
    ASSERT_TRUE(expected.ok());
    std::vector<std::thread> threads;
    std::vector<int> mismatches(4, 0);
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        auto context = (*engine)->create_context();
        for (int i = 0; i < 50; ++i) {
          auto out = context->run({input});
          if (!out.ok() ||
              std::memcmp((*out)[0].raw(), (*expected)[0].raw(), (*expected)[0].size_bytes()) != 0)
            ++mismatches[static_cast<size_t>(t)];
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int m : mismatches) EXPECT_EQ(m, 0) << backend_kind_name(backend);
  }
}

TEST(Engine, OtherBatchSizesGetTheirOwnPlan) {
  testing::TempDir dir;
  auto engine = Engine::load(write_block(dir.path()), on(BackendKind::kOneDnn));
  ASSERT_TRUE(engine.ok());
  Tensor one = random_tensor(DataType::kFloat32, {1, 4, 12, 12}, 11);
  Tensor four = Tensor::allocate(DataType::kFloat32, {4, 4, 12, 12});
  for (int i = 0; i < 4; ++i) std::memcpy(four.data<float>() + i * one.numel(), one.raw(), one.size_bytes());
  auto single = (*engine)->run({one});
  auto batch = (*engine)->run({four});
  ASSERT_TRUE(single.ok() && batch.ok());
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(std::memcmp((*batch)[0].data<float>() + i * one.numel(), (*single)[0].raw(),
                          (*single)[0].size_bytes()),
              0);
}

TEST(Engine, WrongInputsAreClearErrors) {
  testing::TempDir dir;
  auto engine = Engine::load(write_block(dir.path()), {});
  ASSERT_TRUE(engine.ok());
  auto wrong_shape = (*engine)->run({Tensor::allocate(DataType::kFloat32, {1, 3, 12, 12})});
  ASSERT_FALSE(wrong_shape.ok());
  EXPECT_NE(wrong_shape.error().message.find("input 'x' has shape [1,3,12,12]"), std::string::npos)
      << wrong_shape.error().message;
  auto wrong_type = (*engine)->run({Tensor::allocate(DataType::kUInt8, {1, 4, 12, 12})});
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_NE(wrong_type.error().message.find("must be float32"), std::string::npos);
  auto too_many = (*engine)->run({});
  EXPECT_FALSE(too_many.ok());
}

TEST(Engine, UnsupportedOperatorNamesOperatorNodeAndOpset) {
  testing::TempDir dir;
  OnnxBuilder b(15);
  b.add_input("x", DataType::kFloat32, {1, 4});
  b.add_node("Tanh", {"x"}, {"y"}, {}, "activation_7");
  b.add_output("y", DataType::kFloat32, {1, 4});
  ASSERT_TRUE(b.save(dir / "tanh.onnx").ok());
  auto engine = Engine::load(dir / "tanh.onnx", {});
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.error().message.find("operator 'Tanh' (node 'activation_7', opset 15) is not supported"),
            std::string::npos)
      << engine.error().message;
}

TEST(Engine, MalformedFilesAreClearErrors) {
  testing::TempDir dir;
  testing::write_bytes(dir / "garbage.onnx", "this is not a protobuf at all");
  auto garbage = Engine::load(dir / "garbage.onnx", {});
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("not a valid ONNX"), std::string::npos) << garbage.error().message;
  auto model = testing::read_bytes(write_block(dir.path()));
  testing::write_bytes(dir / "truncated.onnx", model.substr(0, model.size() / 2));
  EXPECT_FALSE(Engine::load(dir / "truncated.onnx", {}).ok());
  OnnxBuilder old(9);
  old.add_input("x", DataType::kFloat32, {1, 4});
  old.add_node("Relu", {"x"}, {"y"});
  old.add_output("y", DataType::kFloat32, {1, 4});
  ASSERT_TRUE(old.save(dir / "old.onnx").ok());
  auto too_old = Engine::load(dir / "old.onnx", {});
  ASSERT_FALSE(too_old.ok());
  EXPECT_NE(too_old.error().message.find("opset 9 is not supported"), std::string::npos)
      << too_old.error().message;
  EXPECT_EQ(Engine::load(dir / "absent.onnx", {}).error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace canopy::infer
