// Reference operators against hand-computed results: shape ops, Resize and
// Upsample, Softmax, Gemm and MatMul, QuantizeLinear and DequantizeLinear.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <type_traits>

#include "infer/ops/op.h"

namespace canopy::infer {
namespace {

template <typename T>
constexpr DataType type_of() {
  if constexpr (std::is_same_v<T, float>) return DataType::kFloat32;
  if constexpr (std::is_same_v<T, std::uint8_t>) return DataType::kUInt8;
  if constexpr (std::is_same_v<T, std::int8_t>) return DataType::kInt8;
  if constexpr (std::is_same_v<T, std::int32_t>) return DataType::kInt32;
  if constexpr (std::is_same_v<T, std::int64_t>) return DataType::kInt64;
}

template <typename T>
Tensor make(Shape shape, std::vector<T> values) {
  Tensor t = Tensor::allocate(type_of<T>(), std::move(shape));
  EXPECT_EQ(static_cast<size_t>(t.numel()), values.size());
  if (!values.empty()) std::memcpy(t.raw(), values.data(), values.size() * sizeof(T));
  return t;
}

Tensor floats(Shape shape, std::vector<float> values) {
  return make<float>(std::move(shape), std::move(values));
}
Tensor ints(std::vector<std::int64_t> values) {
  const auto n = static_cast<std::int64_t>(values.size());
  return make<std::int64_t>({n}, std::move(values));
}
// 0, 1, 2, ... as float32.
Tensor iota(Shape shape) {
  std::vector<float> values(static_cast<size_t>(element_count(shape)));
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  return floats(std::move(shape), std::move(values));
}

template <typename T>
std::vector<T> values_of(const Tensor& t) {
  const T* data = t.data<T>();
  return std::vector<T>(data, data + t.numel());
}

// One input of an op call: its tensor, and whether infer may see its value.
struct Input {
  Tensor tensor;
  bool constant = false;
  bool present = true;
};

Input in(Tensor t) { return Input{std::move(t), false, true}; }
Input constant(Tensor t) { return Input{std::move(t), true, true}; }
Input absent() { return Input{Tensor(), false, false}; }

Node make_node(const std::string& op_type, int opset = 13, size_t outputs = 1) {
  Node node;
  node.op_type = op_type;
  node.name = op_type + "_under_test";
  node.opset = opset;
  for (size_t i = 0; i < outputs; ++i) node.outputs.push_back(static_cast<int>(i + 100));
  return node;
}

// Runs one op the way the engine does: infer, allocate the outputs, run.
Result<std::vector<Tensor>> call(Node node, const std::vector<Input>& inputs) {
  const OpDefinition* op = OpRegistry::reference().find(node.op_type);
  if (op == nullptr) return make_error(ErrorCode::kNotFound, "no reference op " + node.op_type);
  const auto count = static_cast<int>(inputs.size());
  if (count < op->min_inputs || count > op->max_inputs)
    return make_error(ErrorCode::kInvalidArgument, "wrong input count " + std::to_string(count));
  std::vector<TensorInfo> infos;
  std::vector<const Tensor*> tensors;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Input& input = inputs[i];
    node.inputs.push_back(input.present ? static_cast<int>(i) : -1);
    TensorInfo info;
    info.present = input.present;
    info.dtype = input.tensor.dtype();
    info.shape = input.tensor.shape();
    info.value = input.constant ? &input.tensor : nullptr;
    infos.push_back(info);
    tensors.push_back(input.present ? &input.tensor : nullptr);
  }
  std::vector<TensorInfo> output_infos;
  CANOPY_TRY(op->infer(node, infos, output_infos));
  std::vector<Tensor> outputs;
  for (const TensorInfo& info : output_infos) outputs.push_back(Tensor::allocate(info.dtype, info.shape));
  std::vector<Tensor*> output_pointers;
  for (Tensor& t : outputs) output_pointers.push_back(&t);
  CANOPY_TRY(op->run(node, tensors, output_pointers));
  return outputs;
}

// Calls an op that must succeed with exactly one output.
Tensor call1(const Node& node, const std::vector<Input>& inputs) {
  auto result = call(node, inputs);
  EXPECT_TRUE(result.ok()) << result.error().message;
  if (!result.ok()) return Tensor();
  EXPECT_EQ(result->size(), 1u);
  return result->at(0);
}

void expect_floats(const Tensor& t, const Shape& shape, const std::vector<float>& expected,
                   float tolerance = 1e-5f) {
  ASSERT_EQ(t.dtype(), DataType::kFloat32);
  ASSERT_EQ(t.shape(), shape);
  const auto actual = values_of<float>(t);
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], tolerance) << "at element " << i;
}

void expect_error(const Result<std::vector<Tensor>>& result, const std::string& fragment) {
  ASSERT_FALSE(result.ok()) << "expected an error mentioning '" << fragment << "'";
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(result.error().message.find(fragment), std::string::npos) << result.error().message;
}

Node with_int(Node node, const std::string& name, std::int64_t value) {
  node.attributes.set(name, value);
  return node;
}

Node with_ints(Node node, const std::string& name, std::vector<std::int64_t> value) {
  node.attributes.set(name, std::move(value));
  return node;
}

Node with_string(Node node, const std::string& name, const std::string& value) {
  node.attributes.set(name, value);
  return node;
}

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

