#include "train/compression_report.h"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>

#include "common/files.h"
#include "infer/onnx_builder.h"
#include "infer/onnx_loader.h"
#include "infer/shape_inference.h"
#include "package/package.h"
#include "train/evaluate.h"

namespace canopy::train {

namespace {

namespace fs = std::filesystem;
using infer::Tensor;

// Parameters and FLOPs of the optimized graph's convolutions, int8 or float.
void count_convolutions(const infer::Graph& graph, ModelFigures& figures) {
  auto infos = infer::infer_value_infos(graph, infer::default_input_shapes(graph));
  for (const auto& node : graph.nodes) {
    const bool int8 = node.op_type == "QLinearConv";
    if (node.op_type != "Conv" && !int8) continue;
    const Tensor* weights = graph.constant(node.inputs[int8 ? 3 : 1]);
    if (weights == nullptr) continue;
    figures.parameters += weights->numel();
    const int bias = node.input(int8 ? 8 : 2);
    if (bias >= 0 && graph.constant(bias) != nullptr) figures.parameters += graph.constant(bias)->numel();
    if (!infos.ok()) continue;
    const auto& out = (*infos)[static_cast<size_t>(node.outputs[0])].shape;
    if (out.size() == 4) figures.gflops += 2.0 * static_cast<double>(weights->numel()) * static_cast<double>(out[2] * out[3]) / 1e9;
  }
}

std::string ratio(double value, double reference) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2fx", reference > 0 ? value / reference : 0.0);
  return text;
}

}  // namespace

Result<ModelFigures> measure_model(const std::string& variant, const fs::path& onnx_file,
                                   const package::Manifest& manifest, const vision::Dataset& validation,
                                   const MeasureOptions& options) {
  ModelFigures figures;
  figures.variant = variant;
  std::error_code ec;
  figures.file_bytes = fs::file_size(onnx_file, ec);
  if (ec) return Error{ErrorCode::kNotFound, "cannot read " + onnx_file.string() + ": " + ec.message()};
  CANOPY_ASSIGN_OR_RETURN(auto engine, infer::Engine::load(onnx_file, options.engine));
  count_convolutions(engine->graph(), figures);
  for (const auto& [value, tensor] : engine->graph().constants) figures.memory_bytes += tensor.size_bytes();
  auto context = engine->create_context();
  const auto& spec = engine->inputs()[0];
  infer::Shape shape = spec.shape;
  for (auto& d : shape) d = std::max<std::int64_t>(d, 1);
  const Tensor input = infer::random_tensor(spec.dtype, shape, 7, 0.0f, 1.0f);
  std::vector<double> times;
  for (int run = 0; run < options.warmup_runs + options.timed_runs; ++run) {
    const auto start = std::chrono::steady_clock::now();
    auto outputs = context->run({input});
    if (!outputs.ok()) return outputs.error();
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
    if (run >= options.warmup_runs) times.push_back(took.count());
  }
  std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2), times.end());
  figures.latency_ms = times[times.size() / 2];
  figures.memory_bytes += context->arena_bytes();
  EvalOptions eval;
  eval.engine = options.engine;
  eval.show_progress = false;
  CANOPY_ASSIGN_OR_RETURN(figures.accuracy, evaluate_with_manifest(onnx_file, manifest, validation, eval));
  return figures;
}

Json report_json(const std::vector<ModelFigures>& models, const std::vector<std::string>& labels) {
  Json list = Json::array();
  const ModelFigures* original = models.empty() ? nullptr : &models.front();
  for (const ModelFigures& m : models) {
    Json per_class = Json::object();
    for (size_t c = 0; c < labels.size() && c < m.accuracy.classes.size(); ++c)
      per_class[labels[c]] = m.accuracy.classes[c].ap50 ? Json(*m.accuracy.classes[c].ap50) : Json();
    Json entry{{"variant", m.variant},
               {"parameters", m.parameters},
               {"file_bytes", m.file_bytes},
               {"gflops", m.gflops},
               {"latency_ms", m.latency_ms},
               {"memory_bytes", m.memory_bytes},
               {"map50", m.accuracy.map50.value_or(0.0)},
               {"map50_95", m.accuracy.map50_95.value_or(0.0)},
               {"ap50_per_class", per_class}};
    if (original != nullptr) {
      entry["file_ratio"] = original->file_bytes ? double(m.file_bytes) / double(original->file_bytes) : 0.0;
      entry["latency_ratio"] = original->latency_ms > 0 ? m.latency_ms / original->latency_ms : 0.0;
      entry["map50_drop"] = original->accuracy.map50.value_or(0.0) - m.accuracy.map50.value_or(0.0);
    }
    list.push_back(entry);
  }
  Json report{{"models", list}, {"labels", labels}};
  // The compressed model's figures under a fixed key, for pipeline gates
  // ("compress.compressed.map50_drop <= 0.01").
  if (list.size() > 1) report["compressed"] = list.back();
  return report;
}

