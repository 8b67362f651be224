// Checks the ONNX Runtime harness itself (support/onnxruntime.h and
// support/onnx_builder.h): models built here run through ORT, and the results
// match values worked out by hand, so later tests can trust ORT as a reference.
#include "onnxruntime.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "infer/onnx_builder.h"
#include "test_support.h"

namespace canopy::testing {
namespace {

using infer::attr_int;
using infer::attr_ints;
using infer::OnnxBuilder;
using infer::random_tensor;

using infer::DataType;
using infer::Tensor;

std::vector<float> floats_of(const Tensor& tensor) {
  return std::vector<float>(tensor.data<float>(), tensor.data<float>() + tensor.numel());
}

class OnnxRuntimeHarness : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(onnxruntime_available())
        << "node or onnxruntime-node is missing: run scripts/install-onnxruntime.sh";
  }
  TempDir dir_;
};

TEST_F(OnnxRuntimeHarness, AddBroadcastsAndKeepsNamesThatNeedEncoding) {
  // Names with '/', '.', ':' and a space exercise the file name encoding.
  OnnxBuilder builder(17);
  builder.add_input("input/a.0", DataType::kFloat32, {2, 3})
      .add_input("b row", DataType::kFloat32, {3})
      .add_node("Add", {"input/a.0", "b row"}, {"sum:out"})
      .add_output("sum:out", DataType::kFloat32, {});
  ASSERT_TRUE(builder.save(dir_ / "add.onnx").ok());

  auto outputs = run_onnxruntime(dir_ / "add.onnx", {{"input/a.0", from_floats({2, 3}, {1, 2, 3, 4, 5, 6})},
                                                     {"b row", from_floats({3}, {10, 20, 30})}});
  ASSERT_TRUE(outputs.ok()) << outputs.error().message;
  ASSERT_EQ(outputs->size(), 1u);
  const Tensor& sum = (*outputs)[0];
  EXPECT_EQ(sum.dtype(), DataType::kFloat32);
  EXPECT_EQ(sum.shape(), (infer::Shape{2, 3}));
  EXPECT_EQ(floats_of(sum), (std::vector<float>{11, 22, 33, 14, 25, 36}));
}

TEST_F(OnnxRuntimeHarness, ConvWithKnownKernel) {
  // x = 1..9 as a 3x3 image; two 2x2 kernels, no padding, stride 1.
  // Channel 0: [[1,2],[3,4]] + 0.5, e.g. top-left 1*1 + 2*2 + 3*4 + 4*5 + 0.5 = 37.5.
  // Channel 1: [[0,0],[0,1]] - 1 picks the bottom-right neighbour minus one.
  OnnxBuilder builder(17);
  builder.add_input("x", DataType::kFloat32, {1, 1, 3, 3})
      .add_initializer("w", from_floats({2, 1, 2, 2}, {1, 2, 3, 4, 0, 0, 0, 1}))
      .add_initializer("b", from_floats({2}, {0.5f, -1.0f}))
      .add_node("Conv", {"x", "w", "b"}, {"y"},
                {attr_ints("kernel_shape", {2, 2}), attr_ints("pads", {0, 0, 0, 0}),
                 attr_ints("strides", {1, 1}), attr_int("group", 1)})
      .add_output("y", DataType::kFloat32, {1, 2, 2, 2});
  ASSERT_TRUE(builder.save(dir_ / "conv.onnx").ok());

  auto outputs =
      run_onnxruntime(dir_ / "conv.onnx", {{"x", from_floats({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9})}});
  ASSERT_TRUE(outputs.ok()) << outputs.error().message;
  ASSERT_EQ(outputs->size(), 1u);
  const Tensor& y = (*outputs)[0];
  EXPECT_EQ(y.shape(), (infer::Shape{1, 2, 2, 2}));
  EXPECT_EQ(floats_of(y), (std::vector<float>{37.5f, 47.5f, 67.5f, 77.5f, 4, 5, 7, 8}));
}