TEST(ReferenceOpsTest, RegistersEveryOperatorOfTheseFiles) {
  for (const char* op : {"Concat", "Split", "Slice", "Reshape", "Flatten", "Transpose", "Identity", "Resize",
                         "Upsample", "Softmax", "Gemm", "MatMul", "QuantizeLinear", "DequantizeLinear"})
    EXPECT_NE(OpRegistry::reference().find(op), nullptr) << op;
}

TEST(ReferenceOpsTest, RequiredInputsGivenAsEmptyNamesAreErrors) {
  expect_error(call(make_node("Reshape"), {in(iota({4})), absent()}), "required input 1 is missing");
  expect_error(call(make_node("Slice"), {in(iota({4})), absent(), constant(ints({2}))}),
               "required input 1 is missing");
  expect_error(call(with_int(make_node("Concat"), "axis", 0), {in(iota({2})), absent()}),
               "required input 1 is missing");
  expect_error(call(make_node("Transpose"), {absent()}), "required input 0 is missing");
  expect_error(call(make_node("Softmax"), {absent()}), "missing");
  expect_error(call(make_node("Gemm"), {in(iota({2, 2})), absent()}), "B is missing");
  expect_error(call(make_node("QuantizeLinear"), {in(iota({2})), absent()}), "scale input is missing");
  expect_error(call(make_node("Upsample", 9), {in(iota({1, 1, 2, 2}))}), "exactly one of scales and sizes");
}

// ---- Concat ----

TEST(ConcatTest, JoinsAlongPositiveAndNegativeAxes) {
  auto a = floats({2, 2}, {1, 2, 3, 4});
  auto b = floats({2, 1}, {5, 6});
  expect_floats(call1(with_int(make_node("Concat"), "axis", 1), {in(a), in(b)}), {2, 3}, {1, 2, 5, 3, 4, 6});
  expect_floats(call1(with_int(make_node("Concat"), "axis", -1), {in(a), in(b)}), {2, 3}, {1, 2, 5, 3, 4, 6});
}

TEST(ConcatTest, WorksForIntegersAndManyInputs) {
  auto a = make<std::int64_t>({1, 2}, {1, 2});
  auto b = make<std::int64_t>({2, 2}, {3, 4, 5, 6});
  Tensor out = call1(with_int(make_node("Concat"), "axis", -2), {in(a), in(b)});
  EXPECT_EQ(out.shape(), (Shape{3, 2}));
  EXPECT_EQ(values_of<std::int64_t>(out), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));

  auto x = make<std::uint8_t>({1}, {7});
  auto y = make<std::uint8_t>({2}, {8, 9});
  auto empty = make<std::uint8_t>({0}, {});
  out = call1(with_int(make_node("Concat"), "axis", 0), {in(x), in(empty), in(y), in(x)});
  EXPECT_EQ(values_of<std::uint8_t>(out), (std::vector<std::uint8_t>{7, 8, 9, 7}));
}

TEST(ConcatTest, RejectsBadAxisAndMismatchedInputs) {
  auto a = floats({2, 2}, {1, 2, 3, 4});
  expect_error(call(with_int(make_node("Concat"), "axis", 2), {in(a), in(a)}), "out of range");
  expect_error(call(make_node("Concat"), {in(a), in(a)}), "'axis'");
  expect_error(call(with_int(make_node("Concat"), "axis", 1), {in(a), in(floats({3, 1}, {1, 2, 3}))}),
               "differ outside axis 1");
  expect_error(
      call(with_int(make_node("Concat"), "axis", 0), {in(a), in(make<std::int64_t>({1, 2}, {1, 2}))}),
      "int64");
}

// ---- Split ----

TEST(SplitTest, SplitsEquallyIntoTheNodesOutputs) {
  auto result = call(make_node("Split", 13, 3), {in(iota({6}))});
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ(result->size(), 3u);
  expect_floats((*result)[0], {2}, {0, 1});
  expect_floats((*result)[1], {2}, {2, 3});
  expect_floats((*result)[2], {2}, {4, 5});
}

TEST(SplitTest, TakesSizesFromTheInputAtOpset13) {
  auto result =
      call(with_int(make_node("Split", 13, 2), "axis", -1), {in(iota({2, 3})), constant(ints({1, 2}))});
  ASSERT_TRUE(result.ok()) << result.error().message;
  expect_floats((*result)[0], {2, 1}, {0, 3});
  expect_floats((*result)[1], {2, 2}, {1, 2, 4, 5});
}

TEST(SplitTest, TakesSizesFromTheAttributeBeforeOpset13) {
  auto result = call(with_ints(make_node("Split", 11, 2), "split", {2, 1}), {in(iota({3, 2}))});
  ASSERT_TRUE(result.ok()) << result.error().message;
  expect_floats((*result)[0], {2, 2}, {0, 1, 2, 3});
  expect_floats((*result)[1], {1, 2}, {4, 5});
}

TEST(SplitTest, RejectsNonConstantUnevenAndWrongSizes) {
  expect_error(call(make_node("Split", 13, 2), {in(iota({4})), in(ints({2, 2}))}),
               "needs a constant split input");
  expect_error(call(make_node("Split", 13, 2), {in(iota({5}))}), "evenly");
  expect_error(call(make_node("Split", 13, 2), {in(iota({4})), constant(ints({1, 2}))}), "add up to 3");
  expect_error(call(make_node("Split", 13, 3), {in(iota({4})), constant(ints({2, 2}))}), "3 outputs");
  expect_error(call(with_int(make_node("Split", 13, 2), "axis", -2), {in(iota({4}))}), "out of range");
}

// ---- Slice ----

