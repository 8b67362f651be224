// Resize and its predecessor Upsample on 4-D NCHW float32 tensors, with
// nearest and (bi)linear interpolation (nearest also on int8/uint8). The coordinate formulas follow the
// ONNX Resize specification: every output coordinate is mapped back to a
// (fractional) input coordinate, which is then rounded (nearest) or
// interpolated between its two neighbours (linear).
#include <algorithm>
#include <cmath>
#include <string_view>
#include <utility>

#include "infer/ops/op.h"

namespace canopy::infer {
namespace {

using Index = std::int64_t;

enum class Interpolation { kNearest, kLinear };
enum class CoordinateMode {
  kHalfPixel,
  kAsymmetric,
  kAlignCorners,
  kPytorchHalfPixel,
  kTfHalfPixelForNearest
};
enum class NearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

struct ResizeMode {
  Interpolation interpolation = Interpolation::kNearest;
  CoordinateMode coordinates = CoordinateMode::kHalfPixel;
  NearestMode nearest = NearestMode::kRoundPreferFloor;
};

// Output shape and the per-axis scale the coordinate formulas divide by.
struct ResizeGeometry {
  Shape output;
  std::vector<double> scales;
};

template <typename E>
using Choices = std::vector<std::pair<std::string_view, E>>;

template <typename E>
Result<E> parse_choice(const Node& node, const std::string& attribute, const std::string& fallback,
                       const Choices<E>& choices) {
  const std::string value = node.attributes.get_string(attribute, fallback);
  std::string names;
  for (const auto& [name, choice] : choices) {
    if (name == value) return choice;
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  return op_error(node, "unsupported " + attribute + " '" + value + "' (supported: " + names + ")");
}

// Upsample before opset 9 takes its scales as an attribute, not an input.
bool scales_in_attribute(const Node& node) { return node.op_type == "Upsample" && node.opset < 9; }

// Resize before opset 11 and Upsample have no coordinate attributes; they
// behave like asymmetric coordinates with floor rounding.
bool is_legacy_form(const Node& node) { return node.op_type == "Upsample" || node.opset < 11; }

Result<ResizeMode> resize_mode(const Node& node) {
  const std::string mode = node.attributes.get_string("mode", "nearest");
  if (mode == "cubic") return op_error(node, "cubic interpolation is not supported; use nearest or linear");
  ResizeMode result;
  CANOPY_ASSIGN_OR_RETURN(result.interpolation,
                          parse_choice<Interpolation>(
                              node, "mode", "nearest",
                              {{"nearest", Interpolation::kNearest}, {"linear", Interpolation::kLinear}}));
  if (is_legacy_form(node)) {
    result.coordinates = CoordinateMode::kAsymmetric;
    result.nearest = NearestMode::kFloor;
    return result;
  }
  if (node.attributes.get_string("coordinate_transformation_mode", "") == "tf_crop_and_resize")
    return op_error(node, "coordinate_transformation_mode 'tf_crop_and_resize' is not supported");
  CANOPY_ASSIGN_OR_RETURN(
      result.coordinates,
      parse_choice<CoordinateMode>(node, "coordinate_transformation_mode", "half_pixel",
                                   {{"half_pixel", CoordinateMode::kHalfPixel},
                                    {"asymmetric", CoordinateMode::kAsymmetric},
                                    {"align_corners", CoordinateMode::kAlignCorners},
                                    {"pytorch_half_pixel", CoordinateMode::kPytorchHalfPixel},
                                    {"tf_half_pixel_for_nearest", CoordinateMode::kTfHalfPixelForNearest}}));
  CANOPY_ASSIGN_OR_RETURN(result.nearest,
                          parse_choice<NearestMode>(node, "nearest_mode", "round_prefer_floor",
                                                    {{"round_prefer_floor", NearestMode::kRoundPreferFloor},
                                                     {"round_prefer_ceil", NearestMode::kRoundPreferCeil},
                                                     {"floor", NearestMode::kFloor},
                                                     {"ceil", NearestMode::kCeil}}));
  // Opset 18 added these; only their defaults mean what this kernel computes.
  if (node.attributes.get_int("antialias", 0) != 0) return op_error(node, "antialias is not supported");
  if (node.attributes.has("axes"))
    return op_error(node, "the axes attribute is not supported; give all 4 axes");
  if (node.attributes.get_string("keep_aspect_ratio_policy", "stretch") != "stretch")
    return op_error(node, "keep_aspect_ratio_policy other than 'stretch' is not supported");
  return result;
}

// Input positions of the scales and sizes tensors; -1 when the form has none.
int scales_input(const Node& node) { return node.op_type == "Resize" && node.opset >= 11 ? 2 : 1; }
int sizes_input(const Node& node) { return node.op_type == "Resize" && node.opset >= 11 ? 3 : -1; }

Result<ResizeGeometry> resize_geometry(const Node& node, const Shape& input, const ResizeMode& mode,
                                       const std::vector<float>& scales, const std::vector<Index>& sizes) {
  if (scales.empty() == sizes.empty())
    return op_error(node, "exactly one of scales and sizes must be given (and non-empty)");
  const size_t count = scales.empty() ? sizes.size() : scales.size();
  if (count != input.size())
    return op_error(node, (scales.empty() ? "sizes" : "scales") + std::string(" has ") +
                              std::to_string(count) + " values but the input has rank " +
                              std::to_string(input.size()));
  ResizeGeometry geometry{Shape(count), std::vector<double>(count)};
  for (size_t i = 0; i < count; ++i) {
    if (!scales.empty()) {
      if (!(scales[i] > 0))
        return op_error(node, "scales must be positive, got " + std::to_string(scales[i]));
      geometry.scales[i] = scales[i];
      geometry.output[i] = static_cast<Index>(std::floor(static_cast<double>(input[i]) * scales[i]));
    } else {
      geometry.output[i] = sizes[i];
      geometry.scales[i] = static_cast<double>(sizes[i]) / static_cast<double>(input[i]);
    }
    if (geometry.output[i] <= 0 || input[i] <= 0)
      return op_error(node, "resizing " + shape_to_string(input) + " gives the empty shape " +
                                shape_to_string(geometry.output));
  }
  if (mode.interpolation == Interpolation::kLinear &&
      (geometry.output[0] != input[0] || geometry.output[1] != input[1]))
    return op_error(node, "linear interpolation resizes only H and W; N and C must keep their sizes");
  return geometry;
}

// Reads scales/sizes from constant inputs at infer time: absent or empty
// inputs yield an empty vector.
Result<std::vector<float>> constant_scales(const Node& node, const std::vector<TensorInfo>& inputs) {
  const auto i = static_cast<size_t>(scales_input(node));
  if (scales_in_attribute(node)) return node.attributes.get_floats("scales");
  if (i >= inputs.size() || !inputs[i].present || element_count(inputs[i].shape) == 0)
    return std::vector<float>{};
  if (inputs[i].dtype != DataType::kFloat32) return op_error(node, "scales must be float32");
  if (inputs[i].value == nullptr) return op_error(node, node.op_type + " needs a constant scales input");
  return to_float_vector(*inputs[i].value);
}

Result<std::vector<Index>> constant_sizes(const Node& node, const std::vector<TensorInfo>& inputs) {
  const int index = sizes_input(node);
  if (index < 0) return std::vector<Index>{};
  const auto i = static_cast<size_t>(index);
  if (i >= inputs.size() || !inputs[i].present || element_count(inputs[i].shape) == 0)
    return std::vector<Index>{};
  if (inputs[i].dtype != DataType::kInt64) return op_error(node, "sizes must be int64");
  if (inputs[i].value == nullptr) return op_error(node, node.op_type + " needs a constant sizes input");
  return to_int64_vector(*inputs[i].value);
}

// The same reads at run time, from the input tensors.
std::vector<float> run_scales(const Node& node, const std::vector<const Tensor*>& inputs) {
  const auto i = static_cast<size_t>(scales_input(node));
  if (scales_in_attribute(node)) return node.attributes.get_floats("scales");
  return i < inputs.size() && inputs[i] != nullptr ? to_float_vector(*inputs[i]) : std::vector<float>{};
}

std::vector<Index> run_sizes(const Node& node, const std::vector<const Tensor*>& inputs) {
  const int index = sizes_input(node);
  const auto i = static_cast<size_t>(index);
  return index >= 0 && i < inputs.size() && inputs[i] != nullptr ? to_int64_vector(*inputs[i])
                                                                 : std::vector<Index>{};
}

// x_original for every x_resized along one axis.
std::vector<double> source_coordinates(CoordinateMode mode, Index in_len, Index out_len, double scale) {
  std::vector<double> coords(static_cast<size_t>(out_len));
  for (Index x = 0; x < out_len; ++x) {
    const auto xr = static_cast<double>(x);
    double xo = 0;
    switch (mode) {
      case CoordinateMode::kHalfPixel:
        xo = (xr + 0.5) / scale - 0.5;
        break;
      case CoordinateMode::kAsymmetric:
        xo = xr / scale;
        break;
      case CoordinateMode::kPytorchHalfPixel:
        xo = out_len > 1 ? (xr + 0.5) / scale - 0.5 : 0.0;
        break;
      case CoordinateMode::kTfHalfPixelForNearest:
        xo = (xr + 0.5) / scale;
        break;
      case CoordinateMode::kAlignCorners:
        xo = out_len == 1 ? 0.0 : xr * static_cast<double>(in_len - 1) / static_cast<double>(out_len - 1);
        break;
    }
    coords[static_cast<size_t>(x)] = xo;
  }
  return coords;
}

Index round_nearest(NearestMode mode, double x) {
  switch (mode) {
    case NearestMode::kRoundPreferFloor:
      return static_cast<Index>(std::ceil(x - 0.5));
    case NearestMode::kRoundPreferCeil:
      return static_cast<Index>(std::floor(x + 0.5));
    case NearestMode::kFloor:
      return static_cast<Index>(std::floor(x));
    case NearestMode::kCeil:
      return static_cast<Index>(std::ceil(x));
  }
  return 0;
}

// Input index of every output index along one axis (nearest mode).
std::vector<Index> nearest_indices(const ResizeMode& mode, Index in_len, Index out_len, double scale) {
  std::vector<Index> indices;
  for (double x : source_coordinates(mode.coordinates, in_len, out_len, scale))
    indices.push_back(std::clamp<Index>(round_nearest(mode.nearest, x), 0, in_len - 1));
  return indices;
}

// Nearest copies elements, so it serves quantized (int8/uint8) tensors as well.
template <typename T>
void resize_nearest(const Tensor& x, const ResizeGeometry& geometry, const ResizeMode& mode, Tensor& y) {
  std::vector<std::vector<Index>> maps;
  for (size_t d = 0; d < 4; ++d)
    maps.push_back(nearest_indices(mode, x.shape()[d], geometry.output[d], geometry.scales[d]));
  const Shape& in = x.shape();
  const T* src = x.data<T>();
  T* dst = y.data<T>();
  for (Index n : maps[0])
    for (Index c : maps[1])
      for (Index h : maps[2]) {
        const T* row = src + ((n * in[1] + c) * in[2] + h) * in[3];
        for (Index w : maps[3]) *dst++ = row[w];
      }
}

// The two neighbours of a source coordinate and the weight of the second.
struct LinearTap {
  Index lo = 0;
  Index hi = 0;
  float weight = 0;
};

std::vector<LinearTap> linear_taps(CoordinateMode mode, Index in_len, Index out_len, double scale) {
  std::vector<LinearTap> taps;
  for (double x : source_coordinates(mode, in_len, out_len, scale)) {
    x = std::clamp(x, 0.0, static_cast<double>(in_len - 1));
    const auto lo = static_cast<Index>(std::floor(x));
    taps.push_back({lo, std::min(lo + 1, in_len - 1), static_cast<float>(x - static_cast<double>(lo))});
  }
  return taps;
}

void resize_linear(const Tensor& x, const ResizeGeometry& geometry, const ResizeMode& mode, Tensor& y) {
  const Shape& in = x.shape();
  const auto rows = linear_taps(mode.coordinates, in[2], geometry.output[2], geometry.scales[2]);
  const auto cols = linear_taps(mode.coordinates, in[3], geometry.output[3], geometry.scales[3]);
  const float* src = x.data<float>();
  float* dst = y.data<float>();
  for (Index plane = 0; plane < in[0] * in[1]; ++plane) {
    const float* image = src + plane * in[2] * in[3];
    for (const LinearTap& r : rows) {
      const float* top = image + r.lo * in[3];
      const float* bottom = image + r.hi * in[3];
      for (const LinearTap& c : cols) {
        const float upper = top[c.lo] + (top[c.hi] - top[c.lo]) * c.weight;
        const float lower = bottom[c.lo] + (bottom[c.hi] - bottom[c.lo]) * c.weight;
        *dst++ = upper + (lower - upper) * r.weight;
      }
    }
  }
}

Status infer_resize(const Node& node, const std::vector<TensorInfo>& inputs,
                    std::vector<TensorInfo>& outputs) {
  if (!inputs[0].present) return op_error(node, "the input X is missing");
  const TensorInfo& x = inputs[0];
  if (x.shape.size() != 4)
    return op_error(node, "input must be 4-D NCHW, got shape " + shape_to_string(x.shape));
  if (scales_in_attribute(node) && !node.attributes.has("scales"))
    return op_error(node, "Upsample before opset 9 needs a 'scales' attribute");
  CANOPY_ASSIGN_OR_RETURN(ResizeMode mode, resize_mode(node));
  const bool quantized = x.dtype == DataType::kUInt8 || x.dtype == DataType::kInt8;
  if (x.dtype != DataType::kFloat32 && !(quantized && mode.interpolation == Interpolation::kNearest))
    return op_error(node, "input must be float32 (or int8/uint8 with mode nearest), not " +
                              std::string(data_type_name(x.dtype)));
  CANOPY_ASSIGN_OR_RETURN(auto scales, constant_scales(node, inputs));
  CANOPY_ASSIGN_OR_RETURN(auto sizes, constant_sizes(node, inputs));
  CANOPY_ASSIGN_OR_RETURN(ResizeGeometry geometry, resize_geometry(node, x.shape, mode, scales, sizes));
  TensorInfo out;
  out.dtype = x.dtype;
  out.shape = geometry.output;
  outputs = {out};
  return {};
}

Status run_resize(const Node& node, const std::vector<const Tensor*>& inputs,
                  const std::vector<Tensor*>& outputs) {
  const Tensor& x = *inputs[0];
  CANOPY_ASSIGN_OR_RETURN(ResizeMode mode, resize_mode(node));
  CANOPY_ASSIGN_OR_RETURN(
      ResizeGeometry geometry,
      resize_geometry(node, x.shape(), mode, run_scales(node, inputs), run_sizes(node, inputs)));
  if (mode.interpolation == Interpolation::kNearest && x.dtype() == DataType::kUInt8)
    resize_nearest<std::uint8_t>(x, geometry, mode, *outputs[0]);
  else if (mode.interpolation == Interpolation::kNearest && x.dtype() == DataType::kInt8)
    resize_nearest<std::int8_t>(x, geometry, mode, *outputs[0]);
  else if (mode.interpolation == Interpolation::kNearest)
    resize_nearest<float>(x, geometry, mode, *outputs[0]);
  else
    resize_linear(x, geometry, mode, *outputs[0]);
  return {};
}

}  // namespace

void register_resize_ops(OpRegistry& registry) {
  registry.add(OpDefinition{"Resize", 1, 4, infer_resize, run_resize});
  registry.add(OpDefinition{"Upsample", 1, 2, infer_resize, run_resize});
}

}  // namespace canopy::infer
