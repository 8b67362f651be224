#include "pipeline/gates.h"

#include <cmath>
#include <cstdlib>

namespace canopy::pipeline {

namespace {

constexpr size_t kMaxMetrics = 1000;

void flatten_into(const Json& value, const std::string& prefix, Json& out) {
  if (out.size() >= kMaxMetrics) return;
  if (value.is_number()) {
    out[prefix] = value;
  } else if (value.is_object()) {
    for (const auto& [key, item] : value.items())
      flatten_into(item, prefix.empty() ? key : prefix + "." + key, out);
  }
}

std::string number_text(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return buf;
}

Result<double> metric_of(const std::map<std::string, Json>& metrics, const std::string& step,
                         const std::string& metric) {
  auto it = metrics.find(step);
  if (it == metrics.end()) return make_error(ErrorCode::kNotFound, "step '" + step + "' has no metrics");
  auto value = it->second.find(metric);
  if (value == it->second.end() || !value->is_number())
    return make_error(ErrorCode::kNotFound, "step '" + step + "' recorded no metric '" + metric + "'");
  return value->get<double>();
}

Result<double> path_number(const Json& json, const std::string& path) {
  const Json* node = &json;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    if (dot == std::string::npos) dot = path.size();
    const std::string key = path.substr(start, dot - start);
    if (!node->is_object() || !node->contains(key))
      return make_error(ErrorCode::kNotFound, "has no '" + path + "'");
    node = &(*node)[key];
    start = dot + 1;
  }
  if (!node->is_number()) return make_error(ErrorCode::kInvalidArgument, "'" + path + "' is not a number");
  return node->get<double>();
}

}  // namespace

Json flatten_metrics(const Json& metrics) {
  Json out = Json::object();
  flatten_into(metrics, "", out);
  return out;
}

Json GateResult::to_json(const Gate& gate) const {
  return {{"gate", gate.expression},
          {"status", passed ? "passed" : "failed"},
          {"left", left ? Json(*left) : Json(nullptr)},
          {"right", right ? Json(*right) : Json(nullptr)},
          {"message", message}};
}

GateResult evaluate_gate(const Gate& gate, const std::map<std::string, Json>& metrics,
                         const std::map<std::string, ParameterValues>& parameters,
                         const RegistryLookup& lookup) {
  GateResult result;
  auto left = metric_of(metrics, gate.step, gate.metric);
  if (!left.ok()) {
    result.message = left.error().message;
    return result;
  }
  result.left = *left;
  const std::string left_text = gate.step + "." + gate.metric + " = " + number_text(*left);
  // A parameter of the gate's step as a number.
  auto parameter_number = [&](const std::string& name) -> Result<double> {
    auto step = parameters.find(gate.step);
    auto value = step == parameters.end() ? ParameterValues::const_iterator() : step->second.find(name);
    if (step == parameters.end() || value == step->second.end())
      return make_error(ErrorCode::kInvalidArgument,
                        "parameter '" + name + "' of step '" + gate.step + "' has no value");
    char* end = nullptr;
    const double number = std::strtod(value->second.c_str(), &end);
    if (value->second.empty() || *end != '\0')
      return make_error(ErrorCode::kInvalidArgument,
                        "parameter '" + name + "' = '" + value->second + "' is not a number");
    return number;
  };
  double right = 0;
  std::string right_text;
  switch (gate.kind) {
    case Gate::Kind::kNumber:
      right = gate.number;
      right_text = number_text(right);
      break;
    case Gate::Kind::kParameter: {
      auto value = parameter_number(gate.parameter);
      if (!value.ok()) {
        result.message = value.error().message;
        return result;
      }
      right = *value;
      right_text = "{" + gate.parameter + "} = " + number_text(right);
      break;
    }
    case Gate::Kind::kStepMetric: {
      auto other = metric_of(metrics, gate.other_step, gate.other_metric);
      if (!other.ok()) {
        result.message = other.error().message;
        return result;
      }
      right = *other;
      right_text = gate.other_step + "." + gate.other_metric + " = " + number_text(right);
      break;
    }
    case Gate::Kind::kRegistry: {
      const std::string ref = gate.model + "@" + gate.alias;
      if (!lookup) {
        result.message = "needs the registry to read " + ref + "; set CANOPY_SERVER or pass --server";
        return result;
      }
      auto version = lookup(gate.model, gate.alias);
      if (!version.ok()) {
        result.message = "cannot read " + ref + " from the registry: " + version.error().message;
        return result;
      }
      if (!*version) {
        result.passed = true;
        result.message =
            left_text + "; the registry has no " + ref + " yet, so there is nothing to compare with: passed";
        return result;
      }
      const std::string version_text =
          ref + " (version " + std::to_string((*version)->value("version", 0)) + ")";
      auto number = path_number(**version, gate.path);
      if (!number.ok() && number.error().code == ErrorCode::kNotFound) {
        // A model brought in without metrics: like a missing alias, nothing to be worse than.
        result.passed = true;
        result.message = left_text + "; " + version_text + " has no '" + gate.path +
                         "', so there is nothing to compare with; skipped the comparison: passed";
        return result;
      }
      if (!number.ok()) {
        result.message = version_text + " " + number.error().message;
        return result;
      }
      right = *number;
      right_text = version_text + " " + gate.path + " = " + number_text(right);
      break;
    }
  }
  double margin = gate.margin;
  if (!gate.margin_parameter.empty()) {
    auto value = parameter_number(gate.margin_parameter);
    if (!value.ok()) {
      result.message = value.error().message;
      return result;
    }
    margin = gate.margin * *value;
    right_text += (gate.margin > 0 ? " + {" : " - {") + gate.margin_parameter + "} = " + number_text(*value);
  } else if (margin != 0) {
    right_text += (margin > 0 ? " + " : " - ") + number_text(std::abs(margin));
  }
  right += margin;
  result.right = right;
  result.passed = compare(*left, gate.comparison, right);
  result.message = left_text + (result.passed ? " " : " is not ") +
                   std::string(comparison_text(gate.comparison)) + " " + right_text;
  return result;
}

}  // namespace canopy::pipeline
