#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <regex>
#include <set>

#include "common/files.h"
#include "common/hash.h"
#include "common/text.h"
#include "common/yaml_reader.h"
#include "pipeline/parameters.h"
#include "pipeline/pipeline.h"
#include "pipeline/redact.h"

namespace canopy::pipeline {

std::string Location::to_string(const std::string& file) const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string_view parameter_type_name(ParameterType type) {
  switch (type) {
    case ParameterType::kString:
      return "string";
    case ParameterType::kInteger:
      return "integer";
    case ParameterType::kFloat:
      return "float";
    case ParameterType::kFlag:
      return "flag";
  }
  return "string";
}

std::string_view comparison_text(Comparison comparison) {
  switch (comparison) {
    case Comparison::kGreaterEqual:
      return ">=";
    case Comparison::kGreater:
      return ">";
    case Comparison::kLessEqual:
      return "<=";
    case Comparison::kLess:
      return "<";
    case Comparison::kEqual:
      return "==";
    case Comparison::kNotEqual:
      return "!=";
  }
  return "?";
}

bool compare(double left, Comparison comparison, double right) {
  switch (comparison) {
    case Comparison::kGreaterEqual:
      return left >= right;
    case Comparison::kGreater:
      return left > right;
    case Comparison::kLessEqual:
      return left <= right;
    case Comparison::kLess:
      return left < right;
    case Comparison::kEqual:
      return left == right;
    case Comparison::kNotEqual:
      return left != right;
  }
  return false;
}

const Parameter* Step::find_parameter(std::string_view parameter) const {
  for (const auto& p : parameters)
    if (p.name == parameter) return &p;
  return nullptr;
}

std::vector<std::string> Gate::steps() const {
  std::vector<std::string> out{step};
  if (kind == Kind::kStepMetric && other_step != step) out.push_back(other_step);
  return out;
}

const Step* Pipeline::find_step(std::string_view step) const {
  for (const auto& s : steps)
    if (s.name == step) return &s;
  return nullptr;
}

std::vector<std::string> Pipeline::topological_order() const {
  // Kahn's algorithm, always taking the earliest ready step in file order, so
  // the order is stable and equals file order for a plain sequence.
  std::map<std::string, size_t> missing;
  for (const auto& s : steps) missing[s.name] = s.depends.size();
  std::vector<std::string> order;
  std::set<std::string> done;
  while (order.size() < steps.size()) {
    bool progressed = false;
    for (const auto& s : steps) {
      if (done.count(s.name) || missing[s.name] != 0) continue;
      order.push_back(s.name);
      done.insert(s.name);
      for (const auto& t : steps)
        if (std::count(t.depends.begin(), t.depends.end(), s.name)) --missing[t.name];
      progressed = true;
      break;
    }
    if (!progressed) break;  // a cycle: parse_pipeline rejects these before anyone asks
  }
  return order;
}

namespace {

// Reads YAML nodes into the model; common/yaml_reader.h points every error at its node.
class Parser : private YamlReader {
 public:
  explicit Parser(std::string file) : YamlReader(std::move(file)) {}

  Result<Pipeline> parse(std::string_view text);

 private:
  using YamlReader::error_at;
  Location where(const YAML::Node& node) const {
    if (!node.IsDefined()) return {};
    const YAML::Mark mark = node.Mark();
    return {mark.line + 1, mark.column + 1};
  }
  Error error_at(const Location& location, const std::string& message) const {
    return make_error(ErrorCode::kInvalidArgument, location.to_string(file()) + ": " + message);
  }