TEST_F(OnnxRuntimeHarness, RejectedModelReportsOrtsComplaint) {
  OnnxBuilder builder(17);
  builder.add_input("x", DataType::kFloat32, {2})
      .add_node("CanopyNoSuchOp", {"x"}, {"y"})
      .add_output("y", DataType::kFloat32, {2});
  ASSERT_TRUE(builder.save(dir_ / "bad.onnx").ok());

  auto outputs = run_onnxruntime(dir_ / "bad.onnx", {{"x", from_floats({2}, {1, 2})}});
  ASSERT_FALSE(outputs.ok());
  EXPECT_EQ(outputs.error().code, ErrorCode::kInternal);
  EXPECT_NE(outputs.error().message.find("onnxruntime failed on"), std::string::npos)
      << outputs.error().message;
  // ORT names the op it does not know.
  EXPECT_NE(outputs.error().message.find("No Op registered for CanopyNoSuchOp"), std::string::npos)
      << outputs.error().message;
}

TEST_F(OnnxRuntimeHarness, QuantizeLinearReturnsInt8) {
  // y = saturate(round_half_even(x / 0.5) + 1): -1 -> -1, 0.2 -> 1, 3 -> 7,
  // 100 -> 127 (saturated), -0.75 -> -2 + 1 = -1 (round half to even).
  Tensor zero_point = Tensor::allocate(DataType::kInt8, {});
  zero_point.data<std::int8_t>()[0] = 1;
  OnnxBuilder builder(13);
  builder.add_input("x", DataType::kFloat32, {5})
      .add_initializer("scale", from_floats({}, {0.5f}))
      .add_initializer("zero_point", zero_point)
      .add_node("QuantizeLinear", {"x", "scale", "zero_point"}, {"y"})
      .add_output("y", DataType::kInt8, {5});
  ASSERT_TRUE(builder.save(dir_ / "quantize.onnx").ok());

  auto outputs =
      run_onnxruntime(dir_ / "quantize.onnx", {{"x", from_floats({5}, {-1.0f, 0.2f, 3.0f, 100.0f, -0.75f})}});
  ASSERT_TRUE(outputs.ok()) << outputs.error().message;
  ASSERT_EQ(outputs->size(), 1u);
  const Tensor& y = (*outputs)[0];
  ASSERT_EQ(y.dtype(), DataType::kInt8);
  EXPECT_EQ(y.shape(), (infer::Shape{5}));
  std::vector<int> values(y.data<std::int8_t>(), y.data<std::int8_t>() + y.numel());
  EXPECT_EQ(values, (std::vector<int>{-1, 1, 7, 127, -1}));
}

TEST_F(OnnxRuntimeHarness, OutputsComeInTheModelsOrderWithTheirTypes) {
  // Two outputs listed in the opposite order of the nodes that make them: an
  // int64 one (Shape) and an int32 one (Identity of a random int32 input).
  Tensor ints = random_tensor(DataType::kInt32, {2, 4}, 7);
  OnnxBuilder builder(17);
  builder.add_input("a", DataType::kInt32, {2, 4})
      .add_node("Identity", {"a"}, {"copy"})
      .add_node("Shape", {"a"}, {"shape"})
      .add_output("shape", DataType::kInt64, {2})
      .add_output("copy", DataType::kInt32, {2, 4});
  ASSERT_TRUE(builder.save(dir_ / "order.onnx").ok());

  auto outputs = run_onnxruntime(dir_ / "order.onnx", {{"a", ints}});
  ASSERT_TRUE(outputs.ok()) << outputs.error().message;
  ASSERT_EQ(outputs->size(), 2u);
  ASSERT_EQ((*outputs)[0].dtype(), DataType::kInt64);
  EXPECT_EQ(infer::to_int64_vector((*outputs)[0]), (std::vector<std::int64_t>{2, 4}));
  ASSERT_EQ((*outputs)[1].dtype(), DataType::kInt32);
  EXPECT_EQ(infer::to_int64_vector((*outputs)[1]), infer::to_int64_vector(ints));
}

}  // namespace
}  // namespace canopy::testing