Result<std::vector<Tensor>> slice(const Tensor& data, std::vector<std::int64_t> starts,
                                  std::vector<std::int64_t> ends, std::vector<std::int64_t> axes = {},
                                  std::vector<std::int64_t> steps = {}) {
  std::vector<Input> inputs{in(data), constant(ints(std::move(starts))), constant(ints(std::move(ends)))};
  if (!axes.empty() || !steps.empty())
    inputs.push_back(axes.empty() ? absent() : constant(ints(std::move(axes))));
  if (!steps.empty()) inputs.push_back(constant(ints(std::move(steps))));
  return call(make_node("Slice"), inputs);
}

void expect_slice(const Result<std::vector<Tensor>>& result, const Shape& shape,
                  const std::vector<float>& expected) {
  ASSERT_TRUE(result.ok()) << result.error().message;
  expect_floats(result->at(0), shape, expected);
}

TEST(SliceTest, TakesAWindowOfEveryAxis) {
  expect_slice(slice(iota({3, 4}), {0, 1}, {2, 3}), {2, 2}, {1, 2, 5, 6});
}

TEST(SliceTest, CountsNegativePositionsFromTheEndAndClampsLargeEnds) {
  expect_slice(slice(iota({3, 4}), {-1}, {kMax}, {1}), {3, 1}, {3, 7, 11});
  expect_slice(slice(iota({3, 4}), {-3}, {-1}, {-1}), {3, 2}, {1, 2, 5, 6, 9, 10});
  expect_slice(slice(iota({10}), {1}, {100}, {0}, {2}), {5}, {1, 3, 5, 7, 9});
}

TEST(SliceTest, NegativeStepsWalkBackwards) {
  expect_slice(slice(iota({3, 4}), {-1}, {kMin}, {0}, {-1}), {3, 4}, {8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3});
  expect_slice(slice(iota({10}), {8}, {1}, {0}, {-3}), {3}, {8, 5, 2});
  expect_slice(slice(iota({5}), {100}, {-100}, {0}, {-1}), {5}, {4, 3, 2, 1, 0});
}

TEST(SliceTest, EmptyWindowsHaveZeroLength) {
  expect_slice(slice(iota({5}), {4}, {2}), {0}, {});
  expect_slice(slice(iota({5}), {1}, {3}, {0}, {-1}), {0}, {});
}

TEST(SliceTest, WorksForAnyElementType) {
  auto data = make<std::int8_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  auto result = call(make_node("Slice"), {in(data), constant(ints({2})), constant(ints({0})),
                                          constant(ints({1})), constant(ints({-2}))});
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->at(0).shape(), (Shape{2, 1}));
  EXPECT_EQ(values_of<std::int8_t>(result->at(0)), (std::vector<std::int8_t>{3, 6}));
}

TEST(SliceTest, RejectsNonConstantAndInvalidParameters) {
  expect_error(call(make_node("Slice"), {in(iota({4})), in(ints({0})), constant(ints({2}))}),
               "needs a constant starts input");
  expect_error(slice(iota({4}), {0}, {2}, {0}, {0}), "steps must not be 0");
  expect_error(slice(iota({2, 2}), {0, 0}, {1, 1}, {1, -1}), "sliced twice");
  expect_error(slice(iota({2, 2}), {0}, {1}, {2}), "out of range");
  expect_error(slice(iota({4}), {0, 1}, {2}), "ends has 1");
}

// ---- Reshape, Flatten, Identity ----

TEST(ReshapeTest, InfersMinusOneAndCopiesZeros) {
  expect_floats(call1(make_node("Reshape"), {in(iota({2, 3})), constant(ints({3, -1}))}), {3, 2},
                {0, 1, 2, 3, 4, 5});
  EXPECT_EQ(call1(make_node("Reshape"), {in(iota({2, 3, 4})), constant(ints({0, -1}))}).shape(),
            (Shape{2, 12}));
  EXPECT_EQ(call1(make_node("Reshape"), {in(iota({2, 3, 4})), constant(ints({-1}))}).shape(), (Shape{24}));
}

TEST(ReshapeTest, AllowZeroMakesZeroLiteral) {
  Node node = with_int(make_node("Reshape", 14), "allowzero", 1);
  EXPECT_EQ(call1(node, {in(iota({0, 3})), constant(ints({3, 0}))}).shape(), (Shape{3, 0}));
  expect_error(call(node, {in(iota({2, 3})), constant(ints({0, 6}))}), "cannot reshape");
}

TEST(ReshapeTest, RejectsNonConstantShapeAndBadTargets) {
  expect_error(call(make_node("Reshape"), {in(iota({4})), in(ints({2, 2}))}),
               "Reshape needs a constant shape input");
  expect_error(call(make_node("Reshape"), {in(iota({4})), constant(ints({-1, -1}))}), "more than one -1");
  expect_error(call(make_node("Reshape"), {in(iota({4})), constant(ints({4, 4}))}), "cannot reshape");
  expect_error(call(make_node("Reshape"), {in(iota({6})), constant(ints({4, -1}))}), "cannot infer");
  expect_error(call(make_node("Reshape"), {in(iota({4})), constant(ints({2, 0}))}), "no such dimension");
}

