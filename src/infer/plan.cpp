#include "infer/plan.h"

#include "infer/shape_inference.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <set>

namespace canopy::infer {

namespace {

constexpr size_t kAlignment = 64;

size_t aligned(size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

// Logs each (backend, operator) fallback once per process.
void note_fallback(std::string_view backend, const Node& node) {
  static std::mutex mutex;
  static std::set<std::string> seen;
  std::lock_guard<std::mutex> lock(mutex);
  std::string key = std::string(backend) + "/" + node.op_type;
  if (seen.insert(key).second)
    spdlog::info("infer.fallback backend={} op={} node={} kernel=reference", backend, node.op_type, node.name);
}

}  // namespace

Result<std::unique_ptr<Plan>> Plan::build(const Graph& graph, const std::vector<Shape>& input_shapes,
                                          const std::vector<Backend*>& backends, std::uint64_t max_value_elements) {
  std::unique_ptr<Plan> plan(new Plan());
  plan->graph_ = &graph;
  plan->input_shapes_ = input_shapes;
  CANOPY_TRY(plan->infer_shapes(input_shapes, max_value_elements));
  CANOPY_TRY(plan->choose_kernels(backends));
  plan->assign_memory();
  return plan;
}

Status Plan::infer_shapes(const std::vector<Shape>& input_shapes, std::uint64_t max_value_elements) {
  CANOPY_ASSIGN_OR_RETURN(infos_, infer_value_infos(*graph_, input_shapes));
  // Shapes come from the model: a hostile one can make an intermediate value
  // (or its element count) overflow, so each one is bounded by the same limit
  // as the model's own tensors before any kernel or arena is sized from it.
  for (size_t v = 0; v < infos_.size(); ++v) {
    if (!bounded_element_count(infos_[v].shape, max_value_elements)) {
      return make_error(ErrorCode::kTooLarge, "value '" + graph_->values[v].name + "' would have shape " +
                                                  shape_to_string(infos_[v].shape) + ", more than " +
                                                  std::to_string(max_value_elements) + " elements");
    }
  }
  for (const auto& node : graph_->nodes) {
    for (const auto& post : node.post_ops) {
      if (post.kind != PostOp::Kind::kSum) continue;
      const auto& operand = infos_[static_cast<size_t>(node.inputs[static_cast<size_t>(post.sum_input)])];
      const auto& output = infos_[static_cast<size_t>(node.outputs[0])];
      if (operand.shape != output.shape)
        return make_error(ErrorCode::kInvalidArgument, node.op_type + " node '" + node.name +
                                                           "': the fused residual has shape " +
                                                           shape_to_string(operand.shape) + ", the output " +
                                                           shape_to_string(output.shape));
    }
  }
  return {};
}

Status Plan::choose_kernels(const std::vector<Backend*>& backends) {
  auto reference = make_reference_backend();
  auto missing = [] { return TensorInfo{false, DataType::kFloat32, {}, nullptr}; };
  // Nodes are visited in order, so every input's layout is final when its
  // consumers are planned.
  for (const auto& node : graph_->nodes) {
    std::vector<TensorInfo> in, out;
    for (int v : node.inputs) in.push_back(v >= 0 ? infos_[static_cast<size_t>(v)] : missing());
    for (int v : node.outputs) out.push_back(v >= 0 ? infos_[static_cast<size_t>(v)] : missing());
    std::unique_ptr<Kernel> kernel;
    for (Backend* backend : backends) {
      std::vector<TensorInfo> proposed = out;
      for (auto& info : proposed)
        if (info.present && info.shape.size() == 4) info.layout = backend->preferred_layout();
      CANOPY_ASSIGN_OR_RETURN(kernel, backend->create(node, in, proposed));
      if (kernel) {
        out = proposed;
        break;
      }
      note_fallback(backend->name(), node);
    }
    PlanStep step{&node, node.inputs, node.outputs, nullptr};
    if (!kernel) {
      // The reference operator reads NCHW only.
      for (auto& v : step.inputs)
        if (v >= 0 && infos_[static_cast<size_t>(v)].layout != Layout::kNchw) v = plain_version(v);
      for (size_t i = 0; i < step.inputs.size(); ++i)
        if (step.inputs[i] >= 0) in[i] = infos_[static_cast<size_t>(step.inputs[i])];
      CANOPY_ASSIGN_OR_RETURN(kernel, reference->create(node, in, out));
    }
    for (size_t i = 0; i < node.outputs.size(); ++i)
      if (node.outputs[i] >= 0) infos_[static_cast<size_t>(node.outputs[i])].layout = out[i].layout;
    ++kernels_by_backend_[std::string(kernel->backend())];
    step.kernel = std::move(kernel);
    steps_.push_back(std::move(step));
  }
  for (int v : graph_->outputs)
    outputs_.push_back(infos_[static_cast<size_t>(v)].layout == Layout::kNchw ? v : plain_version(v));
  return {};
}

int Plan::plain_version(int value) {
  if (auto it = plain_versions_.find(value); it != plain_versions_.end()) return it->second;
  TensorInfo plain = infos_[static_cast<size_t>(value)];
  const Layout from = plain.layout;
  plain.layout = Layout::kNchw;
  infos_.push_back(plain);
  const int converted = static_cast<int>(infos_.size()) - 1;
  plain_versions_[value] = converted;
  steps_.push_back(PlanStep{nullptr, {value}, {converted}, make_layout_conversion(from, Layout::kNchw)});
  ++kernels_by_backend_["layout"];
  return converted;
}

void Plan::assign_memory() {
  const size_t count = infos_.size();
  offsets_.assign(count, -1);
  // Lifetime of each step-produced value: [producing step, last reading step].
  std::vector<int> first(count, -1), last(count, -1);
  for (size_t s = 0; s < steps_.size(); ++s) {
    for (int v : steps_[s].outputs)
      if (v >= 0) first[static_cast<size_t>(v)] = last[static_cast<size_t>(v)] = static_cast<int>(s);
    for (int v : steps_[s].inputs)
      if (v >= 0 && first[static_cast<size_t>(v)] >= 0) last[static_cast<size_t>(v)] = static_cast<int>(s);
  }
  for (int v : outputs_)
    if (first[static_cast<size_t>(v)] >= 0) last[static_cast<size_t>(v)] = static_cast<int>(steps_.size());
  std::vector<int> order;
  for (size_t v = 0; v < count; ++v)
    if (first[v] >= 0) order.push_back(static_cast<int>(v));
  auto size_of = [&](int v) {
    const auto& info = infos_[static_cast<size_t>(v)];
    return aligned(static_cast<size_t>(element_count(info.shape)) * element_size(info.dtype));
  };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return size_of(a) > size_of(b); });
  // Greedy by size: each value takes the lowest gap among the values already
  // placed whose lifetimes overlap its own.
  std::vector<int> placed;
  for (int v : order) {
    const size_t vi = static_cast<size_t>(v);
    std::vector<std::pair<size_t, size_t>> busy;
    for (int p : placed) {
      const size_t pi = static_cast<size_t>(p);
      if (first[pi] <= last[vi] && first[vi] <= last[pi])
        busy.emplace_back(static_cast<size_t>(offsets_[pi]), static_cast<size_t>(offsets_[pi]) + size_of(p));
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    const size_t size = size_of(v);
    for (const auto& [begin, end] : busy) {
      if (offset + size <= begin) break;
      offset = std::max(offset, end);
    }
    offsets_[vi] = static_cast<std::int64_t>(offset);
    arena_bytes_ = std::max(arena_bytes_, offset + size);
    placed.push_back(v);
  }
}

}  // namespace canopy::infer
