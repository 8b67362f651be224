// Operators that move elements without computing on them: Concat, Split,
// Slice, Reshape, Flatten, Transpose and Identity. They work for every data
// type by copying element_size(dtype) bytes per element.
#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <set>

#include "infer/ops/op.h"

namespace canopy::infer {
namespace {

using Index = std::int64_t;

TensorInfo output_info(DataType dtype, Shape shape) {
  TensorInfo info;
  info.dtype = dtype;
  info.shape = std::move(shape);
  return info;
}

Index product(const Shape& shape, size_t begin, size_t end) {
  Index p = 1;
  for (size_t i = begin; i < end; ++i) p *= shape[i];
  return p;
}

// Row-major strides, in elements.
std::vector<Index> strides_of(const Shape& shape) {
  std::vector<Index> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

const unsigned char* bytes_of(const Tensor& t) { return static_cast<const unsigned char*>(t.raw()); }
unsigned char* bytes_of(Tensor& t) { return static_cast<unsigned char*>(t.raw()); }

// memcpy with a zero size is still undefined for null pointers, which empty views may hold.
void copy_bytes(void* dst, const void* src, size_t bytes) {
  if (bytes > 0) std::memcpy(dst, src, bytes);
}

// out[i_0, ..., i_n] = in[base + sum(i_d * strides[d])] for every index of `out`.
// Slice and Transpose are both this walk, with different bases and strides.
void gather_strided(const Tensor& in, Index base, const std::vector<Index>& strides, Tensor& out) {
  const size_t esize = element_size(in.dtype());
  const unsigned char* src = bytes_of(in);
  unsigned char* dst = bytes_of(out);
  const Shape& shape = out.shape();
  std::vector<Index> index(shape.size(), 0);
  Index offset = base;
  for (Index i = 0, n = out.numel(); i < n; ++i) {
    std::memcpy(dst + static_cast<size_t>(i) * esize, src + static_cast<size_t>(offset) * esize, esize);
    // Advance like an odometer: bump the last dimension and carry leftwards.
    for (size_t d = shape.size(); d-- > 0;) {
      offset += strides[d];
      if (++index[d] < shape[d]) break;
      offset -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
}

// Reads a constant 1-D integer input such as Reshape's shape.
Result<std::vector<Index>> constant_ints(const Node& node, const TensorInfo& info, const std::string& what) {
  if (info.value == nullptr) return op_error(node, node.op_type + " needs a constant " + what + " input");
  if (info.dtype != DataType::kInt64 && info.dtype != DataType::kInt32)
    return op_error(node, what + " must be int32 or int64, not " + std::string(data_type_name(info.dtype)));
  if (info.value->rank() != 1)
    return op_error(node, what + " must be 1-D, got shape " + shape_to_string(info.value->shape()));
  return to_int64_vector(*info.value);
}

bool has_input(const std::vector<TensorInfo>& inputs, size_t i) {
  return i < inputs.size() && inputs[i].present;
}

// The loader checks input counts, but a required input may still be given as "".
Status require_inputs(const Node& node, const std::vector<TensorInfo>& inputs, size_t count) {
  for (size_t i = 0; i < count; ++i)
    if (!has_input(inputs, i)) return op_error(node, "required input " + std::to_string(i) + " is missing");
  return {};
}

const Tensor* input_or_null(const std::vector<const Tensor*>& inputs, size_t i) {
  return i < inputs.size() ? inputs[i] : nullptr;
}

// ---- Concat ----

Status infer_concat(const Node& node, const std::vector<TensorInfo>& inputs,
                    std::vector<TensorInfo>& outputs) {
  if (!node.attributes.has("axis")) return op_error(node, "Concat needs an 'axis' attribute");
  CANOPY_TRY(require_inputs(node, inputs, inputs.size()));
  const TensorInfo& first = inputs[0];
  const auto rank = static_cast<Index>(first.shape.size());
  CANOPY_ASSIGN_OR_RETURN(Index axis, normalize_axis(node, node.attributes.get_int("axis", 0), rank));
  Shape out = first.shape;
  out[static_cast<size_t>(axis)] = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorInfo& in = inputs[i];
    if (in.dtype != first.dtype)
      return op_error(node, "input " + std::to_string(i) + " is " + std::string(data_type_name(in.dtype)) +
                                " but input 0 is " + std::string(data_type_name(first.dtype)));
    bool compatible = in.shape.size() == first.shape.size();
    for (size_t d = 0; compatible && d < in.shape.size(); ++d)
      compatible = static_cast<Index>(d) == axis || in.shape[d] == first.shape[d];
    if (!compatible)
      return op_error(node, "input shapes " + shape_to_string(first.shape) + " and " +
                                shape_to_string(in.shape) + " differ outside axis " + std::to_string(axis));
    out[static_cast<size_t>(axis)] += in.shape[static_cast<size_t>(axis)];
  }
  outputs = {output_info(first.dtype, out)};
  return {};
}

Status run_concat(const Node& node, const std::vector<const Tensor*>& inputs,
                  const std::vector<Tensor*>& outputs) {
  const Tensor& first = *inputs[0];
  CANOPY_ASSIGN_OR_RETURN(Index axis, normalize_axis(node, node.attributes.get_int("axis", 0), first.rank()));
  const size_t esize = element_size(first.dtype());
  const Index outer = product(first.shape(), 0, static_cast<size_t>(axis));
  unsigned char* dst = bytes_of(*outputs[0]);
  // Each outer index holds one contiguous block of every input, in input order.
  for (Index o = 0; o < outer; ++o) {
    for (const Tensor* in : inputs) {
      const size_t block =
          static_cast<size_t>(product(in->shape(), static_cast<size_t>(axis), in->shape().size())) * esize;
      copy_bytes(dst, bytes_of(*in) + static_cast<size_t>(o) * block, block);
      dst += block;
    }
  }
  return {};
}

// ---- Split ----

// Sizes of the pieces along the split axis. `split` is the opset-13 input (or null).
Result<std::vector<Index>> split_sizes(const Node& node, Index dim, const Tensor* split) {
  const Index outputs = static_cast<Index>(node.outputs.size());
  std::vector<Index> sizes;
  if (node.opset >= 13 && split != nullptr) {
    sizes = to_int64_vector(*split);
  } else if (node.opset < 13 && node.attributes.has("split")) {
    sizes = node.attributes.get_ints("split");
  } else {
    if (outputs == 0) return op_error(node, "Split has no outputs");
    if (dim % outputs != 0)
      return op_error(node, "cannot split a dimension of " + std::to_string(dim) + " evenly into " +
                                std::to_string(outputs) + " outputs");
    return std::vector<Index>(static_cast<size_t>(outputs), dim / outputs);
  }
  if (static_cast<Index>(sizes.size()) != outputs)
    return op_error(node, "split has " + std::to_string(sizes.size()) + " sizes but the node has " +
                              std::to_string(outputs) + " outputs");
  Index total = 0;
  for (Index s : sizes) {
    if (s < 0) return op_error(node, "split sizes must not be negative, got " + std::to_string(s));
    total += s;
  }
  if (total != dim)
    return op_error(node, "split sizes add up to " + std::to_string(total) + " but the axis has " +
                              std::to_string(dim) + " elements");
  return sizes;
}

Status infer_split(const Node& node, const std::vector<TensorInfo>& inputs,
                   std::vector<TensorInfo>& outputs) {
  CANOPY_TRY(require_inputs(node, inputs, 1));
  const TensorInfo& x = inputs[0];
  CANOPY_ASSIGN_OR_RETURN(Index axis, normalize_axis(node, node.attributes.get_int("axis", 0),
                                                     static_cast<Index>(x.shape.size())));
  const Tensor* split = nullptr;
  if (has_input(inputs, 1)) {
    if (node.opset < 13)
      return op_error(node, "the split input needs opset 13 or later; use the 'split' attribute");
    CANOPY_TRY(constant_ints(node, inputs[1], "split"));
    split = inputs[1].value;
  }
  CANOPY_ASSIGN_OR_RETURN(auto sizes, split_sizes(node, x.shape[static_cast<size_t>(axis)], split));
  outputs.clear();
  for (Index size : sizes) {
    Shape shape = x.shape;
    shape[static_cast<size_t>(axis)] = size;
    outputs.push_back(output_info(x.dtype, shape));
  }
  return {};
}

Status run_split(const Node& node, const std::vector<const Tensor*>& inputs,
                 const std::vector<Tensor*>& outputs) {
  const Tensor& x = *inputs[0];
  CANOPY_ASSIGN_OR_RETURN(Index axis, normalize_axis(node, node.attributes.get_int("axis", 0), x.rank()));
  const Index dim = x.dim(axis);
  CANOPY_ASSIGN_OR_RETURN(auto sizes, split_sizes(node, dim, input_or_null(inputs, 1)));
  const size_t esize = element_size(x.dtype());
  const Index outer = product(x.shape(), 0, static_cast<size_t>(axis));
  const Index inner = product(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  Index start = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    if (k < outputs.size() && outputs[k] != nullptr) {
      const size_t block = static_cast<size_t>(sizes[k] * inner) * esize;
      for (Index o = 0; o < outer; ++o)
        copy_bytes(bytes_of(*outputs[k]) + static_cast<size_t>(o) * block,
                   bytes_of(x) + static_cast<size_t>((o * dim + start) * inner) * esize, block);
    }
    start += sizes[k];
  }
  return {};
}

// ---- Slice ----

// The elements a Slice selects: per dimension of the input, where to start,
// the step and how many elements to take.
struct SliceWindow {
  std::vector<Index> starts;
  std::vector<Index> steps;
  Shape shape;
};

// Clamps one axis the way ONNX does: negative positions count from the end,
// and the window is clipped to the valid range for the step's direction.
void clamp_slice_axis(Index dim, Index start, Index end, Index step, Index& first, Index& count) {
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (dim == 0) {
    first = 0;
    count = 0;
  } else if (step > 0) {
    start = std::clamp<Index>(start, 0, dim);
    end = std::clamp<Index>(end, 0, dim);
    first = start;
    count = end > start ? (end - start + step - 1) / step : 0;
  } else {
    start = std::clamp<Index>(start, 0, dim - 1);
    end = std::clamp<Index>(end, -1, dim - 1);
    first = start;
    count = start > end ? (start - end - step - 1) / -step : 0;
  }
}

Result<SliceWindow> slice_window(const Node& node, const Shape& data, const std::vector<Index>& starts,
                                 const std::vector<Index>& ends, std::vector<Index> axes,
                                 std::vector<Index> steps) {
  const auto rank = static_cast<Index>(data.size());
  if (ends.size() != starts.size())
    return op_error(node, "starts has " + std::to_string(starts.size()) + " values but ends has " +
                              std::to_string(ends.size()));
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<Index>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size())
    return op_error(node, "starts, ends, axes and steps must have the same length");
  SliceWindow window{std::vector<Index>(data.size(), 0), std::vector<Index>(data.size(), 1), data};
  std::set<Index> seen;
  for (size_t i = 0; i < starts.size(); ++i) {
    CANOPY_ASSIGN_OR_RETURN(Index axis, normalize_axis(node, axes[i], rank));
    if (!seen.insert(axis).second) return op_error(node, "axis " + std::to_string(axis) + " is sliced twice");
    if (steps[i] == 0) return op_error(node, "steps must not be 0");
    const auto a = static_cast<size_t>(axis);
    clamp_slice_axis(data[a], starts[i], ends[i], steps[i], window.starts[a], window.shape[a]);
    window.steps[a] = steps[i];
  }
  return window;
}

Status infer_slice(const Node& node, const std::vector<TensorInfo>& inputs,
                   std::vector<TensorInfo>& outputs) {
  if (node.opset < 10) return op_error(node, "Slice is supported from opset 10 (starts and ends as inputs)");
  CANOPY_TRY(require_inputs(node, inputs, 3));
  std::vector<std::vector<Index>> values(5);
  const char* names[] = {"data", "starts", "ends", "axes", "steps"};
  for (size_t i = 1; i < 5; ++i) {
    if (!has_input(inputs, i)) continue;
    CANOPY_ASSIGN_OR_RETURN(values[i], constant_ints(node, inputs[i], names[i]));
  }
  CANOPY_ASSIGN_OR_RETURN(SliceWindow window,
                          slice_window(node, inputs[0].shape, values[1], values[2], values[3], values[4]));
  outputs = {output_info(inputs[0].dtype, window.shape)};
  return {};
}

std::vector<Index> optional_ints(const std::vector<const Tensor*>& inputs, size_t i) {
  const Tensor* t = input_or_null(inputs, i);
  return t == nullptr ? std::vector<Index>{} : to_int64_vector(*t);
}

Status run_slice(const Node& node, const std::vector<const Tensor*>& inputs,
                 const std::vector<Tensor*>& outputs) {
  const Tensor& data = *inputs[0];
  CANOPY_ASSIGN_OR_RETURN(
      SliceWindow window,
      slice_window(node, data.shape(), to_int64_vector(*inputs[1]), to_int64_vector(*inputs[2]),
                   optional_ints(inputs, 3), optional_ints(inputs, 4)));
  const std::vector<Index> in_strides = strides_of(data.shape());
  Index base = 0;
  std::vector<Index> strides(in_strides.size());
  for (size_t d = 0; d < in_strides.size(); ++d) {
    base += window.starts[d] * in_strides[d];
    strides[d] = window.steps[d] * in_strides[d];
  }
  gather_strided(data, base, strides, *outputs[0]);
  return {};
}

// ---- Reshape, Flatten, Identity: same bytes, another shape ----

Result<Shape> reshape_target(const Node& node, const Shape& input, const std::vector<Index>& requested) {
  const bool allow_zero = node.attributes.get_int("allowzero", 0) != 0;
  Shape out(requested.size());
  std::optional<size_t> inferred;
  Index known = 1;
  for (size_t i = 0; i < requested.size(); ++i) {
    Index dim = requested[i];
    if (dim == -1) {
      if (inferred) return op_error(node, "shape " + shape_to_string(requested) + " has more than one -1");
      inferred = i;
      continue;
    }
    if (dim == 0 && !allow_zero) {
      // 0 means "keep the input's dimension here" unless allowzero asks for a literal 0.
      if (i >= input.size())
        return op_error(node, "shape " + shape_to_string(requested) + " copies dimension " +
                                  std::to_string(i) + " but the input " + shape_to_string(input) +
                                  " has no such dimension");
      dim = input[i];
    }
    if (dim < 0) return op_error(node, "shape " + shape_to_string(requested) + " has an invalid dimension");
    out[i] = dim;
    known *= dim;
  }
  const Index count = element_count(input);
  if (inferred) {
    if (known == 0 || count % known != 0)
      return op_error(node, "cannot infer the -1 in shape " + shape_to_string(requested) + " for input " +
                                shape_to_string(input));
    out[*inferred] = count / known;
  }
  if (element_count(out) != count)
    return op_error(node, "cannot reshape " + shape_to_string(input) + " (" + std::to_string(count) +
                              " elements) to " + shape_to_string(out));
  return out;
}

Status infer_reshape(const Node& node, const std::vector<TensorInfo>& inputs,
                     std::vector<TensorInfo>& outputs) {
  CANOPY_TRY(require_inputs(node, inputs, 2));
  CANOPY_ASSIGN_OR_RETURN(auto requested, constant_ints(node, inputs[1], "shape"));
  CANOPY_ASSIGN_OR_RETURN(Shape shape, reshape_target(node, inputs[0].shape, requested));
  outputs = {output_info(inputs[0].dtype, shape)};
  return {};
}

Status infer_flatten(const Node& node, const std::vector<TensorInfo>& inputs,
                     std::vector<TensorInfo>& outputs) {
  CANOPY_TRY(require_inputs(node, inputs, 1));
  const Shape& in = inputs[0].shape;
  const auto rank = static_cast<Index>(in.size());
  // Unlike most axes, Flatten's may equal the rank (everything goes to the first dimension).
  Index axis = node.attributes.get_int("axis", 1);
  if (axis < -rank || axis > rank)
    return op_error(node,
                    "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  const auto split = static_cast<size_t>(axis);
  outputs = {output_info(inputs[0].dtype, {product(in, 0, split), product(in, split, in.size())})};
  return {};
}

Status infer_identity(const Node& node, const std::vector<TensorInfo>& inputs,
                      std::vector<TensorInfo>& outputs) {
  CANOPY_TRY(require_inputs(node, inputs, 1));
  outputs = {output_info(inputs[0].dtype, inputs[0].shape)};
  return {};
}

Status run_copy(const Node&, const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) {
  copy_bytes(outputs[0]->raw(), inputs[0]->raw(), inputs[0]->size_bytes());
  return {};
}

// ---- Transpose ----

Result<std::vector<Index>> transpose_perm(const Node& node, Index rank) {
  std::vector<Index> perm = node.attributes.get_ints("perm");
  if (!node.attributes.has("perm"))
    for (Index d = rank; d-- > 0;) perm.push_back(d);
  if (static_cast<Index>(perm.size()) != rank)
    return op_error(node, "perm " + shape_to_string(perm) + " does not match rank " + std::to_string(rank));
  std::vector<bool> used(perm.size(), false);
  for (Index p : perm) {
    if (p < 0 || p >= rank || used[static_cast<size_t>(p)])
      return op_error(
          node, "perm " + shape_to_string(perm) + " is not a permutation of 0.." + std::to_string(rank - 1));
    used[static_cast<size_t>(p)] = true;
  }
  return perm;
}

Status infer_transpose(const Node& node, const std::vector<TensorInfo>& inputs,
                       std::vector<TensorInfo>& outputs) {
  CANOPY_TRY(require_inputs(node, inputs, 1));
  const Shape& in = inputs[0].shape;
  CANOPY_ASSIGN_OR_RETURN(auto perm, transpose_perm(node, static_cast<Index>(in.size())));
  Shape out(in.size());
  for (size_t i = 0; i < perm.size(); ++i) out[i] = in[static_cast<size_t>(perm[i])];
  outputs = {output_info(inputs[0].dtype, out)};
  return {};
}

Status run_transpose(const Node& node, const std::vector<const Tensor*>& inputs,
                     const std::vector<Tensor*>& outputs) {
  const Tensor& in = *inputs[0];
  CANOPY_ASSIGN_OR_RETURN(auto perm, transpose_perm(node, in.rank()));
  const std::vector<Index> in_strides = strides_of(in.shape());
  std::vector<Index> strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) strides[i] = in_strides[static_cast<size_t>(perm[i])];
  gather_strided(in, 0, strides, *outputs[0]);
  return {};
}

}  // namespace

void register_shape_ops(OpRegistry& registry) {
  constexpr int kAnyCount = std::numeric_limits<int>::max();
  registry.add(OpDefinition{"Concat", 1, kAnyCount, infer_concat, run_concat});
  registry.add(OpDefinition{"Split", 1, 2, infer_split, run_split});
  registry.add(OpDefinition{"Slice", 3, 5, infer_slice, run_slice});
  registry.add(OpDefinition{"Reshape", 2, 2, infer_reshape, run_copy});
  registry.add(OpDefinition{"Flatten", 1, 1, infer_flatten, run_copy});
  registry.add(OpDefinition{"Transpose", 1, 1, infer_transpose, run_transpose});
  registry.add(OpDefinition{"Identity", 1, 1, infer_identity, run_copy});
}

}  // namespace canopy::infer
