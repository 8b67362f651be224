// Conformance against ONNX Runtime: for every supported operator, small
// models with random weights and odd shapes, run at batch 1 and 4 by the
// canopy engine (each backend) and by ONNX Runtime 1.20. float32 outputs must
// agree within 1e-4 relative or 1e-5 absolute; int8/uint8 within one step.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "infer/engine.h"
#include "infer/onnx_builder.h"
#include "onnxruntime.h"
#include "test_support.h"

namespace canopy::testing {
namespace {

using infer::attr_float;
using infer::attr_int;
using infer::attr_ints;
using infer::attr_string;
using infer::OnnxAttribute;
using infer::OnnxBuilder;
using infer::random_tensor;

using infer::DataType;
using infer::Shape;
using infer::Tensor;

struct Input {
  std::string name;
  Shape shape;  // dim 0 is the batch when the case is batched
  DataType type = DataType::kFloat32;
};

struct Case {
  std::string name;
  int opset = 13;
  std::vector<Input> inputs;
  // Adds initializers, nodes and outputs.
  std::function<void(OnnxBuilder&)> body;
  bool batched = true;
};

Tensor weights(Shape shape, unsigned seed, float scale = 0.5f) {
  return random_tensor(DataType::kFloat32, std::move(shape), seed, -scale, scale);
}

Tensor ints(std::vector<std::int64_t> values) {
  Tensor t = Tensor::allocate(DataType::kInt64, {static_cast<std::int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) t.data<std::int64_t>()[i] = values[i];
  return t;
}

Tensor floats(std::vector<float> values) { return from_floats({static_cast<std::int64_t>(values.size())}, values); }

Tensor scalar(float v) { return from_floats({}, {v}); }

// A Conv case: X[N,C,H,W] -> Conv(W[M,C/g,k,k], B) -> out.
Case conv_case(std::string name, std::int64_t C, std::int64_t H, std::int64_t W, std::int64_t M, std::int64_t k,
               std::vector<OnnxAttribute> attrs, std::int64_t group = 1) {
  return Case{name, 13, {{"x", {1, C, H, W}}}, [=](OnnxBuilder& b) {
                b.add_initializer("w", weights({M, C / group, k, k}, 2));
                b.add_initializer("bias", weights({M}, 3));
                auto all = attrs;
                all.push_back(attr_int("group", group));
                b.add_node("Conv", {"x", "w", "bias"}, {"y"}, all);
                b.add_output("y", DataType::kFloat32, {});
              }};
}

Case unary_case(std::string op, std::vector<OnnxAttribute> attrs = {}, int opset = 13) {
  return Case{op, opset, {{"x", {1, 3, 7, 5}}}, [=](OnnxBuilder& b) {
                b.add_node(op, {"x"}, {"y"}, attrs);
                b.add_output("y", DataType::kFloat32, {});
              }};
}

Case binary_case(std::string name, std::string op, Shape b_shape) {
  return Case{name, 13, {{"a", {1, 4, 5, 6}}}, [=](OnnxBuilder& b) {
                b.add_initializer("b", weights(b_shape, 9, 2.0f));
                b.add_node(op, {"a", "b"}, {"y"});
                b.add_output("y", DataType::kFloat32, {});
              }};
}

// A QDQ int8 convolution with a float bias and Relu, as a static quantizer
// writes it; `activations` is the type of the quantized activations.
Case qdq_conv_case(std::string name, DataType activations) {
  return Case{name, 13, {{"x", {1, 8, 9, 9}}}, [activations](OnnxBuilder& b) {
                std::vector<float> ws;
                for (int m = 0; m < 16; ++m) ws.push_back(0.002f + 0.001f * static_cast<float>(m % 5));
                b.add_initializer("wq", random_tensor(DataType::kInt8, {16, 8, 3, 3}, 24)).add_initializer("ws", floats(ws));
                b.add_initializer("wzp", Tensor::allocate(DataType::kInt8, {16}));
                b.add_initializer("bias", weights({16}, 25, 0.3f));
                b.add_initializer("xs", scalar(0.02f)).add_initializer("zp", Tensor::allocate(activations, {}));
                b.add_initializer("ys", scalar(0.01f));
                b.add_node("QuantizeLinear", {"x", "xs", "zp"}, {"xq"});
                b.add_node("DequantizeLinear", {"xq", "xs", "zp"}, {"xd"});
                b.add_node("DequantizeLinear", {"wq", "ws", "wzp"}, {"wd"}, {attr_int("axis", 0)});
                b.add_node("Conv", {"xd", "wd", "bias"}, {"c"},
                           {attr_ints("pads", {1, 1, 1, 1}), attr_ints("strides", {2, 2})});
                b.add_node("Relu", {"c"}, {"r"});
                b.add_node("QuantizeLinear", {"r", "ys", "zp"}, {"y"});
                b.add_output("y", activations, {});
              }};
}

// A residual block as the quantizer writes it: int8 convolution, Relu, then
// the Add of another dequantized int8 tensor, quantized once at the end; the
// bias is int32 with a scale per output channel.
Case qdq_residual_case() {
  return Case{"qdq_conv_relu_residual_add_uint8", 13, {{"x", {1, 8, 9, 9}}, {"r", {1, 8, 9, 9}}}, [](OnnxBuilder& b) {
                std::vector<float> ws, bs;
                for (int m = 0; m < 8; ++m) ws.push_back(0.002f + 0.001f * static_cast<float>(m % 3));
                for (float w : ws) bs.push_back(0.02f * w);
                b.add_initializer("wq", random_tensor(DataType::kInt8, {8, 8, 3, 3}, 31)).add_initializer("ws", floats(ws));
                b.add_initializer("wzp", Tensor::allocate(DataType::kInt8, {8}));
                b.add_initializer("bq", random_tensor(DataType::kInt32, {8}, 32)).add_initializer("bs", floats(bs));
                b.add_initializer("bzp", Tensor::allocate(DataType::kInt32, {8}));
                b.add_initializer("xs", scalar(0.02f)).add_initializer("rs", scalar(0.015f)).add_initializer("ys", scalar(0.03f));
                b.add_initializer("zp", Tensor::allocate(DataType::kUInt8, {}));
                b.add_node("QuantizeLinear", {"x", "xs", "zp"}, {"xq"});
                b.add_node("DequantizeLinear", {"xq", "xs", "zp"}, {"xd"});
                b.add_node("QuantizeLinear", {"r", "rs", "zp"}, {"rq"});
                b.add_node("DequantizeLinear", {"rq", "rs", "zp"}, {"rd"});
                b.add_node("DequantizeLinear", {"wq", "ws", "wzp"}, {"wd"}, {attr_int("axis", 0)});
                b.add_node("DequantizeLinear", {"bq", "bs", "bzp"}, {"bd"}, {attr_int("axis", 0)});
                b.add_node("Conv", {"xd", "wd", "bd"}, {"c"}, {attr_ints("pads", {1, 1, 1, 1})});
                b.add_node("Relu", {"c"}, {"a"});
                b.add_node("Add", {"a", "rd"}, {"s"});
                b.add_node("QuantizeLinear", {"s", "ys", "zp"}, {"y"});
                b.add_output("y", DataType::kUInt8, {});
              }};
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  // Convolution.
  cases.push_back(conv_case("conv_3x3_pad1", 3, 13, 11, 5, 3, {attr_ints("pads", {1, 1, 1, 1})}));
  cases.push_back(conv_case("conv_stride2_dilation2_asym_pads", 4, 17, 15, 6, 3,
                            {attr_ints("strides", {2, 2}), attr_ints("dilations", {2, 2}),
                             attr_ints("pads", {0, 1, 2, 1})}));
  cases.push_back(conv_case("conv_groups2", 4, 9, 9, 6, 3, {attr_ints("pads", {1, 1, 1, 1})}, 2));
  cases.push_back(conv_case("conv_depthwise", 6, 10, 8, 6, 3,
                            {attr_ints("pads", {1, 1, 1, 1}), attr_ints("strides", {2, 1})}, 6));
  cases.push_back(conv_case("conv_same_upper", 3, 10, 9, 4, 3, {attr_string("auto_pad", "SAME_UPPER"),
                                                                 attr_ints("strides", {2, 2})}));
  cases.push_back(conv_case("conv_same_lower", 3, 10, 9, 4, 4, {attr_string("auto_pad", "SAME_LOWER")}));
  cases.push_back(conv_case("conv_valid", 3, 10, 9, 4, 3, {attr_string("auto_pad", "VALID")}));
  cases.push_back(conv_case("conv_1x1", 8, 7, 7, 5, 1, {}));
  cases.push_back(Case{"conv_transpose_stride2", 13, {{"x", {1, 4, 5, 6}}}, [](OnnxBuilder& b) {
                         b.add_initializer("w", weights({4, 3, 3, 3}, 4));
                         b.add_initializer("bias", weights({3}, 5));
                         b.add_node("ConvTranspose", {"x", "w", "bias"}, {"y"},
                                    {attr_ints("strides", {2, 2}), attr_ints("pads", {1, 1, 1, 1}),
                                     attr_ints("output_padding", {1, 0})});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  cases.push_back(Case{"conv_transpose_groups_dilation", 13, {{"x", {1, 4, 5, 5}}}, [](OnnxBuilder& b) {
                         b.add_initializer("w", weights({4, 2, 2, 2}, 6));
                         b.add_node("ConvTranspose", {"x", "w"}, {"y"},
                                    {attr_int("group", 2), attr_ints("dilations", {2, 2}), attr_ints("strides", {2, 2})});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  // Normalization and fusions the optimizer performs.
  cases.push_back(Case{"batchnorm", 13, {{"x", {1, 3, 6, 5}}}, [](OnnxBuilder& b) {
                         b.add_initializer("s", weights({3}, 7)).add_initializer("bb", weights({3}, 8));
                         b.add_initializer("m", weights({3}, 9));
                         b.add_initializer("v", random_tensor(DataType::kFloat32, {3}, 10, 0.5f, 2.0f));
                         b.add_node("BatchNormalization", {"x", "s", "bb", "m", "v"}, {"y"}, {attr_float("epsilon", 1e-3f)});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  cases.push_back(Case{"conv_bn_silu_residual", 13, {{"x", {1, 4, 8, 8}}}, [](OnnxBuilder& b) {
                         b.add_initializer("w", weights({4, 4, 3, 3}, 11));
                         b.add_initializer("s", weights({4}, 12)).add_initializer("bb", weights({4}, 13));
                         b.add_initializer("m", weights({4}, 14));
                         b.add_initializer("v", random_tensor(DataType::kFloat32, {4}, 15, 0.5f, 2.0f));
                         b.add_node("Conv", {"x", "w"}, {"c"}, {attr_ints("pads", {1, 1, 1, 1})});
                         b.add_node("BatchNormalization", {"c", "s", "bb", "m", "v"}, {"n"});
                         b.add_node("Sigmoid", {"n"}, {"sig"});
                         b.add_node("Mul", {"n", "sig"}, {"act"});
                         b.add_node("Add", {"x", "act"}, {"y"});
                         b.add_output("y", DataType::kFloat32, {1, 4, 8, 8});
                       }});
  cases.push_back(Case{"conv_add_relu", 13, {{"x", {1, 3, 6, 6}}}, [](OnnxBuilder& b) {
                         b.add_initializer("w", weights({3, 3, 3, 3}, 16));
                         b.add_node("Conv", {"x", "w"}, {"c"}, {attr_ints("pads", {1, 1, 1, 1})});
                         b.add_node("Add", {"c", "x"}, {"s"});
                         b.add_node("Relu", {"s"}, {"y"});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  cases.push_back(Case{"conv_clip_relu6", 11, {{"x", {1, 3, 6, 6}}}, [](OnnxBuilder& b) {
                         b.add_initializer("w", weights({5, 3, 3, 3}, 17, 2.0f));
                         b.add_initializer("lo", scalar(0)).add_initializer("hi", scalar(6));
                         b.add_node("Conv", {"x", "w"}, {"c"});
                         b.add_node("Clip", {"c", "lo", "hi"}, {"y"});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  // Activations.
  cases.push_back(unary_case("Relu"));
  cases.push_back(unary_case("LeakyRelu", {attr_float("alpha", 0.1f)}));
  cases.push_back(unary_case("Sigmoid"));
  cases.push_back(unary_case("HardSigmoid", {attr_float("alpha", 0.3f), attr_float("beta", 0.4f)}));
  cases.push_back(unary_case("HardSwish", {}, 14));
  cases.push_back(unary_case("Identity"));
  cases.push_back(Case{"clip_min_only", 13, {{"x", {1, 3, 4, 4}}}, [](OnnxBuilder& b) {
                         b.add_initializer("lo", scalar(-0.2f));
                         b.add_node("Clip", {"x", "lo"}, {"y"});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  // Broadcasting arithmetic.
  cases.push_back(binary_case("add_same", "Add", {1, 4, 5, 6}));
  cases.push_back(binary_case("add_per_channel", "Add", {4, 1, 1}));
  cases.push_back(binary_case("mul_last_axis", "Mul", {6}));
  cases.push_back(binary_case("sub_scalar", "Sub", {}));
  cases.push_back(binary_case("div_rows", "Div", {5, 1}));
  // Shapes.
  cases.push_back(Case{"concat_split", 13, {{"a", {1, 3, 4, 5}}, {"b", {1, 2, 4, 5}}}, [](OnnxBuilder& b) {
                         b.add_initializer("sizes", ints({1, 4}));
                         b.add_node("Concat", {"a", "b"}, {"c"}, {attr_int("axis", 1)});
                         b.add_node("Split", {"c", "sizes"}, {"y1", "y2"}, {attr_int("axis", -3)});
                         b.add_output("y1", DataType::kFloat32, {}).add_output("y2", DataType::kFloat32, {});
                       }});
  cases.push_back(Case{"split_opset11_attr", 11, {{"a", {1, 6, 3}}}, [](OnnxBuilder& b) {
                         b.add_node("Split", {"a"}, {"y1", "y2"}, {attr_int("axis", 1), attr_ints("split", {2, 4})});
                         b.add_output("y1", DataType::kFloat32, {}).add_output("y2", DataType::kFloat32, {});
                       }});
  cases.push_back(Case{"slice_negative_steps", 13, {{"a", {1, 5, 7, 6}}}, [](OnnxBuilder& b) {
                         b.add_initializer("starts", ints({-1, 1})).add_initializer("ends", ints({-100, 6}));
                         b.add_initializer("axes", ints({2, 3})).add_initializer("steps", ints({-2, 2}));
                         b.add_node("Slice", {"a", "starts", "ends", "axes", "steps"}, {"y"});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  cases.push_back(Case{"reshape_flatten_transpose", 13, {{"a", {1, 4, 3, 6}}}, [](OnnxBuilder& b) {
                         b.add_initializer("shape", ints({0, -1, 2}));
                         b.add_node("Reshape", {"a", "shape"}, {"r"});
                         b.add_node("Transpose", {"r"}, {"t"}, {attr_ints("perm", {2, 0, 1})});
                         b.add_node("Flatten", {"t"}, {"y"}, {attr_int("axis", 2)});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  // Pooling.
  cases.push_back(Case{"maxpool_pads_stride", 13, {{"x", {1, 3, 11, 9}}}, [](OnnxBuilder& b) {
                         b.add_node("MaxPool", {"x"}, {"y"},
                                    {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 2}),
                                     attr_ints("pads", {1, 1, 1, 1})});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  cases.push_back(Case{"maxpool_ceil_dilation", 13, {{"x", {1, 2, 10, 9}}}, [](OnnxBuilder& b) {
                         b.add_node("MaxPool", {"x"}, {"y"},
                                    {attr_ints("kernel_shape", {2, 2}), attr_ints("strides", {2, 2}),
                                     attr_ints("dilations", {2, 1}), attr_int("ceil_mode", 1)});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  cases.push_back(Case{"maxpool_same_upper_5x5", 13, {{"x", {1, 4, 8, 8}}}, [](OnnxBuilder& b) {
                         b.add_node("MaxPool", {"x"}, {"y"},
                                    {attr_ints("kernel_shape", {5, 5}), attr_string("auto_pad", "SAME_UPPER")});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  for (int include_pad : {0, 1}) {
    cases.push_back(Case{"avgpool_count_include_pad_" + std::to_string(include_pad), 13, {{"x", {1, 3, 9, 7}}},
                         [include_pad](OnnxBuilder& b) {
                           b.add_node("AveragePool", {"x"}, {"y"},
                                      {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 2}),
                                       attr_ints("pads", {1, 1, 1, 1}), attr_int("count_include_pad", include_pad)});
                           b.add_output("y", DataType::kFloat32, {});
                         }});
  }
  cases.push_back(Case{"avgpool_ceil", 13, {{"x", {1, 2, 8, 7}}}, [](OnnxBuilder& b) {
                         b.add_node("AveragePool", {"x"}, {"y"},
                                    {attr_ints("kernel_shape", {3, 2}), attr_ints("strides", {2, 2}), attr_int("ceil_mode", 1)});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  cases.push_back(Case{"global_average_pool", 13, {{"x", {1, 5, 7, 3}}}, [](OnnxBuilder& b) {
                         b.add_node("GlobalAveragePool", {"x"}, {"y"});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  // Resize.
  for (const char* mode : {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"}) {
    cases.push_back(Case{std::string("resize_linear_") + mode, 13, {{"x", {1, 2, 5, 7}}}, [mode](OnnxBuilder& b) {
                           b.add_initializer("roi", floats({})).add_initializer("scales", floats({1, 1, 2.0f, 1.5f}));
                           b.add_node("Resize", {"x", "roi", "scales"}, {"y"},
                                      {attr_string("mode", "linear"), attr_string("coordinate_transformation_mode", mode)});
                           b.add_output("y", DataType::kFloat32, {});
                         }});
  }
  for (const char* rounding : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}) {
    cases.push_back(Case{std::string("resize_nearest_") + rounding, 13, {{"x", {1, 2, 5, 6}}}, [rounding](OnnxBuilder& b) {
                           b.add_initializer("roi", floats({})).add_initializer("scales", floats({1, 1, 2.0f, 0.5f}));
                           b.add_node("Resize", {"x", "roi", "scales"}, {"y"},
                                      {attr_string("mode", "nearest"), attr_string("nearest_mode", rounding)});
                           b.add_output("y", DataType::kFloat32, {});
                         }});
  }
  cases.push_back(Case{"resize_nearest_sizes_opset11", 11, {{"x", {1, 3, 4, 5}}}, [](OnnxBuilder& b) {
                         b.add_initializer("roi", floats({})).add_initializer("scales", floats({}));
                         b.add_initializer("sizes", ints({1, 3, 8, 10}));
                         b.add_node("Resize", {"x", "roi", "scales", "sizes"}, {"y"},
                                    {attr_string("mode", "nearest"), attr_string("coordinate_transformation_mode", "asymmetric"),
                                     attr_string("nearest_mode", "floor")});
                         b.add_output("y", DataType::kFloat32, {});
                       }, false});
  // Softmax, both semantics.
  cases.push_back(Case{"softmax_opset11_coerced", 11, {{"x", {1, 3, 4}}}, [](OnnxBuilder& b) {
                         b.add_node("Softmax", {"x"}, {"y"}, {attr_int("axis", 1)});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  cases.push_back(Case{"softmax_opset13_axis1", 13, {{"x", {1, 3, 4}}}, [](OnnxBuilder& b) {
                         b.add_node("Softmax", {"x"}, {"y"}, {attr_int("axis", 1)});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  // Matrix products.
  cases.push_back(Case{"gemm_transb_bias", 13, {{"a", {1, 7}}}, [](OnnxBuilder& b) {
                         b.add_initializer("w", weights({5, 7}, 20)).add_initializer("c", weights({5}, 21));
                         b.add_node("Gemm", {"a", "w", "c"}, {"y"},
                                    {attr_int("transB", 1), attr_float("alpha", 0.5f), attr_float("beta", 2.0f)});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  cases.push_back(Case{"matmul_batched", 13, {{"a", {1, 3, 6}}}, [](OnnxBuilder& b) {
                         b.add_initializer("w", weights({6, 4}, 22));
                         b.add_node("MatMul", {"a", "w"}, {"y"});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  // Quantization.
  cases.push_back(Case{"quantize_dequantize_uint8", 13, {{"x", {1, 3, 4, 4}}}, [](OnnxBuilder& b) {
                         b.add_initializer("s", scalar(0.02f));
                         Tensor zp = Tensor::allocate(DataType::kUInt8, {});
                         zp.data<std::uint8_t>()[0] = 128;
                         b.add_initializer("zp", zp);
                         b.add_node("QuantizeLinear", {"x", "s", "zp"}, {"q"});
                         b.add_node("DequantizeLinear", {"q", "s", "zp"}, {"y"});
                         b.add_output("q", DataType::kUInt8, {}).add_output("y", DataType::kFloat32, {});
                       }});
  cases.push_back(Case{"qdq_conv_per_channel_int8", 13, {{"x", {1, 3, 8, 8}}}, [](OnnxBuilder& b) {
                         Tensor wq = random_tensor(DataType::kInt8, {4, 3, 3, 3}, 23);
                         b.add_initializer("wq", wq).add_initializer("ws", floats({0.01f, 0.02f, 0.015f, 0.005f}));
                         Tensor wzp = Tensor::allocate(DataType::kInt8, {4});
                         b.add_initializer("wzp", wzp);
                         b.add_initializer("xs", scalar(0.01f));
                         Tensor xzp = Tensor::allocate(DataType::kInt8, {});
                         b.add_initializer("xzp", xzp);
                         b.add_initializer("ys", scalar(0.05f));
                         b.add_initializer("yzp", xzp);
                         b.add_node("QuantizeLinear", {"x", "xs", "xzp"}, {"xq"});
                         b.add_node("DequantizeLinear", {"xq", "xs", "xzp"}, {"xd"});
                         b.add_node("DequantizeLinear", {"wq", "ws", "wzp"}, {"wd"}, {attr_int("axis", 0)});
                         b.add_node("Conv", {"xd", "wd"}, {"c"}, {attr_ints("pads", {1, 1, 1, 1})});
                         b.add_node("QuantizeLinear", {"c", "ys", "yzp"}, {"y"});
                         b.add_output("y", DataType::kInt8, {});
                       }});
  // Data-movement operators between convolutions (the NHWC backends run them
  // in NHWC): MaxPool, Split and Concat along channels, and an SPPF-style
  // block with an upsample, as in the field detectors.
  cases.push_back(Case{"conv_then_maxpool_ceil", 13, {{"x", {1, 3, 11, 9}}}, [](OnnxBuilder& b) {
                         b.add_initializer("w", weights({8, 3, 3, 3}, 30));
                         b.add_node("Conv", {"x", "w"}, {"c"}, {attr_ints("pads", {1, 1, 1, 1})});
                         b.add_node("MaxPool", {"c"}, {"y"},
                                    {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 2}),
                                     attr_ints("pads", {1, 1, 1, 1}), attr_int("ceil_mode", 1)});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  cases.push_back(Case{"conv_split_conv_concat", 13, {{"x", {1, 3, 7, 6}}}, [](OnnxBuilder& b) {
                         b.add_initializer("w1", weights({8, 3, 3, 3}, 31)).add_initializer("w2", weights({4, 5, 1, 1}, 32));
                         b.add_initializer("sizes", ints({3, 5}));
                         b.add_node("Conv", {"x", "w1"}, {"c"}, {attr_ints("pads", {1, 1, 1, 1})});
                         b.add_node("Split", {"c", "sizes"}, {"a", "bpart"}, {attr_int("axis", 1)});
                         b.add_node("Conv", {"bpart", "w2"}, {"d"});
                         b.add_node("Concat", {"a", "d", "bpart"}, {"y"}, {attr_int("axis", -3)});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  cases.push_back(Case{"sppf_upsample_block", 13, {{"x", {1, 4, 8, 8}}}, [](OnnxBuilder& b) {
                         b.add_initializer("w1", weights({6, 4, 1, 1}, 33)).add_initializer("w2", weights({8, 24, 1, 1}, 34));
                         b.add_initializer("roi", floats({})).add_initializer("scales", floats({1, 1, 2, 2}));
                         b.add_node("Conv", {"x", "w1"}, {"c"});
                         std::vector<std::string> parts{"c"};
                         for (int i = 0; i < 3; ++i) {
                           std::string p = "p" + std::to_string(i);
                           b.add_node("MaxPool", {parts.back()}, {p},
                                      {attr_ints("kernel_shape", {5, 5}), attr_ints("pads", {2, 2, 2, 2})});
                           parts.push_back(p);
                         }
                         b.add_node("Concat", parts, {"cat"}, {attr_int("axis", 1)});
                         b.add_node("Conv", {"cat", "w2"}, {"d"});
                         b.add_node("Resize", {"d", "roi", "scales"}, {"y"}, {attr_string("mode", "nearest")});
                         b.add_output("y", DataType::kFloat32, {});
                       }});
  cases.push_back(qdq_conv_case("conv_qdq_int8_bias_relu_stride2", DataType::kInt8));
  cases.push_back(qdq_conv_case("conv_qdq_uint8_activations_relu", DataType::kUInt8));
  cases.push_back(qdq_residual_case());
  // An FPN upsample of a quantized map: nearest Resize straight on uint8.
  cases.push_back(Case{"resize_nearest_uint8", 13, {{"x", {1, 3, 5, 4}}}, [](OnnxBuilder& b) {
                         b.add_initializer("s", scalar(0.02f)).add_initializer("zp", Tensor::allocate(DataType::kUInt8, {}));
                         b.add_initializer("scales", floats({1, 1, 2, 2}));
                         b.add_node("QuantizeLinear", {"x", "s", "zp"}, {"q"});
                         b.add_node("Resize", {"q", "", "scales"}, {"u"},
                                    {attr_string("mode", "nearest"), attr_string("coordinate_transformation_mode", "asymmetric"),
                                     attr_string("nearest_mode", "floor")});
                         b.add_node("DequantizeLinear", {"u", "s", "zp"}, {"y"});
                         b.add_output("u", DataType::kUInt8, {}).add_output("y", DataType::kFloat32, {});
                       }});
  return cases;
}

bool close_enough(const Tensor& ours, const Tensor& theirs, std::string& why) {
  if (ours.dtype() != theirs.dtype()) {
    why = "type " + std::string(infer::data_type_name(ours.dtype())) + " vs " +
          std::string(infer::data_type_name(theirs.dtype()));
    return false;
  }
  if (ours.shape() != theirs.shape()) {
    why = "shape " + infer::shape_to_string(ours.shape()) + " vs " + infer::shape_to_string(theirs.shape());
    return false;
  }
  auto a = infer::to_float_vector(ours);
  auto b = infer::to_float_vector(theirs);
  const bool quantized = ours.dtype() != DataType::kFloat32;
  for (size_t i = 0; i < a.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(a[i]) - b[i]);
    const double allowed = quantized ? 1.0 : std::max(1e-5, 1e-4 * std::fabs(static_cast<double>(b[i])));
    if (diff > allowed || std::isnan(a[i]) != std::isnan(b[i])) {
      why = "element " + std::to_string(i) + ": canopy " + std::to_string(a[i]) + ", onnxruntime " + std::to_string(b[i]);
      return false;
    }
  }
  return true;
}

using Param = std::tuple<size_t, infer::BackendKind>;

class Conformance : public ::testing::TestWithParam<Param> {};

TEST_P(Conformance, MatchesOnnxRuntime) {
  ASSERT_TRUE(onnxruntime_available()) << "ONNX Runtime is missing: run scripts/install-onnxruntime.sh";
  const Case c = all_cases()[std::get<0>(GetParam())];
  const infer::BackendKind backend = std::get<1>(GetParam());
  TempDir dir;
  OnnxBuilder builder(c.opset);
  for (const auto& input : c.inputs) {
    Shape declared = input.shape;
    if (c.batched) declared[0] = -1;
    builder.add_input(input.name, input.type, declared);
  }
  c.body(builder);
  const auto model = dir / "model.onnx";
  ASSERT_TRUE(builder.save(model).ok());
  infer::EngineOptions options;
  options.backend = backend;
  auto engine = infer::Engine::load(model, options);
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  // Convolutions must really run on the backend under test, not fall back.
  if (backend != infer::BackendKind::kReference && c.name.rfind("conv", 0) == 0) {
    auto kernels = (*engine)->kernels_by_backend();
    EXPECT_GE(kernels[std::string(infer::backend_kind_name(backend))], 1)
        << "no node ran on " << infer::backend_kind_name(backend);
  }
  for (std::int64_t batch : c.batched ? std::vector<std::int64_t>{1, 4} : std::vector<std::int64_t>{1}) {
    std::vector<std::pair<std::string, Tensor>> named;
    std::vector<Tensor> inputs;
    unsigned seed = 100;
    for (const auto& input : c.inputs) {
      Shape shape = input.shape;
      if (c.batched) shape[0] = batch;
      Tensor t = random_tensor(input.type, shape, seed++, -2.0f, 2.0f);
      named.emplace_back(input.name, t);
      inputs.push_back(t);
    }
    auto expected = run_onnxruntime(model, named);
    ASSERT_TRUE(expected.ok()) << expected.error().message;
    auto actual = (*engine)->run(inputs);
    ASSERT_TRUE(actual.ok()) << actual.error().message;
    ASSERT_EQ(actual->size(), expected->size());
    for (size_t i = 0; i < actual->size(); ++i) {
      std::string why;
      EXPECT_TRUE(close_enough((*actual)[i], (*expected)[i], why))
          << c.name << " batch " << batch << " output " << i << ": " << why;
    }
  }
}

std::vector<Param> params() {
  std::vector<Param> out;
  const size_t n = all_cases().size();
  for (auto backend : {infer::BackendKind::kReference, infer::BackendKind::kOneDnn, infer::BackendKind::kXnnpack})
    for (size_t i = 0; i < n; ++i) out.emplace_back(i, backend);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Operators, Conformance, ::testing::ValuesIn(params()), [](const auto& test) {
  return all_cases()[std::get<0>(test.param)].name + "_" +
         std::string(infer::backend_kind_name(std::get<1>(test.param)));
});

}  // namespace
}  // namespace canopy::testing
