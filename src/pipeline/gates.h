// Metrics and gates. A step's metrics file is JSON; its numbers, with nested
// keys joined by dots ("operating_point.precision"), are the step's metrics.
// A gate compares one of them with a number, a parameter, another step's
// metric, or a number from the registry's record of the version an alias
// names. A registry alias that does not exist yet, or a version without the
// number the gate reads (a model brought in without metrics), passes the gate
// (there is nothing to be worse than), and the gate says what it skipped.
// Thread-safety: stateless functions; the lookup is called on the caller's thread.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "common/error.h"
#include "common/json.h"
#include "pipeline/parameters.h"
#include "pipeline/pipeline.h"

namespace canopy::pipeline {

// Numbers of `metrics` by dotted key; other values are left out. At most 1000 entries.
Json flatten_metrics(const Json& metrics);

// The registry's version JSON for MODEL@ALIAS, or nullopt when there is none.
using RegistryLookup = std::function<Result<std::optional<Json>>(const std::string& model, const std::string& alias)>;

struct GateResult {
  bool passed = false;
  std::optional<double> left, right;
  std::string message;  // one line: the comparison with its numbers, or why it could not be made
  Json to_json(const Gate& gate) const;
};

// `metrics` holds each finished step's flattened metrics; `parameters` the
// run's parameter values by step. `lookup` may be empty when no gate needs it.
GateResult evaluate_gate(const Gate& gate, const std::map<std::string, Json>& metrics,
                         const std::map<std::string, ParameterValues>& parameters, const RegistryLookup& lookup);

}  // namespace canopy::pipeline