TEST(FlattenTest, SplitsTheShapeAtTheAxis) {
  Tensor x = iota({2, 3, 4});
  expect_floats(call1(make_node("Flatten"), {in(x)}), {2, 12}, values_of<float>(x));
  EXPECT_EQ(call1(with_int(make_node("Flatten"), "axis", -1), {in(x)}).shape(), (Shape{6, 4}));
  EXPECT_EQ(call1(with_int(make_node("Flatten"), "axis", 0), {in(x)}).shape(), (Shape{1, 24}));
  EXPECT_EQ(call1(with_int(make_node("Flatten"), "axis", 3), {in(x)}).shape(), (Shape{24, 1}));
  expect_error(call(with_int(make_node("Flatten"), "axis", 4), {in(x)}), "out of range");
  expect_error(call(with_int(make_node("Flatten"), "axis", -4), {in(x)}), "out of range");
}

TEST(IdentityTest, CopiesAnyType) {
  Tensor out = call1(make_node("Identity"), {in(make<std::int8_t>({3}, {-1, 0, 1}))});
  EXPECT_EQ(values_of<std::int8_t>(out), (std::vector<std::int8_t>{-1, 0, 1}));
}

// ---- Transpose ----

TEST(TransposeTest, ReversesDimensionsByDefault) {
  expect_floats(call1(make_node("Transpose"), {in(floats({2, 3}, {1, 2, 3, 4, 5, 6}))}), {3, 2},
                {1, 4, 2, 5, 3, 6});
}

