// Tensors of the inference engine: a data type, a shape and a pointer to
// contiguous row-major (C-order) elements. A tensor either owns its memory
// (allocate) or borrows it (view: inputs from callers, slices of the arena).
// Thread-safety: a Tensor is a value; sharing one across threads that write
// it is the caller's business.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace canopy::infer {

enum class DataType { kFloat32, kUInt8, kInt8, kInt32, kInt64 };

size_t element_size(DataType type);
std::string_view data_type_name(DataType type);

using Shape = std::vector<std::int64_t>;

// Number of elements; 1 for a scalar (empty shape).
std::int64_t element_count(const Shape& shape);
// The element count of a shape that comes from untrusted input: nothing when
// a dimension is negative or the count exceeds `limit` (checked before every
// multiplication, so it cannot overflow on the way).
std::optional<std::uint64_t> bounded_element_count(const Shape& shape, std::uint64_t limit);
std::string shape_to_string(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  // Owns zero-initialised memory, 64-byte aligned.
  static Tensor allocate(DataType type, Shape shape);
  // Borrows `data`, which must outlive every use of the view.
  static Tensor view(DataType type, Shape shape, void* data);

  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  std::int64_t rank() const { return static_cast<std::int64_t>(shape_.size()); }
  std::int64_t dim(std::int64_t axis) const { return shape_[static_cast<size_t>(axis)]; }
  std::int64_t numel() const { return element_count(shape_); }
  size_t size_bytes() const { return static_cast<size_t>(numel()) * element_size(dtype_); }
  bool empty() const { return data_ == nullptr && numel() != 0; }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <typename T>
  T* data() { return static_cast<T*>(data_); }
  template <typename T>
  const T* data() const { return static_cast<const T*>(data_); }

  // Same memory, another shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // A deep copy that owns its memory.
  Tensor clone() const;

 private:
  DataType dtype_ = DataType::kFloat32;
  Shape shape_;
  void* data_ = nullptr;
  std::shared_ptr<void> owner_;
};

// Converts a constant tensor of any integer type to int64 values (shape
// inputs of Reshape, Slice, Resize ...).
std::vector<std::int64_t> to_int64_vector(const Tensor& tensor);
std::vector<float> to_float_vector(const Tensor& tensor);

}  // namespace canopy::infer
