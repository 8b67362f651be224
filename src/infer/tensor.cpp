#include "infer/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace canopy::infer {

size_t element_size(DataType type) {
  switch (type) {
    case DataType::kFloat32: return 4;
    case DataType::kUInt8: return 1;
    case DataType::kInt8: return 1;
    case DataType::kInt32: return 4;
    case DataType::kInt64: return 8;
  }
  return 1;
}

std::string_view data_type_name(DataType type) {
  switch (type) {
    case DataType::kFloat32: return "float32";
    case DataType::kUInt8: return "uint8";
    case DataType::kInt8: return "int8";
    case DataType::kInt32: return "int32";
    case DataType::kInt64: return "int64";
  }
  return "unknown";
}

std::int64_t element_count(const Shape& shape) {
  std::int64_t count = 1;
  for (auto d : shape) count *= d;
  return count;
}

std::optional<std::uint64_t> bounded_element_count(const Shape& shape, std::uint64_t limit) {
  std::uint64_t count = 1;
  for (auto d : shape) {
    if (d < 0) return std::nullopt;
    if (d != 0 && count > limit / static_cast<std::uint64_t>(d)) return std::nullopt;
    count *= static_cast<std::uint64_t>(d);
  }
  return count;
}

std::string shape_to_string(const Shape& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

Tensor Tensor::allocate(DataType type, Shape shape) {
  Tensor t;
  t.dtype_ = type;
  t.shape_ = std::move(shape);
  size_t bytes = std::max<size_t>(64, (t.size_bytes() + 63) / 64 * 64);
  void* memory = std::aligned_alloc(64, bytes);
  if (memory == nullptr) throw std::bad_alloc();
  std::memset(memory, 0, bytes);
  t.owner_ = std::shared_ptr<void>(memory, std::free);
  t.data_ = memory;
  return t;
}

Tensor Tensor::view(DataType type, Shape shape, void* data) {
  Tensor t;
  t.dtype_ = type;
  t.shape_ = std::move(shape);
  t.data_ = data;
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = allocate(dtype_, shape_);
  if (size_bytes() > 0) std::memcpy(t.data_, data_, size_bytes());
  return t;
}

std::vector<std::int64_t> to_int64_vector(const Tensor& tensor) {
  std::vector<std::int64_t> out(static_cast<size_t>(tensor.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    switch (tensor.dtype()) {
      case DataType::kInt64: out[i] = tensor.data<std::int64_t>()[i]; break;
      case DataType::kInt32: out[i] = tensor.data<std::int32_t>()[i]; break;
      case DataType::kInt8: out[i] = tensor.data<std::int8_t>()[i]; break;
      case DataType::kUInt8: out[i] = tensor.data<std::uint8_t>()[i]; break;
      case DataType::kFloat32: out[i] = static_cast<std::int64_t>(tensor.data<float>()[i]); break;
    }
  }
  return out;
}

std::vector<float> to_float_vector(const Tensor& tensor) {
  std::vector<float> out(static_cast<size_t>(tensor.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    switch (tensor.dtype()) {
      case DataType::kFloat32: out[i] = tensor.data<float>()[i]; break;
      case DataType::kInt64: out[i] = static_cast<float>(tensor.data<std::int64_t>()[i]); break;
      case DataType::kInt32: out[i] = static_cast<float>(tensor.data<std::int32_t>()[i]); break;
      case DataType::kInt8: out[i] = tensor.data<std::int8_t>()[i]; break;
      case DataType::kUInt8: out[i] = tensor.data<std::uint8_t>()[i]; break;
    }
  }
  return out;
}

}  // namespace canopy::infer
