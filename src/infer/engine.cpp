#include "infer/engine.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>

#include "infer/passes.h"
#include "infer/shape_inference.h"

namespace canopy::infer {

Result<BackendKind> parse_backend(const std::string& name) {
  if (name == "auto") return BackendKind::kAuto;
  if (name == "reference") return BackendKind::kReference;
  if (name == "onednn") return BackendKind::kOneDnn;
  if (name == "xnnpack") return BackendKind::kXnnpack;
  return make_error(ErrorCode::kInvalidArgument,
                    "backend '" + name + "' is not one of auto, onednn, xnnpack, reference");
}

std::string_view backend_kind_name(BackendKind kind) {
  switch (kind) {
    case BackendKind::kAuto: return "auto";
    case BackendKind::kReference: return "reference";
    case BackendKind::kOneDnn: return "onednn";
    case BackendKind::kXnnpack: return "xnnpack";
  }
  return "auto";
}

Result<std::unique_ptr<Engine>> Engine::load(const std::filesystem::path& model, EngineOptions options) {
  CANOPY_ASSIGN_OR_RETURN(Graph graph, load_onnx_file(model, options.limits));
  auto engine = from_graph(std::move(graph), options);
  if (!engine.ok()) return engine.error().with_context(model.string());
  return engine;
}

Result<std::unique_ptr<Engine>> Engine::from_graph(Graph graph, EngineOptions options) {
  if (options.threads < 1) return make_error(ErrorCode::kInvalidArgument, "threads must be at least 1");
  std::unique_ptr<Engine> engine(new Engine());
  engine->options_ = options;
  engine->graph_ = std::move(graph);
  CANOPY_TRY(optimize_graph(engine->graph_));
  CANOPY_TRY(engine->choose_backends(options.backend));
  for (int v : engine->graph_.inputs) {
    const Value& value = engine->graph_.values[static_cast<size_t>(v)];
    engine->input_specs_.push_back(TensorSpec{value.name, value.dtype, value.shape});
  }
  for (int v : engine->graph_.outputs) {
    const Value& value = engine->graph_.values[static_cast<size_t>(v)];
    engine->output_specs_.push_back(TensorSpec{value.name, value.dtype, value.shape});
  }
  // Compile the declared shapes now, so a broken model fails at load, not at
  // the first frame; the first context created will use this plan.
  CANOPY_ASSIGN_OR_RETURN(engine->spare_plan_, engine->take_or_build_plan(default_input_shapes(engine->graph_)));
  engine->kernels_by_backend_ = engine->spare_plan_->kernels_by_backend();
  spdlog::info("infer.loaded nodes={} backend={} arena_bytes={}", engine->graph_.nodes.size(),
               backend_kind_name(engine->backend_kind_), engine->spare_plan_->arena_bytes());
  return engine;
}

Status Engine::choose_backends(BackendKind wanted) {
#if defined(__x86_64__)
  const BackendKind automatic = BackendKind::kOneDnn;
#else
  const BackendKind automatic = BackendKind::kXnnpack;
#endif
  backend_kind_ = wanted == BackendKind::kAuto ? automatic : wanted;
  switch (backend_kind_) {
    case BackendKind::kOneDnn:
#if defined(__x86_64__)
      backends_.push_back(make_onednn_backend(options_.threads));
      break;
#else
      return make_error(ErrorCode::kInvalidArgument, "the oneDNN backend is only built for x86-64; use xnnpack");
#endif
    case BackendKind::kXnnpack:
      backends_.push_back(make_xnnpack_backend(options_.threads));
      break;
    case BackendKind::kReference:
    case BackendKind::kAuto:
      break;
  }
  return {};
}

std::unique_ptr<Context> Engine::create_context() const { return std::unique_ptr<Context>(new Context(*this)); }

Result<std::unique_ptr<Plan>> Engine::take_or_build_plan(const std::vector<Shape>& shapes) const {
  std::lock_guard<std::mutex> lock(plan_mutex_);
  if (spare_plan_ && spare_plan_->input_shapes() == shapes) return std::move(spare_plan_);
  std::vector<Backend*> backends;
  for (const auto& b : backends_) backends.push_back(b.get());
  return Plan::build(graph_, shapes, backends, options_.limits.max_tensor_elements);
}

Result<std::vector<Tensor>> Engine::run(const std::vector<Tensor>& inputs) {
  std::lock_guard<std::mutex> lock(run_mutex_);
  if (!default_context_) default_context_ = create_context();
  CANOPY_ASSIGN_OR_RETURN(std::vector<Tensor> views, default_context_->run(inputs));
  std::vector<Tensor> owned;
  for (const auto& v : views) owned.push_back(v.clone());
  return owned;
}

Status Context::prepare(const std::vector<Shape>& shapes) {
  if (plan_ && plan_->input_shapes() == shapes) return {};
  CANOPY_ASSIGN_OR_RETURN(plan_, engine_.take_or_build_plan(shapes));
  if (plan_->arena_bytes() > arena_bytes_ || !arena_) {
    arena_bytes_ = std::max<size_t>(plan_->arena_bytes(), 64);
    void* memory = std::aligned_alloc(64, arena_bytes_);
    if (memory == nullptr) return make_error(ErrorCode::kInternal, "cannot allocate the inference arena");
    arena_ = std::shared_ptr<void>(memory, std::free);
  }
  const Graph& g = engine_.graph_;
  const size_t count = plan_->infos().size();
  values_.assign(count, Tensor());
  for (const auto& [value, tensor] : g.constants) values_[static_cast<size_t>(value)] = tensor;
  for (size_t v = 0; v < count; ++v) {
    const std::int64_t offset = plan_->offset(static_cast<int>(v));
    if (offset < 0) continue;
    const auto& info = plan_->infos()[v];
    values_[v] = Tensor::view(info.dtype, info.shape, static_cast<char*>(arena_.get()) + offset);
  }
  return {};
}

Result<std::vector<Tensor>> Context::run(const std::vector<Tensor>& inputs) {
  const auto& specs = engine_.input_specs_;
  if (inputs.size() != specs.size())
    return make_error(ErrorCode::kInvalidArgument, "the model takes " + std::to_string(specs.size()) +
                                                       " inputs, got " + std::to_string(inputs.size()));
  std::vector<Shape> shapes;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorSpec& spec = specs[i];
    if (inputs[i].dtype() != spec.dtype)
      return make_error(ErrorCode::kInvalidArgument, "input '" + spec.name + "' must be " +
                                                         std::string(data_type_name(spec.dtype)) + ", got " +
                                                         std::string(data_type_name(inputs[i].dtype())));
    bool fits = inputs[i].rank() == static_cast<std::int64_t>(spec.shape.size());
    for (size_t d = 0; fits && d < spec.shape.size(); ++d)
      if (spec.shape[d] >= 0 && spec.shape[d] != inputs[i].shape()[d]) fits = false;
    if (!fits)
      return make_error(ErrorCode::kInvalidArgument, "input '" + spec.name + "' has shape " +
                                                         shape_to_string(inputs[i].shape()) + ", the model expects " +
                                                         shape_to_string(spec.shape));
    shapes.push_back(inputs[i].shape());
  }
  CANOPY_TRY(prepare(shapes));
  const Graph& g = engine_.graph_;
  for (size_t i = 0; i < inputs.size(); ++i)
    values_[static_cast<size_t>(g.inputs[i])] =
        Tensor::view(inputs[i].dtype(), inputs[i].shape(), const_cast<void*>(inputs[i].raw()));
  std::vector<const Tensor*> in;
  std::vector<Tensor*> out;
  for (auto& step : plan_->steps()) {
    in.clear();
    out.clear();
    for (int v : step.inputs) in.push_back(v >= 0 ? &values_[static_cast<size_t>(v)] : nullptr);
    for (int v : step.outputs) out.push_back(v >= 0 ? &values_[static_cast<size_t>(v)] : nullptr);
    CANOPY_TRY(step.kernel->run(in, out));  // operator errors already name their node
    if (step.node != nullptr && !step.node->post_ops.empty() && !step.kernel->fuses_post_ops())
      apply_post_ops(*step.node, in, *out[0]);
  }
  std::vector<Tensor> result;
  for (int v : plan_->outputs()) result.push_back(values_[static_cast<size_t>(v)]);
  return result;
}

}  // namespace canopy::infer
