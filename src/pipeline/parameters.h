// Parameter values and the text substituted into commands and paths.
//
// Values come from `--param NAME=VALUE` (applied to every step that declares
// NAME) or the parameter's default. In a step's commands:
//   {NAME} or {parameter:NAME}  the value (shell-quoted when it needs it)
//   {parameters}                every parameter of the step rendered with its
//                               pass-as, e.g. "--epochs=10 --augment"
//   {workspace}                 the run's workspace directory
// `${...}` is left to the shell, and braces naming nothing above are kept as
// written (so awk '{print $1}' works). Steps also get each value in the
// environment as PARAM_<NAME> (upper case, '-' as '_').
// Thread-safety: stateless functions.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "pipeline/pipeline.h"

namespace canopy::pipeline {

using ParameterValues = std::map<std::string, std::string>;  // name -> value text

// Checks `text` against the parameter's type and bounds; returns the value in
// canonical form (integers without leading zeros or '+', flags as true/false).
Result<std::string> check_parameter_value(const Parameter& parameter, const std::string& text);

// Values of every parameter of the steps in `steps`, by step name. Fails on
// an assignment that is not NAME=VALUE, names no parameter of the pipeline,
// or does not fit the type, and on a parameter of `steps` with no default and
// no assignment.
Result<std::map<std::string, ParameterValues>> resolve_parameters(const Pipeline& pipeline,
                                                                  const std::vector<std::string>& assignments,
                                                                  const std::vector<std::string>& steps);

// Quotes `text` for bash when it holds anything the shell would interpret.
std::string shell_quote(const std::string& text);

// A command line with the placeholders above replaced (values shell-quoted).
std::string render_command(const std::string& command, const Step& step, const ParameterValues& values,
                           const std::filesystem::path& workspace);
// A path or glob with {NAME}, {parameter:NAME} and {workspace} replaced (no quoting).
std::string render_path(const std::string& pattern, const Step& step, const ParameterValues& values,
                        const std::filesystem::path& workspace);

// PARAM_<NAME> variables for the step's environment.
std::map<std::string, std::string> parameter_environment(const Step& step, const ParameterValues& values);

}  // namespace canopy::pipeline
