// The inference engine's public face.
//
//   EngineOptions options;               // backend auto, 1 thread
//   auto engine = Engine::load("model.onnx", options);
//   auto outputs = (*engine)->run({input});            // thread-safe, outputs are copies
//   auto context = (*engine)->create_context();          // one per thread for concurrent runs
//   auto views = context->run({input});                  // no allocation; views live until the next run
//
// Loading reads and checks the ONNX file, optimizes the graph (constant
// folding, BatchNorm folding, activation and residual fusion) and compiles
// a plan for the declared input shapes (unknown dimensions default to 1).
// Inputs of other shapes (another batch size) compile and cache another plan.
// Thread-safety: Engine::run and create_context may be called from any
// thread; a Context must be used by one thread at a time.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "infer/backend.h"
#include "infer/graph.h"
#include "infer/onnx_loader.h"
#include "infer/plan.h"

namespace canopy::infer {

enum class BackendKind { kAuto, kReference, kOneDnn, kXnnpack };

Result<BackendKind> parse_backend(const std::string& name);
std::string_view backend_kind_name(BackendKind kind);

struct EngineOptions {
  BackendKind backend = BackendKind::kAuto;  // auto: oneDNN on x86-64, XNNPACK elsewhere
  int threads = 1;                           // worker threads inside each run
  LoadLimits limits;
};

struct TensorSpec {
  std::string name;
  DataType dtype = DataType::kFloat32;
  Shape shape;  // -1 for dimensions fixed only at run time
};

class Engine;

// Per-thread execution state: an arena and kernels for the last input shapes.
class Context {
 public:
  // Runs the model. The returned tensors view this context's arena and stay
  // valid until its next run.
  Result<std::vector<Tensor>> run(const std::vector<Tensor>& inputs);
  size_t arena_bytes() const { return arena_bytes_; }

 private:
  friend class Engine;
  explicit Context(const Engine& engine) : engine_(engine) {}
  Status prepare(const std::vector<Shape>& shapes);

  const Engine& engine_;
  std::unique_ptr<Plan> plan_;
  std::shared_ptr<void> arena_;
  size_t arena_bytes_ = 0;
  std::vector<Tensor> values_;
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> load(const std::filesystem::path& model, EngineOptions options = {});
  static Result<std::unique_ptr<Engine>> from_graph(Graph graph, EngineOptions options = {});

  // Thread-safe convenience: runs on an internal context and returns owned copies.
  Result<std::vector<Tensor>> run(const std::vector<Tensor>& inputs);
  std::unique_ptr<Context> create_context() const;

  const std::vector<TensorSpec>& inputs() const { return input_specs_; }
  const std::vector<TensorSpec>& outputs() const { return output_specs_; }
  BackendKind backend() const { return backend_kind_; }
  const Graph& graph() const { return graph_; }
  // Which backend runs how many nodes, for the plan of the declared input shapes.
  const std::map<std::string, int>& kernels_by_backend() const { return kernels_by_backend_; }

 private:
  friend class Context;
  Engine() = default;
  // The plan compiled at load when it fits `shapes` (each plan's kernels and
  // prepared weights belong to one context, so it is handed out once), or a new one.
  Result<std::unique_ptr<Plan>> take_or_build_plan(const std::vector<Shape>& shapes) const;
  Status choose_backends(BackendKind wanted);

  Graph graph_;
  EngineOptions options_;
  BackendKind backend_kind_ = BackendKind::kReference;
  std::vector<std::unique_ptr<Backend>> backends_;
  std::vector<TensorSpec> input_specs_, output_specs_;
  mutable std::mutex plan_mutex_;
  mutable std::unique_ptr<Plan> spare_plan_;  // guarded by plan_mutex_
  std::map<std::string, int> kernels_by_backend_;
  std::mutex run_mutex_;
  std::unique_ptr<Context> default_context_;  // created on the first Engine::run; guarded by run_mutex_
};

}  // namespace canopy::infer
