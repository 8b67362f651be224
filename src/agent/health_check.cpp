#include "agent/health_check.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "common/files.h"
#include "infer/onnx_loader.h"
#include "package/package.h"

namespace canopy::agent {

namespace {

Error unhealthy(const std::string& message) { return make_error(ErrorCode::kCorrupt, message); }

Result<infer::Tensor> read_tensor(const std::filesystem::path& directory, const std::string& relative,
                                  const infer::LoadLimits& limits) {
  CANOPY_ASSIGN_OR_RETURN(std::string bytes, read_file(directory / relative));
  auto tensor = infer::load_tensor_proto(bytes, limits);
  if (!tensor.ok()) return tensor.error().with_context("golden sample " + relative);
  return tensor;
}

Status compare(const infer::Tensor& actual, const infer::Tensor& expected, double tolerance,
               const std::string& sample) {
  if (actual.shape() != expected.shape())
    return unhealthy("golden sample " + sample + ": output shape " + infer::shape_to_string(actual.shape()) +
                     ", expected " + infer::shape_to_string(expected.shape()));
  const std::vector<float> got = infer::to_float_vector(actual);
  const std::vector<float> want = infer::to_float_vector(expected);
  for (size_t i = 0; i < got.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(got[i]) - static_cast<double>(want[i]));
    if (!(diff <= tolerance))  // also catches NaN
      return unhealthy("golden sample " + sample + ": element " + std::to_string(i) + " is " +
                       std::to_string(got[i]) + ", expected " + std::to_string(want[i]) + " (tolerance " +
                       std::to_string(tolerance) + ")");
  }
  return {};
}

// An all-zero input of the model's declared shape, for timing a model that
// has no golden samples. Dimensions fixed only at run time take the
// manifest's input shape where the ranks agree, else 1.
infer::Tensor zero_input(const infer::TensorSpec& spec, const package::Manifest& manifest) {
  infer::Shape shape = spec.shape;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] < 0) shape[i] = shape.size() == manifest.input.shape.size() ? manifest.input.shape[i] : 1;
  return infer::Tensor::allocate(spec.dtype, shape);
}

}  // namespace

Result<std::unique_ptr<LoadedModel>> check_model(const std::filesystem::path& directory,
                                                 const PackageRef& ref, const HealthOptions& options) {
  auto model = std::make_unique<LoadedModel>();
  model->ref = ref;
  model->directory = directory;
  package::VerifyOptions files;
  files.trusted_keys = options.trusted_keys;
  files.display_name = "slot " + directory.filename().string();
  auto intact = package::verify_extracted(directory, files);
  if (!intact.ok()) return unhealthy("damaged on disk: " + intact.error().message);
  model->manifest = std::move(intact->manifest);
  const std::filesystem::path model_file = directory / model->manifest.model_file().path;
  auto engine = infer::Engine::load(model_file, options.engine);
  if (!engine.ok()) return unhealthy("the model does not load: " + engine.error().message);
  model->engine = std::move(*engine);
  const infer::Engine& loaded = *model->engine;
  if (loaded.inputs().size() != 1)
    return unhealthy("the model has " + std::to_string(loaded.inputs().size()) +
                     " inputs; a detector takes exactly one");

  std::unique_ptr<infer::Context> context = loaded.create_context();
  std::vector<infer::Tensor> timing_input;
  for (const package::GoldenSample& sample : model->manifest.golden) {
    CANOPY_ASSIGN_OR_RETURN(infer::Tensor input, read_tensor(directory, sample.input, options.engine.limits));
    CANOPY_ASSIGN_OR_RETURN(infer::Tensor expected,
                            read_tensor(directory, sample.output, options.engine.limits));
    auto outputs = context->run({input});
    if (!outputs.ok()) return unhealthy("golden sample " + sample.input + ": " + outputs.error().message);
    if (outputs->empty()) return unhealthy("the model produced no output");
    // A golden output is the model's first output, as canopy-train exports it.
    CANOPY_TRY(compare(outputs->front(), expected, sample.tolerance, sample.output));
    if (timing_input.empty()) timing_input.push_back(std::move(input));
  }
  if (timing_input.empty()) timing_input.push_back(zero_input(loaded.inputs().front(), model->manifest));

  // Latency is the CPU's real work: measured in real time, whatever clock the agent follows.
  std::vector<double> times_ms;
  for (int run = 0; run <= std::max(1, options.latency_runs); ++run) {
    const auto start = std::chrono::steady_clock::now();
    auto outputs = context->run(timing_input);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (!outputs.ok()) return unhealthy("inference failed: " + outputs.error().message);
    if (run > 0) times_ms.push_back(std::chrono::duration<double, std::milli>(elapsed).count());
  }
  std::nth_element(times_ms.begin(), times_ms.begin() + static_cast<long>(times_ms.size() / 2),
                   times_ms.end());
  const double median_ms = times_ms[times_ms.size() / 2];
  std::error_code ec;
  const std::uint64_t memory_bytes = std::filesystem::file_size(model_file, ec) + context->arena_bytes();
  spdlog::info("agent.health model={} latency_ms={:.3f} memory_bytes={} golden={}", ref.model.label(),
               median_ms, memory_bytes, model->manifest.golden.size());

  const package::Budgets& budgets = model->manifest.budgets;
  if (budgets.latency_ms > 0 && median_ms > budgets.latency_ms)
    return unhealthy("too slow: a run takes " + std::to_string(median_ms) + " ms, the latency budget is " +
                     std::to_string(budgets.latency_ms) + " ms");
  if (budgets.memory_bytes > 0 && memory_bytes > budgets.memory_bytes)
    return unhealthy("needs " + format_bytes(memory_bytes) + " of memory, the budget is " +
                     format_bytes(budgets.memory_bytes));
  return model;
}

}  // namespace canopy::agent
