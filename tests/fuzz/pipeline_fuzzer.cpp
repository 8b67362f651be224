// libFuzzer target over pipeline files (docs/pipeline.md): parse_pipeline
// reads the YAML with yaml-cpp and checks steps, parameters, environment
// variables, dependencies (a DAG) and gates. A pipeline that parses then
// goes through what a run does before it starts anything: the step order,
// every parameter resolved from its default, each command, input and output
// rendered, and each gate evaluated against made-up metrics (no registry).
// No file is read and no process started. Any input must end in a value or
// an Error: never a crash, a leak or a hang. Run by the pipeline_fuzz test
// over tests/fuzz/corpus/pipeline/ (the pipelines in examples/ among them).
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/gates.h"
#include "pipeline/parameters.h"
#include "pipeline/pipeline.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  using namespace canopy::pipeline;
  auto pipeline =
      parse_pipeline(std::string_view(reinterpret_cast<const char*>(data), size), "pipeline.yaml");
  if (!pipeline.ok()) return 0;
  const std::vector<std::string> order = pipeline->topological_order();
  auto values = resolve_parameters(*pipeline, {}, order);
  if (!values.ok()) return 0;  // a parameter without a default: a run would need it given
  const std::filesystem::path workspace = "/workspace";
  for (const Step& step : pipeline->steps) {
    const ParameterValues& step_values = (*values)[step.name];
    for (const auto& command : step.commands) (void)render_command(command, step, step_values, workspace);
    for (const auto& path : step.inputs) (void)render_path(path, step, step_values, workspace);
    for (const auto& path : step.outputs) (void)render_path(path, step, step_values, workspace);
    (void)parameter_environment(step, step_values);
  }
  std::map<std::string, canopy::Json> metrics;
  for (const Gate& gate : pipeline->gates) {
    metrics[gate.step][gate.metric] = 1.0;
    if (!gate.other_step.empty()) metrics[gate.other_step][gate.other_metric] = 0.5;
  }
  for (auto& [step, values] : metrics) values = flatten_metrics(values);
  const RegistryLookup lookup = [](const std::string&,
                                   const std::string&) -> canopy::Result<std::optional<canopy::Json>> {
    return std::optional<canopy::Json>{};
  };
  for (const Gate& gate : pipeline->gates) (void)evaluate_gate(gate, metrics, *values, lookup);
  return 0;
}
