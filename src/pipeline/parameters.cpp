#include "pipeline/parameters.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "common/text.h"

namespace canopy::pipeline {

namespace {

std::string format_bound(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", value);
  return buf;
}

std::string render_pass_as(const Parameter& parameter, const std::string& value, bool quote) {
  if (parameter.type == ParameterType::kFlag) return value == "true" ? parameter.pass_as : "";
  std::string out = parameter.pass_as;
  const std::string shown = quote ? shell_quote(value) : value;
  for (size_t at = out.find("{v}"); at != std::string::npos; at = out.find("{v}", at + shown.size()))
    out.replace(at, 3, shown);
  return out;
}

// Replaces the placeholders in `text`; `commands` enables {parameters} and quoting.
std::string substitute(const std::string& text, const Step& step, const ParameterValues& values,
                       const std::filesystem::path& workspace, bool command) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find('{', i);
    if (open == std::string::npos) break;
    const size_t close = text.find('}', open);
    if (close == std::string::npos) break;
    out.append(text, i, open - i);
    const std::string inner = text.substr(open + 1, close - open - 1);
    const bool shell_expansion = open > 0 && text[open - 1] == '$';
    std::string name = inner.rfind("parameter:", 0) == 0 ? inner.substr(10) : inner;
    const Parameter* parameter = step.find_parameter(name);
    auto value = values.find(name);
    if (shell_expansion) {
      out.append(text, open, close - open + 1);
    } else if (inner == "workspace") {
      out += command ? shell_quote(workspace.string()) : workspace.string();
    } else if (inner == "parameters" && command) {
      std::string all;
      for (const auto& p : step.parameters) {
        auto v = values.find(p.name);
        if (v == values.end()) continue;
        std::string rendered = render_pass_as(p, v->second, true);
        if (!rendered.empty()) all += (all.empty() ? "" : " ") + rendered;
      }
      out += all;
    } else if (parameter && value != values.end()) {
      out += command ? shell_quote(value->second) : value->second;
    } else {
      out.append(text, open, close - open + 1);
    }
    i = close + 1;
  }
  out.append(text, i, std::string::npos);
  return out;
}

}  // namespace

Result<std::string> check_parameter_value(const Parameter& parameter, const std::string& text) {
  auto bounds = [&](double v) -> Status {
    if (parameter.min && v < *parameter.min)
      return make_error(ErrorCode::kInvalidArgument,
                        "value " + text + " is below the minimum " + format_bound(*parameter.min));
    if (parameter.max && v > *parameter.max)
      return make_error(ErrorCode::kInvalidArgument,
                        "value " + text + " is above the maximum " + format_bound(*parameter.max));
    return {};
  };
  switch (parameter.type) {
    case ParameterType::kString:
      return text;
    case ParameterType::kInteger: {
      const std::optional<std::int64_t> v =
          parse_int(std::string_view(text).substr(text.starts_with('+') ? 1 : 0));
      if (!v) return make_error(ErrorCode::kInvalidArgument, "'" + text + "' is not an integer");
      CANOPY_TRY(bounds(static_cast<double>(*v)));
      return std::to_string(*v);
    }
    case ParameterType::kFloat: {
      char* end = nullptr;
      double v = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v))
        return make_error(ErrorCode::kInvalidArgument, "'" + text + "' is not a number");
      CANOPY_TRY(bounds(v));
      return text;
    }
    case ParameterType::kFlag: {
      std::string lower;
      for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") return std::string("true");
      if (lower == "false" || lower == "0" || lower == "no" || lower == "off") return std::string("false");
      return make_error(ErrorCode::kInvalidArgument, "'" + text + "' is not true or false");
    }
  }
  return text;
}

Result<std::map<std::string, ParameterValues>> resolve_parameters(const Pipeline& pipeline,
                                                                  const std::vector<std::string>& assignments,
                                                                  const std::vector<std::string>& steps) {
  std::map<std::string, std::string> given;
  for (const auto& assignment : assignments) {
    const auto eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0)
      return make_error(ErrorCode::kInvalidArgument, "--param '" + assignment + "' must be NAME=VALUE");
    const std::string name = assignment.substr(0, eq);
    bool declared = false;
    for (const auto& step : pipeline.steps) declared = declared || step.find_parameter(name) != nullptr;
    if (!declared)
      return make_error(ErrorCode::kInvalidArgument,
                        "--param " + name + ": no step of the pipeline has a parameter '" + name + "'");
    given[name] = assignment.substr(eq + 1);
  }
  std::map<std::string, ParameterValues> out;
  for (const auto& step : pipeline.steps) {
    const bool needed = std::find(steps.begin(), steps.end(), step.name) != steps.end();
    ParameterValues& values = out[step.name];
    for (const auto& parameter : step.parameters) {
      auto it = given.find(parameter.name);
      if (it != given.end()) {
        auto checked = check_parameter_value(parameter, it->second);
        if (!checked.ok())
          return checked.error().with_context("--param " + parameter.name + " (step '" + step.name + "', " +
                                              std::string(parameter_type_name(parameter.type)) + ")");
        values[parameter.name] = *checked;
      } else if (parameter.default_value) {
        values[parameter.name] = *parameter.default_value;
      } else if (needed) {
        return make_error(ErrorCode::kInvalidArgument, "parameter '" + parameter.name + "' of step '" +
                                                           step.name + "' has no default; pass --param " +
                                                           parameter.name + "=VALUE");
      }
    }
  }
  return out;
}

std::string shell_quote(const std::string& text) {
  if (!text.empty()) {
    bool plain = true;
    for (unsigned char c : text)
      plain = plain && (std::isalnum(c) ||
                        std::string_view("_-./:=,+@%").find(static_cast<char>(c)) != std::string_view::npos);
    if (plain) return text;
  }
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string render_command(const std::string& command, const Step& step, const ParameterValues& values,
                           const std::filesystem::path& workspace) {
  return substitute(command, step, values, workspace, true);
}

std::string render_path(const std::string& pattern, const Step& step, const ParameterValues& values,
                        const std::filesystem::path& workspace) {
  return substitute(pattern, step, values, workspace, false);
}

std::map<std::string, std::string> parameter_environment(const Step& step, const ParameterValues& values) {
  std::map<std::string, std::string> env;
  for (const auto& parameter : step.parameters) {
    auto it = values.find(parameter.name);
    if (it == values.end()) continue;
    std::string name = "PARAM_";
    for (char c : parameter.name)
      name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    env[name] = it->second;
  }
  return env;
}

}  // namespace canopy::pipeline