void print_report(const std::vector<ModelFigures>& models, const std::vector<std::string>& labels) {
  if (models.empty()) return;
  const ModelFigures& o = models.front();
  std::printf("%-10s %10s %10s %7s %10s %9s %8s %8s", "model", "params", "file", "GFLOPs", "latency", "memory",
              "mAP50", "mAP50-95");
  for (const auto& label : labels) std::printf(" %14.14s", label.c_str());
  std::printf("\n");
  for (const ModelFigures& m : models) {
    std::printf("%-10s %10lld %9.2fM %7.3f %8.2fms %8.1fM %8.4f %8.4f", m.variant.c_str(),
                static_cast<long long>(m.parameters), double(m.file_bytes) / 1e6, m.gflops, m.latency_ms,
                double(m.memory_bytes) / 1e6, m.accuracy.map50.value_or(0.0), m.accuracy.map50_95.value_or(0.0));
    for (size_t c = 0; c < labels.size() && c < m.accuracy.classes.size(); ++c)
      std::printf(" %14.4f", m.accuracy.classes[c].ap50.value_or(0.0));
    std::printf("\n");
    if (&m != &o)
      std::printf("%-10s %10s %10s %7s %10s %9s %+8.4f\n", "", "", ratio(double(m.file_bytes), double(o.file_bytes)).c_str(),
                  ratio(m.gflops, o.gflops).c_str(), ratio(m.latency_ms, o.latency_ms).c_str(), "",
                  m.accuracy.map50.value_or(0.0) - o.accuracy.map50.value_or(0.0));
  }
}

Status write_derived_package(const fs::path& source_dir, const std::string& onnx_model, const fs::path& out_dir,
                             const Json& metrics, const Json& lineage) {
  CANOPY_ASSIGN_OR_RETURN(std::string manifest_bytes, read_file(source_dir / package::kManifestName));
  CANOPY_ASSIGN_OR_RETURN(package::Manifest source, package::parse_manifest(manifest_bytes));
  if (fs::exists(out_dir / package::kManifestName))
    return Error{ErrorCode::kAlreadyExists, out_dir.string() + " already holds a package"};
  std::error_code ec;
  fs::create_directories(out_dir / "golden", ec);
  if (ec) return Error{ErrorCode::kIo, "cannot create " + out_dir.string() + ": " + ec.message()};
  CANOPY_TRY(write_file_atomic(out_dir / "model.onnx", onnx_model));

  // Golden outputs come from the new model; the tolerance covers what each
  // backend computes differently (int8 rounding can move a value a step).
  std::vector<std::unique_ptr<infer::Engine>> engines;
  for (auto backend : {infer::BackendKind::kReference, infer::BackendKind::kOneDnn, infer::BackendKind::kXnnpack}) {
    infer::EngineOptions options;
    options.backend = backend;
    auto engine = infer::Engine::load(out_dir / "model.onnx", options);
    if (engine.ok()) engines.push_back(std::move(*engine));
    else if (backend == infer::BackendKind::kReference) return engine.error();
  }
  package::InitOptions init;
  init.directory = out_dir;
  init.model = out_dir / "model.onnx";
  init.name = source.name;
  init.labels = source.labels;
  init.input_shape = source.input.shape;
  double spread = 0;
  for (size_t k = 0; k < source.golden.size(); ++k) {
    CANOPY_ASSIGN_OR_RETURN(std::string golden_bytes, read_file(source_dir / source.golden[k].input));
    CANOPY_ASSIGN_OR_RETURN(Tensor input, infer::load_tensor_proto(golden_bytes));
    CANOPY_ASSIGN_OR_RETURN(auto expected, engines.front()->run({input}));
    for (size_t e = 1; e < engines.size(); ++e) {
      CANOPY_ASSIGN_OR_RETURN(auto other, engines[e]->run({input}));
      const auto a = infer::to_float_vector(expected[0]), b = infer::to_float_vector(other[0]);
      for (size_t i = 0; i < a.size() && i < b.size(); ++i) spread = std::max(spread, double(std::fabs(a[i] - b[i])));
    }
    const fs::path in = out_dir / "golden" / ("input_" + std::to_string(k) + ".pb");
    const fs::path out = out_dir / "golden" / ("output_" + std::to_string(k) + ".pb");
    CANOPY_TRY(write_file_atomic(in, infer::to_tensor_proto(in.stem().string(), input).SerializeAsString()));
    CANOPY_TRY(write_file_atomic(out, infer::to_tensor_proto(out.stem().string(), expected[0]).SerializeAsString()));
    init.golden.emplace_back(in, out);
  }
  CANOPY_ASSIGN_OR_RETURN(package::Manifest manifest, package::init_package(init));
  manifest.description = source.description;
  manifest.tags = source.tags;
  manifest.input = source.input;
  manifest.output = source.output;
  manifest.thresholds = source.thresholds;
  manifest.metrics = metrics;
  manifest.lineage = lineage;
  manifest.lineage["parent_package"] = fs::absolute(source_dir).string();
  const double tolerance = std::max(1e-2, 2 * spread);
  for (package::GoldenSample& golden : manifest.golden) golden.tolerance = tolerance;
  return write_file_atomic(out_dir / package::kManifestName, package::serialize_manifest(manifest));
}

}  // namespace canopy::train