  Result<Step> parse_step(const YAML::Node& node);
  Result<EnvVariable> parse_variable(const YAML::Node& node, const std::string& step);
  Result<Parameter> parse_parameter(const YAML::Node& node, const std::string& step);
  Result<Gate> parse_gate(const YAML::Node& node);
  Status resolve_graph(Pipeline& pipeline, const std::map<std::string, YAML::Node>& depends_nodes);
  Status check_gate(const Pipeline& pipeline, const Gate& gate);
};

bool valid_name(const std::string& name) { return is_plain_name(name, 64, "_-", "_"); }

Result<EnvVariable> Parser::parse_variable(const YAML::Node& node, const std::string& step) {
  const std::string what = "an environment variable of step '" + step + "'";
  if (!node.IsMap()) return error_at(node, what + " must be a mapping with at least 'name'");
  CANOPY_TRY(check_keys(node, {"name", "optional", "default", "description", "secret"}, what));
  EnvVariable variable;
  variable.location = where(node);
  bool has_name = false;
  for (const auto& item : node) {
    const std::string& key = item.first.Scalar();
    const YAML::Node& value = item.second;
    if (key == "name") {
      CANOPY_ASSIGN_OR_RETURN(variable.name, nonempty(value, "'name'"));
      static const std::regex env_name("[A-Za-z_][A-Za-z0-9_]*");
      if (!std::regex_match(variable.name, env_name))
        return error_at(value, "'" + variable.name + "' is not a valid environment variable name");
      has_name = true;
    } else if (key == "optional") {
      CANOPY_ASSIGN_OR_RETURN(variable.optional, boolean(value, "'optional'"));
    } else if (key == "default") {
      CANOPY_ASSIGN_OR_RETURN(variable.default_value, scalar(value, "'default'"));
    } else if (key == "description") {
      CANOPY_ASSIGN_OR_RETURN(variable.description, scalar(value, "'description'"));
    } else if (key == "secret") {
      CANOPY_ASSIGN_OR_RETURN(variable.secret, boolean(value, "'secret'"));
    }
  }
  if (!has_name) return error_at(node, what + " has no 'name'");
  if (looks_secret(variable.name)) variable.secret = true;
  return variable;
}

Result<Parameter> Parser::parse_parameter(const YAML::Node& node, const std::string& step) {
  const std::string what = "a parameter of step '" + step + "'";
  if (!node.IsMap()) return error_at(node, what + " must be a mapping with at least 'name'");
  CANOPY_TRY(check_keys(node, {"name", "type", "default", "min", "max", "pass-as", "description"}, what));
  Parameter parameter;
  parameter.location = where(node);
  // Optional because a default-constructed YAML::Node is a defined null node.
  std::optional<YAML::Node> default_node, min_node, max_node, pass_as_node;
  bool has_name = false;
  for (const auto& item : node) {
    const std::string& key = item.first.Scalar();
    const YAML::Node& value = item.second;
    if (key == "name") {
      CANOPY_ASSIGN_OR_RETURN(parameter.name, nonempty(value, "'name'"));
      if (!valid_name(parameter.name))
        return error_at(value,
                        "parameter name '" + parameter.name + "' may hold only letters, digits, '_' and '-'");
      has_name = true;
    } else if (key == "type") {
      CANOPY_ASSIGN_OR_RETURN(std::string type, scalar(value, "'type'"));
      if (type == "string")
        parameter.type = ParameterType::kString;
      else if (type == "integer")
        parameter.type = ParameterType::kInteger;
      else if (type == "float")
        parameter.type = ParameterType::kFloat;
      else if (type == "flag")
        parameter.type = ParameterType::kFlag;
      else
        return error_at(value, "parameter type '" + type + "' must be string, integer, float or flag");
    } else if (key == "default") {
      default_node = value;
    } else if (key == "min") {
      min_node = value;
    } else if (key == "max") {
      max_node = value;
    } else if (key == "pass-as") {
      pass_as_node = value;
    } else if (key == "description") {
      CANOPY_ASSIGN_OR_RETURN(parameter.description, scalar(value, "'description'"));
    }
  }
  if (!has_name) return error_at(node, what + " has no 'name'");
  const bool numeric = parameter.type == ParameterType::kInteger || parameter.type == ParameterType::kFloat;
  if (min_node) {
    if (!numeric) return error_at(*min_node, "'min' applies to integer and float parameters only");
    CANOPY_ASSIGN_OR_RETURN(parameter.min, number(*min_node, "'min'"));
  }
  if (max_node) {
    if (!numeric) return error_at(*max_node, "'max' applies to integer and float parameters only");
    CANOPY_ASSIGN_OR_RETURN(parameter.max, number(*max_node, "'max'"));
  }
  if (pass_as_node) {
    CANOPY_ASSIGN_OR_RETURN(parameter.pass_as, nonempty(*pass_as_node, "'pass-as'"));
    if (parameter.type != ParameterType::kFlag && parameter.pass_as.find("{v}") == std::string::npos)
      return error_at(*pass_as_node, "'pass-as' must contain {v}, where the value goes (e.g. --epochs={v})");
  } else {
    parameter.pass_as =
        parameter.type == ParameterType::kFlag ? "--" + parameter.name : "--" + parameter.name + "={v}";
  }
  if (default_node) {
    CANOPY_ASSIGN_OR_RETURN(std::string text, scalar(*default_node, "'default'"));
    auto checked = check_parameter_value(parameter, text);
    if (!checked.ok())
      return error_at(*default_node,
                      "default of parameter '" + parameter.name + "': " + checked.error().message);
    parameter.default_value = *checked;
  } else if (parameter.type == ParameterType::kFlag) {
    parameter.default_value = "false";
  }
  return parameter;
}

Result<Step> Parser::parse_step(const YAML::Node& node) {
  if (!node.IsMap()) return error_at(node, "'step' must be a mapping with 'name', 'image' and 'command'");
  CANOPY_TRY(check_keys(node,
                        {"name", "image", "command", "environment-variables", "parameters", "inputs",
                         "outputs", "metrics", "timeout", "retries", "depends", "description"},
                        "a step"));
  Step step;
  step.location = where(node);
  // The name first, so that later messages can say which step they are about.
  for (const auto& item : node) {
    if (item.first.Scalar() != "name") continue;
    CANOPY_ASSIGN_OR_RETURN(step.name, nonempty(item.second, "'name'"));
    if (!valid_name(step.name))
      return error_at(
          item.second,
          "step name '" + step.name + "' may hold only letters, digits, '_' and '-' (at most 64 characters)");
  }
  if (step.name.empty()) return error_at(node, "a step has no 'name'");
  const std::string in = " of step '" + step.name + "'";
  bool has_command = false;
  for (const auto& item : node) {
    const std::string& key = item.first.Scalar();
    const YAML::Node& value = item.second;
    if (key == "image") {
      CANOPY_ASSIGN_OR_RETURN(step.image, scalar(value, "'image'" + in));
    } else if (key == "command") {
      CANOPY_ASSIGN_OR_RETURN(step.commands, strings(value, "'command'" + in));
      has_command = true;
    } else if (key == "environment-variables") {
      if (!value.IsSequence() && !value.IsNull())
        return error_at(value, "'environment-variables'" + in + " must be a list");
      for (const auto& entry : value) {
        CANOPY_ASSIGN_OR_RETURN(EnvVariable variable, parse_variable(entry, step.name));
        for (const auto& other : step.environment)
          if (other.name == variable.name)
            return error_at(entry, "environment variable " + variable.name + " is declared twice" + in);
        step.environment.push_back(std::move(variable));
      }
    } else if (key == "parameters") {
      if (!value.IsSequence() && !value.IsNull())
        return error_at(value, "'parameters'" + in + " must be a list");
      for (const auto& entry : value) {
        CANOPY_ASSIGN_OR_RETURN(Parameter parameter, parse_parameter(entry, step.name));
        if (step.find_parameter(parameter.name))
          return error_at(entry, "parameter '" + parameter.name + "' is declared twice" + in);
        step.parameters.push_back(std::move(parameter));
      }
    } else if (key == "inputs") {
      CANOPY_ASSIGN_OR_RETURN(step.inputs, strings(value, "'inputs'" + in + " (paths or globs)"));
    } else if (key == "outputs") {
      CANOPY_ASSIGN_OR_RETURN(step.outputs, strings(value, "'outputs'" + in + " (paths or globs)"));
    } else if (key == "metrics") {
      CANOPY_ASSIGN_OR_RETURN(step.metrics, nonempty(value, "'metrics'" + in + " (a JSON file)"));
    } else if (key == "timeout") {
      CANOPY_ASSIGN_OR_RETURN(step.timeout_seconds, duration_s(value, "'timeout'" + in));
    } else if (key == "retries") {
      CANOPY_ASSIGN_OR_RETURN(long long retries, integer(value, "'retries'" + in));
      if (retries < 0 || retries > 100)
        return error_at(value, "'retries'" + in + " must be between 0 and 100");
      step.retries = static_cast<int>(retries);
    } else if (key == "depends") {
      CANOPY_ASSIGN_OR_RETURN(step.depends, strings(value, "'depends'" + in + " (step names)"));
      step.depends_given = true;
    }
    // "name" was read above; "description" documents the step and is not used.
  }
  if (!has_command || step.commands.empty())
    return error_at(node, "step '" + step.name + "' has no 'command'");
  return step;
}

Result<Gate> Parser::parse_gate(const YAML::Node& node) {
  CANOPY_ASSIGN_OR_RETURN(std::string text, nonempty(node, "'gate'"));
  static const std::regex pattern(
      R"(^\s*([A-Za-z0-9_][A-Za-z0-9_-]*)\.([A-Za-z0-9_.-]+)\s*(>=|<=|==|!=|>|<)\s*(\S+)(?:\s+([+-])\s+(\S+))?\s*$)");
  std::smatch match;
  if (!std::regex_match(text, match, pattern))
    return error_at(
        node, "gate '" + text + "' must read STEP.METRIC OP VALUE [+|- MARGIN], e.g. evaluate.map50 >= 0.85");
  Gate gate;
  gate.expression = text;
  gate.location = where(node);
  gate.step = match[1];
  gate.metric = match[2];
  const std::string op = match[3];
  gate.comparison = op == ">="   ? Comparison::kGreaterEqual
                    : op == ">"  ? Comparison::kGreater
                    : op == "<=" ? Comparison::kLessEqual
                    : op == "<"  ? Comparison::kLess
                    : op == "==" ? Comparison::kEqual
                                 : Comparison::kNotEqual;
  const std::string right = match[4];
  static const std::regex registry(R"(^registry:([^@\s]+)@([A-Za-z0-9_-]+)\.([A-Za-z0-9_.-]+)$)");
  static const std::regex parameter(R"(^\{([A-Za-z0-9_][A-Za-z0-9_-]*)\}$)");
  static const std::regex step_metric(R"(^([A-Za-z0-9_][A-Za-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_.-]*)$)");
  char* end = nullptr;
  double value = std::strtod(right.c_str(), &end);
  std::smatch m;
  if (end == right.c_str() + right.size() && std::isfinite(value)) {
    gate.kind = Gate::Kind::kNumber;
    gate.number = value;
  } else if (std::regex_match(right, m, registry)) {
    gate.kind = Gate::Kind::kRegistry;
    gate.model = m[1];
    gate.alias = m[2];
    gate.path = m[3];
  } else if (std::regex_match(right, m, parameter)) {
    gate.kind = Gate::Kind::kParameter;
    gate.parameter = m[1];
  } else if (std::regex_match(right, m, step_metric)) {
    gate.kind = Gate::Kind::kStepMetric;
    gate.other_step = m[1];
    gate.other_metric = m[2];
  } else {
    return error_at(node, "gate '" + text + "': '" + right +
                              "' must be a number, {PARAMETER}, STEP.METRIC or registry:MODEL@ALIAS.PATH");
  }
  if (match[5].matched) {
    const std::string margin = match[6];
    const double sign = match[5] == "-" ? -1 : 1;
    double number = std::strtod(margin.c_str(), &end);
    if (end == margin.c_str() + margin.size() && std::isfinite(number)) {
      gate.margin = sign * number;
    } else if (std::regex_match(margin, m, parameter)) {
      gate.margin = sign;
      gate.margin_parameter = m[1];
    } else {
      return error_at(node, "gate '" + text + "': the margin '" + match[5].str() + " " + margin +
                                "' must be a number or {PARAMETER}");
    }
  }
  return gate;
}

Status Parser::check_gate(const Pipeline& pipeline, const Gate& gate) {
  for (const auto& name : gate.steps()) {
    const Step* step = pipeline.find_step(name);
    if (!step)
      return error_at(gate.location,
                      "gate '" + gate.expression + "' reads step '" + name + "', which does not exist");
    if (step->metrics.empty())
      return error_at(gate.location, "gate '" + gate.expression + "' reads metrics of step '" + name +
                                         "', which declares no 'metrics' file");
  }
  for (const std::string* used : {&gate.parameter, &gate.margin_parameter})
    if (!used->empty() && !pipeline.find_step(gate.step)->find_parameter(*used))
      return error_at(gate.location, "gate '" + gate.expression + "' uses {" + *used + "}, but step '" +
                                         gate.step + "' has no such parameter");
  return {};
}

Status Parser::resolve_graph(Pipeline& pipeline, const std::map<std::string, YAML::Node>& depends_nodes) {
  for (size_t i = 0; i < pipeline.steps.size(); ++i) {
    Step& step = pipeline.steps[i];
    if (!step.depends_given) {
      // The default: each step follows the one before it in the file.
      if (i > 0) step.depends = {pipeline.steps[i - 1].name};
      continue;
    }
    for (const auto& dependency : step.depends) {
      if (!pipeline.find_step(dependency))
        return error_at(depends_nodes.at(step.name), "step '" + step.name + "' depends on '" + dependency +
                                                         "', which is not a step of this pipeline");
      if (dependency == step.name)
        return error_at(depends_nodes.at(step.name), "step '" + step.name + "' depends on itself");
    }
  }
  // Cycle check by depth-first search, reporting the cycle's path.
  std::map<std::string, int> state;  // 0 unvisited, 1 on the stack, 2 done
  std::vector<std::string> stack;
  std::function<std::optional<std::string>(const Step&)> visit =
      [&](const Step& step) -> std::optional<std::string> {
    state[step.name] = 1;
    stack.push_back(step.name);
    for (const auto& dependency : step.depends) {
      if (state[dependency] == 1) {
        std::string path;
        auto from = std::find(stack.begin(), stack.end(), dependency);
        for (auto it = from; it != stack.end(); ++it) path += *it + " -> ";
        return path + dependency;
      }
      if (state[dependency] == 0)
        if (auto cycle = visit(*pipeline.find_step(dependency))) return cycle;
    }
    stack.pop_back();
    state[step.name] = 2;
    return std::nullopt;
  };
  for (const auto& step : pipeline.steps) {
    if (state[step.name] != 0) continue;
    if (auto cycle = visit(step)) {
      const auto node = depends_nodes.find(step.name);
      const std::string message = "the steps' 'depends' form a cycle: " + *cycle;
      return node != depends_nodes.end() ? error_at(node->second, message) : error_at(step.location, message);
    }
  }
  return {};
}

Result<Pipeline> Parser::parse(std::string_view text) {
  CANOPY_ASSIGN_OR_RETURN(YAML::Node root, load(text));
  if (!root.IsSequence()) return error_at(root, "a pipeline is a list of '- step:' (and '- gate:') items");
  Pipeline pipeline;
  std::map<std::string, YAML::Node> depends_nodes;  // for messages about a step's 'depends'
  try {
    for (const auto& item : root) {
      if (!item.IsMap() || item.size() != 1)
        return error_at(item, "each item of a pipeline must be '- step:' or '- gate:'");
      // Copies: a yaml-cpp iterator's -> gives a temporary, so a reference
      // to its members (as a range-for over `entry->second` held) dangles.
      const YAML::Node key = item.begin()->first;
      const YAML::Node body = item.begin()->second;
      const std::string kind = key.IsScalar() ? key.Scalar() : "";
      if (kind == "step") {
        CANOPY_ASSIGN_OR_RETURN(Step step, parse_step(body));
        if (pipeline.find_step(step.name))
          return error_at(body, "two steps are named '" + step.name + "'; names must be unique");
        for (const auto& field : body)
          if (field.first.Scalar() == "depends") depends_nodes.emplace(step.name, field.second);
        pipeline.steps.push_back(std::move(step));
      } else if (kind == "gate") {
        CANOPY_ASSIGN_OR_RETURN(Gate gate, parse_gate(body));
        pipeline.gates.push_back(std::move(gate));
      } else if (kind == "pipeline" || kind == "endpoint") {
        return error_at(key, "'" + kind +
                                 "' items are not supported; a Canopy pipeline is its steps, "
                                 "ordered by 'depends' (see docs/pipeline.md)");
      } else {
        return error_at(key, "unknown item '" + kind + "' (expected 'step' or 'gate')");
      }
    }
  } catch (const YAML::Exception& e) {
    // Defensive: a yaml-cpp accessor threw on a shape the checks above did not foresee.
    return error_from(e);
  }
  if (pipeline.steps.empty()) return error_at(root, "the pipeline has no steps");
  CANOPY_TRY(resolve_graph(pipeline, depends_nodes));
  for (const auto& gate : pipeline.gates) CANOPY_TRY(check_gate(pipeline, gate));
  pipeline.file_sha256 = sha256_hex(text);
  return pipeline;
}

}  // namespace

Result<Pipeline> parse_pipeline(std::string_view text, const std::string& display_name) {
  return Parser(display_name).parse(text);
}

Result<Pipeline> load_pipeline(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    return make_error(ErrorCode::kNotFound, "pipeline file " + file.string() + " does not exist");
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(file));
  constexpr size_t kMaxBytes = 4 << 20;
  if (text.size() > kMaxBytes)
    return make_error(ErrorCode::kTooLarge, file.string() + " is larger than 4 MiB");
  CANOPY_ASSIGN_OR_RETURN(Pipeline pipeline, parse_pipeline(text, file.string()));
  pipeline.file = file;
  return pipeline;
}

}  // namespace canopy::pipeline
