// An execution plan: the graph compiled for one set of input shapes. It
// holds every value's type and shape, a kernel per node chosen from the
// backends in order of preference, and each intermediate value's offset in
// one arena, so running allocates nothing. Values whose lifetimes do not
// overlap share memory.
// Thread-safety: immutable after build except the kernels, which a Context
// uses one run at a time (the engine gives each context its own plan).
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
  const Node* node = nullptr;
  std::unique_ptr<Kernel> kernel;
};

class Plan {
 public:
  // `backends` in order of preference; the reference backend is always the last resort.
  static Result<std::unique_ptr<Plan>> build(const Graph& graph, const std::vector<Shape>& input_shapes,
                                             const std::vector<Backend*>& backends);

  const Graph& graph() const { return *graph_; }
  const std::vector<TensorInfo>& infos() const { return infos_; }
  std::vector<PlanStep>& steps() { return steps_; }
  std::int64_t offset(int value) const { return offsets_[static_cast<size_t>(value)]; }
  size_t arena_bytes() const { return arena_bytes_; }
  const std::vector<Shape>& input_shapes() const { return input_shapes_; }
  // How many nodes each backend runs, e.g. {"onednn": 40, "reference": 2}.
  const std::map<std::string, int>& kernels_by_backend() const { return kernels_by_backend_; }

 private:
  Status infer_shapes(const std::vector<Shape>& input_shapes);
  Status choose_kernels(const std::vector<Backend*>& backends);
  void assign_memory();

  const Graph* graph_ = nullptr;
  std::vector<Shape> input_shapes_;
  std::vector<TensorInfo> infos_;
  std::vector<PlanStep> steps_;
  std::vector<std::int64_t> offsets_;
  size_t arena_bytes_ = 0;
  std::map<std::string, int> kernels_by_backend_;
};

}  // namespace canopy::infer