TEST(TransposeTest, FollowsPerm) {
  // out[b, c, a] = x[a, b, c] = 4a + 2b + c
  expect_floats(call1(with_ints(make_node("Transpose"), "perm", {1, 2, 0}), {in(iota({2, 2, 2}))}), {2, 2, 2},
                {0, 4, 1, 5, 2, 6, 3, 7});
  // out[k, 0, j] = x[0, j, k] = 3j + k
  Tensor out = call1(with_ints(make_node("Transpose"), "perm", {2, 0, 1}),
                     {in(make<std::int32_t>({1, 2, 3}, {0, 1, 2, 3, 4, 5}))});
  EXPECT_EQ(out.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(values_of<std::int32_t>(out), (std::vector<std::int32_t>{0, 3, 1, 4, 2, 5}));
}

TEST(TransposeTest, RejectsInvalidPerm) {
  expect_error(call(with_ints(make_node("Transpose"), "perm", {0, 0}), {in(iota({2, 2}))}),
               "not a permutation");
  expect_error(call(with_ints(make_node("Transpose"), "perm", {0, 2}), {in(iota({2, 2}))}),
               "not a permutation");
  expect_error(call(with_ints(make_node("Transpose"), "perm", {0}), {in(iota({2, 2}))}),
               "does not match rank");
}

// ---- Resize and Upsample ----

Node resize_node(const std::string& mode, const std::string& coordinates = "",
                 const std::string& nearest = "", int opset = 13) {
  Node node = with_string(make_node("Resize", opset), "mode", mode);
  if (!coordinates.empty()) node.attributes.set("coordinate_transformation_mode", coordinates);
  if (!nearest.empty()) node.attributes.set("nearest_mode", nearest);
  return node;
}

Tensor resize_scales(const Node& node, const Tensor& x, std::vector<float> scales) {
  return call1(node, {in(x), absent(), constant(floats({4}, std::move(scales)))});
}

Tensor resize_sizes(const Node& node, const Tensor& x, std::vector<std::int64_t> sizes) {
  return call1(node, {in(x), absent(), absent(), constant(ints(std::move(sizes)))});
}

Tensor row_of_three() { return floats({1, 1, 1, 3}, {10, 20, 30}); }
Tensor square() { return floats({1, 1, 2, 2}, {1, 2, 3, 4}); }

TEST(ResizeTest, NearestModesRoundExactHalves) {
  // asymmetric, scale 2: x_original = 0, 0.5, 1, 1.5, 2, 2.5
  expect_floats(resize_scales(resize_node("nearest", "asymmetric"), row_of_three(), {1, 1, 1, 2}),
                {1, 1, 1, 6}, {10, 10, 20, 20, 30, 30});
  expect_floats(
      resize_scales(resize_node("nearest", "asymmetric", "round_prefer_ceil"), row_of_three(), {1, 1, 1, 2}),
      {1, 1, 1, 6}, {10, 20, 20, 30, 30, 30});
  expect_floats(resize_scales(resize_node("nearest", "asymmetric", "floor"), row_of_three(), {1, 1, 1, 2}),
                {1, 1, 1, 6}, {10, 10, 20, 20, 30, 30});
  expect_floats(resize_scales(resize_node("nearest", "asymmetric", "ceil"), row_of_three(), {1, 1, 1, 2}),
                {1, 1, 1, 6}, {10, 20, 20, 30, 30, 30});
}

TEST(ResizeTest, NearestModesRoundQuarterPositions) {
  // tf_half_pixel_for_nearest, scale 2: x_original = 0.25, 0.75, 1.25, 1.75, 2.25, 2.75
  const std::string mode = "tf_half_pixel_for_nearest";
  expect_floats(resize_scales(resize_node("nearest", mode), row_of_three(), {1, 1, 1, 2}), {1, 1, 1, 6},
                {10, 20, 20, 30, 30, 30});
  expect_floats(resize_scales(resize_node("nearest", mode, "floor"), row_of_three(), {1, 1, 1, 2}),
                {1, 1, 1, 6}, {10, 10, 20, 20, 30, 30});
  expect_floats(resize_scales(resize_node("nearest", mode, "ceil"), row_of_three(), {1, 1, 1, 2}),
                {1, 1, 1, 6}, {20, 20, 30, 30, 30, 30});
}

TEST(ResizeTest, NearestHalfPixelIsTheDefault) {
  // x_original = -0.25, 0.25, 0.75, 1.25, 1.75, 2.25
  expect_floats(resize_scales(resize_node("nearest"), row_of_three(), {1, 1, 1, 2}), {1, 1, 1, 6},
                {10, 10, 20, 20, 30, 30});
  // Downsampling by 2: x_original = 0.5, 2.5, rounded down or up.
  Tensor four = floats({1, 1, 1, 4}, {1, 2, 3, 4});
  expect_floats(resize_scales(resize_node("nearest"), four, {1, 1, 1, 0.5f}), {1, 1, 1, 2}, {1, 3});
  expect_floats(resize_scales(resize_node("nearest", "", "round_prefer_ceil"), four, {1, 1, 1, 0.5f}),
                {1, 1, 1, 2}, {2, 4});
}

TEST(ResizeTest, NearestAlignCornersWithSizes) {
  // 3 -> 5: x_original = x * 2 / 4 = 0, 0.5, 1, 1.5, 2
  expect_floats(resize_sizes(resize_node("nearest", "align_corners"), row_of_three(), {1, 1, 1, 5}),
                {1, 1, 1, 5}, {10, 10, 20, 20, 30});
  expect_floats(resize_sizes(resize_node("nearest", "align_corners", "round_prefer_ceil"), row_of_three(),
                             {1, 1, 1, 5}),
                {1, 1, 1, 5}, {10, 20, 20, 30, 30});
}

TEST(ResizeTest, PytorchHalfPixelMapsALengthOneOutputToZero) {
  expect_floats(resize_sizes(resize_node("nearest", "pytorch_half_pixel"), row_of_three(), {1, 1, 1, 1}),
                {1, 1, 1, 1}, {10});
  // half_pixel instead maps it to the centre: (0 + 0.5) * 3 - 0.5 = 1.
  expect_floats(resize_sizes(resize_node("nearest", "half_pixel"), row_of_three(), {1, 1, 1, 1}),
                {1, 1, 1, 1}, {20});
}

TEST(ResizeTest, NearestCanRepeatChannels) {
  expect_floats(resize_scales(resize_node("nearest"), floats({1, 1, 1, 2}, {5, 6}), {1, 2, 1, 1}),
                {1, 2, 1, 2}, {5, 6, 5, 6});
}

TEST(ResizeTest, OutputSizeIsTheFloorOfInputTimesScale) {
  EXPECT_EQ(resize_scales(resize_node("nearest"), square(), {1, 1, 1.7f, 2.9f}).shape(), (Shape{1, 1, 3, 5}));
}

TEST(ResizeTest, LinearHalfPixel) {
  // x_original = -0.25, 0.25, 0.75, 1.25, clamped to [0, 1].
  expect_floats(resize_scales(resize_node("linear"), square(), {1, 1, 2, 2}), {1, 1, 4, 4},
                {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4});
}

TEST(ResizeTest, LinearAlignCorners) {
  const float t = 1.0f / 3, u = 2.0f / 3;
  expect_floats(resize_scales(resize_node("linear", "align_corners"), square(), {1, 1, 2, 2}), {1, 1, 4, 4},
                {1, 1 + t, 1 + u, 2, 1 + u, 2, 2 + t, 2 + u, 2 + t, 2 + u, 3, 3 + t, 3, 3 + t, 3 + u, 4});
}

TEST(ResizeTest, LinearAsymmetricClampsPastTheLastPixel) {
  expect_floats(resize_scales(resize_node("linear", "asymmetric"), square(), {1, 1, 2, 2}), {1, 1, 4, 4},
                {1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4});
}

TEST(ResizeTest, LinearPytorchHalfPixelDownsample) {
  // H 4 -> 3: x_original = 1/6, 1.5, 17/6 in column 1, 5, 9, 13; W 4 -> 1 maps to column 0.
  expect_floats(resize_sizes(resize_node("linear", "pytorch_half_pixel"), iota({1, 1, 4, 4}), {1, 1, 3, 1}),
                {1, 1, 3, 1}, {4.0f * 1 / 6, 6, 4.0f * 17 / 6});
  // half_pixel reads W at (0.5) * 4 - 0.5 = 1.5 instead.
  expect_floats(resize_sizes(resize_node("linear", "half_pixel"), iota({1, 1, 4, 4}), {1, 1, 3, 1}),
                {1, 1, 3, 1}, {4.0f * 1 / 6 + 1.5f, 7.5f, 4.0f * 17 / 6 + 1.5f});
}

TEST(ResizeTest, LinearTfHalfPixelForNearest) {
  // x_original = (x + 0.5) / 2 = 0.25, 0.75, 1.25, 1.75 -> clamped to 1 for the last two.
  expect_floats(resize_scales(resize_node("linear", "tf_half_pixel_for_nearest"),
                              floats({1, 1, 1, 2}, {0, 4}), {1, 1, 1, 2}),
                {1, 1, 1, 4}, {1, 3, 4, 4});
}

TEST(ResizeTest, Opset10ResizeBehavesLikeUpsample) {
  Node node = with_string(make_node("Resize", 10), "mode", "nearest");
  expect_floats(call1(node, {in(row_of_three()), constant(floats({4}, {1, 1, 1, 2}))}), {1, 1, 1, 6},
                {10, 10, 20, 20, 30, 30});
}

TEST(UpsampleTest, NearestUsesAsymmetricFloor) {
  Node node = with_string(make_node("Upsample", 9), "mode", "nearest");
  expect_floats(call1(node, {in(square()), constant(floats({4}, {1, 1, 2, 3}))}), {1, 1, 4, 6},
                {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4});
}

TEST(UpsampleTest, LinearUsesAsymmetricCoordinates) {
  Node node = with_string(make_node("Upsample", 9), "mode", "linear");
  expect_floats(call1(node, {in(square()), constant(floats({4}, {1, 1, 2, 2}))}), {1, 1, 4, 4},
                {1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4});
}

TEST(UpsampleTest, Opset7TakesScalesFromTheAttribute) {
  Node node = make_node("Upsample", 7);
  node.attributes.set("scales", std::vector<float>{1, 1, 1, 2});
  expect_floats(call1(node, {in(row_of_three())}), {1, 1, 1, 6}, {10, 10, 20, 20, 30, 30});
  expect_error(call(make_node("Upsample", 7), {in(row_of_three())}), "'scales' attribute");
}

TEST(ResizeTest, RejectsUnsupportedModesAndInputs) {
  const Tensor scales = floats({4}, {1, 1, 2, 2});
  expect_error(call(resize_node("cubic"), {in(square()), absent(), constant(scales)}), "cubic");
  expect_error(call(resize_node("linear", "tf_crop_and_resize"), {in(square()), absent(), constant(scales)}),
               "tf_crop_and_resize");
  expect_error(call(resize_node("area"), {in(square()), absent(), constant(scales)}),
               "unsupported mode 'area'");
  expect_error(
      call(resize_node("nearest", "half_pixel_symmetric"), {in(square()), absent(), constant(scales)}),
      "unsupported coordinate_transformation_mode");
  expect_error(call(resize_node("nearest", "", "round"), {in(square()), absent(), constant(scales)}),
               "unsupported nearest_mode");
  expect_error(call(resize_node("nearest"), {in(square()), absent(), in(scales)}),
               "Resize needs a constant scales input");
  expect_error(call(resize_node("nearest"), {in(square()), absent(), absent(), in(ints({1, 1, 4, 4}))}),
               "Resize needs a constant sizes input");
  expect_error(call(resize_node("nearest"), {in(square()), absent(), constant(floats({0}, {}))}),
               "exactly one of scales and sizes");
  expect_error(
      call(resize_node("nearest"), {in(floats({1, 2, 2}, {1, 2, 3, 4})), absent(), constant(scales)}), "4-D");
  expect_error(call(resize_node("linear"), {in(square()), absent(), constant(floats({4}, {1, 2, 2, 2}))}),
               "N and C must keep their sizes");
  expect_error(call(resize_node("nearest"), {in(square()), absent(), constant(floats({3}, {1, 2, 2}))}),
               "rank 4");
}

// ---- Softmax ----

TEST(SoftmaxTest, NormalisesTheLastAxisByDefault) {
  const std::vector<float> expected{0.09003057f, 0.24472847f, 0.66524096f};
  expect_floats(call1(make_node("Softmax"), {in(floats({3}, {1, 2, 3}))}), {3}, expected);
  // Large inputs must not overflow: only differences matter.
  expect_floats(call1(make_node("Softmax"), {in(floats({2, 3}, {1000, 1001, 1002, 5, 5, 5}))}), {2, 3},
                {expected[0], expected[1], expected[2], 1.0f / 3, 1.0f / 3, 1.0f / 3});
}

TEST(SoftmaxTest, Opset13NormalisesOneAxis) {
  const float lo = 0.11920292f, hi = 0.88079708f;
  expect_floats(call1(with_int(make_node("Softmax"), "axis", 0), {in(floats({2, 2}, {1, 2, 3, 4}))}), {2, 2},
                {lo, lo, hi, hi});
  expect_floats(call1(with_int(make_node("Softmax"), "axis", 1), {in(floats({1, 2, 2}, {1, 2, 3, 4}))}),
                {1, 2, 2}, {lo, lo, hi, hi});
  expect_floats(call1(make_node("Softmax"), {in(floats({1, 2, 2}, {1, 2, 3, 4}))}), {1, 2, 2},
                {0.26894142f, 0.73105858f, 0.26894142f, 0.73105858f});
}

TEST(SoftmaxTest, Opset11FlattensFromTheAxis) {
  // Default axis 1 on [1,2,2]: one row of four values.
  expect_floats(call1(make_node("Softmax", 11), {in(floats({1, 2, 2}, {1, 2, 3, 4}))}), {1, 2, 2},
                {0.0320586f, 0.08714432f, 0.23688282f, 0.64391426f});
  expect_floats(call1(with_int(make_node("Softmax", 11), "axis", -1), {in(floats({1, 2, 2}, {1, 2, 3, 4}))}),
                {1, 2, 2}, {0.26894142f, 0.73105858f, 0.26894142f, 0.73105858f});
}

TEST(SoftmaxTest, RejectsBadAxisAndType) {
  expect_error(call(with_int(make_node("Softmax"), "axis", 2), {in(iota({2, 2}))}), "out of range");
  expect_error(call(make_node("Softmax"), {in(make<std::int32_t>({2}, {1, 2}))}), "float32");
}

// ---- Gemm ----

Tensor matrix_a() { return floats({2, 3}, {1, 2, 3, 4, 5, 6}); }
Tensor matrix_b() { return floats({3, 2}, {7, 8, 9, 10, 11, 12}); }

TEST(GemmTest, MultipliesPlainMatrices) {
  expect_floats(call1(make_node("Gemm"), {in(matrix_a()), in(matrix_b())}), {2, 2}, {58, 64, 139, 154});
}

TEST(GemmTest, TransposesOperands) {
  Node node = with_int(with_int(make_node("Gemm"), "transA", 1), "transB", 1);
  expect_floats(
      call1(node, {in(floats({3, 2}, {1, 4, 2, 5, 3, 6})), in(floats({2, 3}, {7, 9, 11, 8, 10, 12}))}),
      {2, 2}, {58, 64, 139, 154});
}

TEST(GemmTest, ScalesAndBroadcastsC) {
  Node node = make_node("Gemm");
  node.attributes.set("alpha", 2.0f);
  node.attributes.set("beta", 0.5f);
  expect_floats(call1(node, {in(matrix_a()), in(matrix_b()), in(floats({2}, {1, 2}))}), {2, 2},
                {116.5f, 129, 278.5f, 309});
  expect_floats(call1(make_node("Gemm"), {in(matrix_a()), in(matrix_b()), in(floats({2, 1}, {10, 20}))}),
                {2, 2}, {68, 74, 159, 174});
  expect_floats(call1(make_node("Gemm"), {in(matrix_a()), in(matrix_b()), in(floats({}, {1}))}), {2, 2},
                {59, 65, 140, 155});
  expect_floats(call1(make_node("Gemm"), {in(matrix_a()), in(matrix_b()), in(floats({2, 2}, {1, 2, 3, 4}))}),
                {2, 2}, {59, 66, 142, 158});
  expect_floats(call1(make_node("Gemm"), {in(matrix_a()), in(matrix_b()), absent()}), {2, 2},
                {58, 64, 139, 154});
}

TEST(GemmTest, RejectsMismatchedShapes) {
  expect_error(call(make_node("Gemm"), {in(matrix_a()), in(matrix_a())}), "inner dimensions differ");
  expect_error(call(make_node("Gemm"), {in(matrix_a()), in(matrix_b()), in(floats({3}, {1, 2, 3}))}),
               "broadcast");
  expect_error(call(make_node("Gemm"), {in(matrix_a()), in(matrix_b()), in(floats({1, 2, 2}, {1, 2, 3, 4}))}),
               "broadcast");
  expect_error(call(make_node("Gemm"), {in(floats({1, 2, 3}, {1, 2, 3, 4, 5, 6})), in(matrix_b())}), "2-D");
  expect_error(call(make_node("Gemm"), {in(make<std::int32_t>({2, 3}, {1, 2, 3, 4, 5, 6})), in(matrix_b())}),
               "float32");
}

// ---- MatMul ----

TEST(MatMulTest, MultipliesMatrices) {
  expect_floats(call1(make_node("MatMul"), {in(matrix_a()), in(matrix_b())}), {2, 2}, {58, 64, 139, 154});
}

TEST(MatMulTest, OneDimensionalOperandsLoseTheirAddedAxis) {
  expect_floats(call1(make_node("MatMul"), {in(floats({3}, {1, 2, 3})), in(floats({3}, {4, 5, 6}))}), {},
                {32});
  expect_floats(call1(make_node("MatMul"), {in(floats({3}, {1, 2, 3})), in(matrix_b())}), {2}, {58, 64});
  expect_floats(call1(make_node("MatMul"), {in(matrix_a()), in(floats({3}, {1, 1, 1}))}), {2}, {6, 15});
}

TEST(MatMulTest, BroadcastsBatches) {
  expect_floats(
      call1(make_node("MatMul"), {in(floats({2, 1, 2}, {1, 2, 3, 4})), in(floats({2, 2}, {1, 2, 3, 4}))}),
      {2, 1, 2}, {7, 10, 15, 22});
  // a_i . b_j for a = {1,2},{3,4} and b = {1,1},{1,0},{0,1}.
  expect_floats(call1(make_node("MatMul"),
                      {in(floats({2, 1, 1, 2}, {1, 2, 3, 4})), in(floats({1, 3, 2, 1}, {1, 1, 1, 0, 0, 1}))}),
                {2, 3, 1, 1}, {3, 1, 2, 7, 3, 4});
  expect_floats(
      call1(make_node("MatMul"), {in(floats({2, 2, 2}, {1, 0, 0, 1, 2, 0, 0, 2})), in(floats({2}, {3, 4}))}),
      {2, 2}, {3, 4, 6, 8});
}

TEST(MatMulTest, RejectsMismatchedShapes) {
  expect_error(call(make_node("MatMul"), {in(matrix_a()), in(matrix_a())}), "inner dimensions differ");
  expect_error(call(make_node("MatMul"), {in(iota({2, 2, 3})), in(iota({3, 3, 2}))}), "do not broadcast");
  expect_error(call(make_node("MatMul"), {in(floats({}, {1})), in(matrix_b())}), "rank 1 or more");
}

// ---- QuantizeLinear ----

TEST(QuantizeLinearTest, RoundsHalfToEvenAndSaturates) {
  Tensor out = call1(make_node("QuantizeLinear"), {in(floats({7}, {0, 2, 3, -3, 5, 1000, -1000})),
                                                   in(floats({}, {2})), in(make<std::uint8_t>({}, {128}))});
  EXPECT_EQ(out.dtype(), DataType::kUInt8);
  EXPECT_EQ(values_of<std::uint8_t>(out), (std::vector<std::uint8_t>{128, 129, 130, 126, 130, 255, 0}));
}

TEST(QuantizeLinearTest, DefaultsToUint8WithZeroPointZero) {
  Tensor out = call1(make_node("QuantizeLinear"),
                     {in(floats({5}, {-1, 0.5f, 1.5f, 2.5f, 3.5f})), in(floats({}, {1}))});
  EXPECT_EQ(out.dtype(), DataType::kUInt8);
  EXPECT_EQ(values_of<std::uint8_t>(out), (std::vector<std::uint8_t>{0, 0, 2, 2, 4}));
}

TEST(QuantizeLinearTest, Int8ZeroPointGivesInt8Output) {
  Tensor out =
      call1(make_node("QuantizeLinear"), {in(floats({4}, {-70, 63.75f, 0.25f, -0.75f})),
                                          in(floats({1}, {0.5f})), in(make<std::int8_t>({1}, {-1}))});
  EXPECT_EQ(out.dtype(), DataType::kInt8);
  EXPECT_EQ(values_of<std::int8_t>(out), (std::vector<std::int8_t>{-128, 127, -1, -3}));
}

TEST(QuantizeLinearTest, PerAxisScalesAndZeroPoints) {
  // Default axis 1: one scale per column.
  Tensor out =
      call1(make_node("QuantizeLinear"), {in(floats({2, 3}, {1, 2, 3, 4, 5, 6})), in(floats({3}, {1, 2, 4})),
                                          in(make<std::uint8_t>({3}, {0, 10, 20}))});
  EXPECT_EQ(values_of<std::uint8_t>(out), (std::vector<std::uint8_t>{1, 11, 21, 4, 12, 22}));
  // Negative axis: one scale per row.
  out = call1(with_int(make_node("QuantizeLinear"), "axis", -2),
              {in(floats({2, 3}, {1, 2, 3, 4, 5, 6})), in(floats({2}, {1, 10}))});
  EXPECT_EQ(values_of<std::uint8_t>(out), (std::vector<std::uint8_t>{1, 2, 3, 0, 0, 1}));
  // NCHW with one scale per channel.
  out = call1(make_node("QuantizeLinear"), {in(floats({1, 2, 1, 2}, {1, 2, 3, 4})), in(floats({2}, {1, 2}))});
  EXPECT_EQ(values_of<std::uint8_t>(out), (std::vector<std::uint8_t>{1, 2, 2, 2}));
}

TEST(QuantizeLinearTest, RejectsBadParameters) {
  const Tensor x = floats({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_error(call(make_node("QuantizeLinear"), {in(x), in(floats({2}, {1, 2}))}), "axis 1");
  expect_error(call(make_node("QuantizeLinear", 10), {in(x), in(floats({3}, {1, 2, 3}))}), "opset 13");
  expect_error(
      call(make_node("QuantizeLinear"), {in(x), in(floats({}, {1})), in(make<std::int32_t>({}, {0}))}),
      "uint8 or int8");
  expect_error(call(make_node("QuantizeLinear"),
                    {in(x), in(floats({3}, {1, 2, 3})), in(make<std::uint8_t>({2}, {0, 0}))}),
               "does not match scale");
  expect_error(call(make_node("QuantizeLinear"), {in(make<std::int8_t>({1}, {1})), in(floats({}, {1}))}),
               "float32");
  expect_error(call(with_int(make_node("QuantizeLinear"), "axis", 2), {in(x), in(floats({3}, {1, 2, 3}))}),
               "out of range");
}

// ---- DequantizeLinear ----

TEST(DequantizeLinearTest, SubtractsZeroPointAndScales) {
  expect_floats(
      call1(make_node("DequantizeLinear"), {in(make<std::uint8_t>({3}, {0, 128, 255})),
                                            in(floats({}, {0.5f})), in(make<std::uint8_t>({}, {128}))}),
      {3}, {-64, 0, 63.5f});
  expect_floats(
      call1(make_node("DequantizeLinear"), {in(make<std::int8_t>({3}, {-128, 0, 127})), in(floats({}, {2}))}),
      {3}, {-256, 0, 254});
}

TEST(DequantizeLinearTest, Int32DoesNotOverflow) {
  expect_floats(call1(make_node("DequantizeLinear"),
                      {in(make<std::int32_t>({2}, {-1000, std::numeric_limits<std::int32_t>::max()})),
                       in(floats({}, {1})), in(make<std::int32_t>({}, {-1}))}),
                {2}, {-999, 2147483648.0f});
}

TEST(DequantizeLinearTest, PerAxis) {
  expect_floats(
      call1(make_node("DequantizeLinear"), {in(make<std::int8_t>({2, 2}, {1, 2, 3, 4})),
                                            in(floats({2}, {1, 0.5f})), in(make<std::int8_t>({2}, {0, 2}))}),
      {2, 2}, {1, 0, 3, 1});
  expect_floats(call1(with_int(make_node("DequantizeLinear"), "axis", 0),
                      {in(make<std::uint8_t>({2, 2}, {1, 2, 3, 4})), in(floats({2}, {1, 0.5f}))}),
                {2, 2}, {1, 2, 1.5f, 2});
}

TEST(DequantizeLinearTest, RejectsBadTypes) {
  expect_error(call(make_node("DequantizeLinear"), {in(floats({1}, {1})), in(floats({}, {1}))}),
               "uint8, int8 or int32");
  expect_error(call(make_node("DequantizeLinear"),
                    {in(make<std::uint8_t>({1}, {1})), in(floats({}, {1})), in(make<std::int8_t>({}, {0}))}),
               "zero point is int8 but x is uint8");
  expect_error(call(make_node("DequantizeLinear"),
                    {in(make<std::uint8_t>({1}, {1})), in(make<std::uint8_t>({}, {1}))}),
               "scale must be float32");
}

}  // namespace
}  // namespace canopy::infer
