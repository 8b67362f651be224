// What the command lines of canopy, canopy-train and canopy-agent share:
// --version, every option's default in --help, number checks whose errors say
// what was expected, and a misspelled or missing command answered with the
// commands there are.
// Thread-safety: used while parsing, on the main thread.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <regex>
#include <string>
#include <vector>

namespace canopy::cli_support {

// Adds --version and makes --help show each option's default. Call before
// adding options: subcommands and options copy the setting when created.
inline void set_up(CLI::App& app, const std::string& version_line) {
  app.set_version_flag("--version", version_line);
  app.option_defaults()->always_capture_default();
  app.failure_message([](const CLI::App*, const CLI::Error& error) {
    return "error: " + std::string(error.what()) + "\nRun with --help for more information.\n";
  });
}

// An integer of at least `min`. CLI11's own number checks answer a word with
// "not in range 0 to 1797693...", the largest double in full.
inline CLI::Validator integer_at_least(long long min) {
  return CLI::Validator(
      [min](std::string& value) -> std::string {
        size_t used = 0;
        long long number = 0;
        try {
          number = std::stoll(value, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != value.size()) return "expected an integer, got '" + value + "'";
        if (number < min) return "must be at least " + std::to_string(min) + ", got " + value;
        return "";
      },
      min == 1   ? "POSITIVE"
      : min == 0 ? "NONNEGATIVE"
                 : "AT LEAST " + std::to_string(min));
}

// A number greater than zero (for rates and ratios).
inline CLI::Validator number_above_zero() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        size_t used = 0;
        double number = 0;
        try {
          number = std::stod(value, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != value.size()) return "expected a number, got '" + value + "'";
        if (!(number > 0)) return "must be greater than 0, got " + value;
        return "";
      },
      "POSITIVE");
}

namespace detail {

// "canopy model alias": the names from the root down to `app`.
inline std::string command_path(const CLI::App* app) {
  std::string path = app->get_name();
  for (const CLI::App* parent = app->get_parent(); parent != nullptr; parent = parent->get_parent())
    path = parent->get_name() + " " + path;
  return path;
}

}  // namespace detail

// Prints the parse error and returns the exit code, as CLI::App::exit does,
// but a missing or unknown command lists the commands that exist, and a value
// that is not a number says so.
inline int exit_for(CLI::App& app, const CLI::ParseError& error) {
  CLI::App* deepest = &app;
  for (auto selected = deepest->get_subcommands(); !selected.empty(); selected = deepest->get_subcommands())
    deepest = selected.front();
  const std::vector<CLI::App*> commands = deepest->get_subcommands([](CLI::App*) { return true; });
  const bool command_missing = dynamic_cast<const CLI::RequiredError*>(&error) != nullptr ||
                               dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr;
  if (command_missing && !commands.empty()) {
    std::string names;
    for (const CLI::App* command : commands) names += (names.empty() ? "" : ", ") + command->get_name();
    const std::string path = detail::command_path(deepest);
    // A word no command took may be kept by the root (options fall through to it).
    const std::vector<std::string> remaining = app.remaining(true);
    if (!remaining.empty() && remaining.front().rfind('-', 0) != 0)
      std::fprintf(stderr, "error: '%s' is not a command of %s; the commands are: %s\n",
                   remaining.front().c_str(), path.c_str(), names.c_str());
    else
      std::fprintf(stderr, "error: %s needs a command: %s\n", path.c_str(), names.c_str());
    std::fprintf(stderr, "Run '%s --help' for what each does.\n", path.c_str());
    return error.get_exit_code();
  }
  // CLI11 words a value its type cannot hold as "Could not convert: --runs = abc".
  static const std::regex not_converted("Could not convert: (\\S+) = (.*)");
  std::smatch match;
  const std::string message = error.what();
  if (dynamic_cast<const CLI::ConversionError*>(&error) != nullptr &&
      std::regex_match(message, match, not_converted)) {
    std::fprintf(stderr, "error: %s: expected a number, got '%s'\n", match[1].str().c_str(),
                 match[2].str().c_str());
    return error.get_exit_code();
  }
  return app.exit(error);
}

}  // namespace canopy::cli_support
