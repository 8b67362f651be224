// An execution plan: the graph compiled for one set of input shapes. It
// holds every value's type, shape and layout, a kernel per node chosen from
// the backends in order of preference, and each intermediate value's offset
// in one arena, so running allocates nothing. Values whose lifetimes do not
// overlap share memory.
//
// Layouts: a backend may keep 4-D activations in NHWC between its kernels.
// Where such a value meets a reference kernel or leaves the graph, the plan
// adds a conversion step into an extra NCHW value, so reference operators and
// callers only ever see NCHW.
// Thread-safety: built once; a Context runs it one run at a time.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "infer/backend.h"
#include "infer/graph.h"

namespace canopy::infer {

struct PlanStep {
  const Node* node = nullptr;  // nullptr for a layout conversion
  std::vector<int> inputs;     // value indices (graph values, then the plan's extra values)
  std::vector<int> outputs;
  std::unique_ptr<Kernel> kernel;
};

class Plan {
 public:
  // `backends` in order of preference; the reference backend is always the last resort.
  // A value whose inferred shape holds more than `max_value_elements` is an error.
  static Result<std::unique_ptr<Plan>> build(const Graph& graph, const std::vector<Shape>& input_shapes,
                                             const std::vector<Backend*>& backends, std::uint64_t max_value_elements);

  const std::vector<TensorInfo>& infos() const { return infos_; }
  std::vector<PlanStep>& steps() { return steps_; }
  // The values holding the graph's outputs (in NCHW).
  const std::vector<int>& outputs() const { return outputs_; }
  std::int64_t offset(int value) const { return offsets_[static_cast<size_t>(value)]; }
  size_t arena_bytes() const { return arena_bytes_; }
  const std::vector<Shape>& input_shapes() const { return input_shapes_; }
  // How many steps each backend runs, e.g. {"onednn": 40, "reference": 2, "layout": 1}.
  const std::map<std::string, int>& kernels_by_backend() const { return kernels_by_backend_; }

 private:
  Status infer_shapes(const std::vector<Shape>& input_shapes, std::uint64_t max_value_elements);
  Status choose_kernels(const std::vector<Backend*>& backends);
  // The NCHW version of `value`, adding a conversion step the first time.
  int plain_version(int value);
  void assign_memory();

  const Graph* graph_ = nullptr;
  std::vector<Shape> input_shapes_;
  std::vector<TensorInfo> infos_;
  std::vector<PlanStep> steps_;
  std::vector<int> outputs_;
  std::map<int, int> plain_versions_;
  std::vector<std::int64_t> offsets_;
  size_t arena_bytes_ = 0;
  std::map<std::string, int> kernels_by_backend_;
};

}  // namespace canopy::infer
