// pipeline.yaml: the step format MLOps platforms use (a list of `- step:`
// items, plus Canopy's `- gate:` items), parsed into plain values.
// docs/pipeline.md is the reference for every key. Parsing is strict: an
// unknown key, a value of the wrong type, a `depends` naming no step or a
// dependency cycle is an error that names the file, line and column.
// Thread-safety: plain values; parse functions are stateless.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace canopy::pipeline {

namespace fs = std::filesystem;

// Where something was written in the pipeline file (1-based), for messages.
struct Location {
  int line = 0;
  int column = 0;
  std::string to_string(const std::string& file) const;
};

struct EnvVariable {
  std::string name;
  bool optional = false;  // default: required
  std::optional<std::string> default_value;
  std::string description;
  bool secret = false;  // `secret: true`, or a name that looks secret (see redact.h)
  Location location;
};

enum class ParameterType { kString, kInteger, kFloat, kFlag };
std::string_view parameter_type_name(ParameterType type);

struct Parameter {
  std::string name;
  ParameterType type = ParameterType::kString;
  std::optional<std::string> default_value;  // flags default to false
  std::optional<double> min, max;            // integer and float only
  // How `{parameters}` renders this parameter: "{v}" is replaced by the value.
  // Default "--NAME={v}"; for a flag, the text added when it is true (default "--NAME").
  std::string pass_as;
  std::string description;
  Location location;
};

struct Step {
  std::string name;
  std::string image;                  // recorded in the lineage; used with --containers
  std::vector<std::string> commands;  // run in order in one bash, stopping at the first failure
  std::vector<EnvVariable> environment;
  std::vector<Parameter> parameters;
  std::vector<std::string> inputs;  // paths or globs, relative to the pipeline's directory
  std::vector<std::string> outputs;
  std::string metrics;               // JSON file the step writes; empty: none
  double timeout_seconds = 0;        // 0: no limit
  int retries = 0;                   // extra attempts after a failure
  std::vector<std::string> depends;  // resolved: explicit list, or the previous step
  bool depends_given = false;        // `depends` was written in the file
  Location location;

  const Parameter* find_parameter(std::string_view parameter) const;
};

enum class Comparison { kGreaterEqual, kGreater, kLessEqual, kLess, kEqual, kNotEqual };
std::string_view comparison_text(Comparison comparison);
bool compare(double left, Comparison comparison, double right);

// `STEP.METRIC OP RIGHT`, where RIGHT is a number, `{PARAMETER}` (a parameter
// of STEP), `STEP.METRIC`, or `registry:MODEL@ALIAS.PATH` (a number in the
// JSON of the version the alias names, e.g. `.metrics.map50`).
struct Gate {
  std::string expression;  // as written
  std::string step, metric;
  Comparison comparison = Comparison::kGreaterEqual;
  enum class Kind { kNumber, kParameter, kStepMetric, kRegistry } kind = Kind::kNumber;
  double number = 0;
  std::string parameter;                 // kParameter
  std::string other_step, other_metric;  // kStepMetric
  std::string model, alias, path;        // kRegistry; path is dotted, e.g. "metrics.map50"
  // A margin added to (or taken from) the right side: "a.map50 >= b.map50 + 0.02",
  // "- {tolerance}". With a parameter, `margin` is its sign (+1 or -1); 0 and
  // no parameter: none.
  double margin = 0;
  std::string margin_parameter;
  Location location;

  // Steps whose metrics the gate reads.
  std::vector<std::string> steps() const;
};

struct Pipeline {
  fs::path file;            // as given
  std::string file_sha256;  // of the file's bytes
  std::vector<Step> steps;  // in file order
  std::vector<Gate> gates;

  const Step* find_step(std::string_view step) const;
  // Step names in an order where every step comes after the steps it depends on
  // (file order among independent steps).
  std::vector<std::string> topological_order() const;
};

// Parses pipeline text; `display_name` prefixes every error ("pipeline.yaml:3:5: ...").
Result<Pipeline> parse_pipeline(std::string_view text, const std::string& display_name);
// Reads and parses a file.
Result<Pipeline> load_pipeline(const fs::path& file);

}  // namespace canopy::pipeline
