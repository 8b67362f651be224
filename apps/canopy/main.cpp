// canopy: the command line of the Canopy MLOps system. Each subcommand lives
// in its own file; this one parses global options and dispatches.
#include <cstdio>

#include "cli.h"
#include "cli_support.h"
#include "common/hash.h"
#include "common/log.h"

int main(int argc, char** argv) {
  CLI::App app{"Canopy: train, publish and roll out detection models to edge devices.", "canopy"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags (--json, --verbose) may follow the subcommand
  canopy::cli_support::set_up(app, "canopy " CANOPY_VERSION);
  canopy::cli::Globals globals;
  app.add_option("--config", globals.config_file, "YAML settings file (also CANOPY_CONFIG)");
  app.add_flag("-v,--verbose", globals.verbose, "log info and debug lines to stderr");
  app.add_flag("-q,--quiet", globals.quiet, "log errors only, no progress");
  app.add_flag("--json", globals.json, "print results as JSON");
  int exit_code = 0;
  canopy::cli::register_server_command(app, globals, exit_code);
  canopy::cli::register_key_commands(app, globals, exit_code);
  canopy::cli::register_package_commands(app, globals, exit_code);
  canopy::cli::register_model_commands(app, globals, exit_code);
  canopy::cli::register_infer_commands(app, globals, exit_code);
  canopy::cli::register_dataset_commands(app, globals, exit_code);
  canopy::cli::register_label_commands(app, globals, exit_code);
  canopy::cli::register_retrain_commands(app, globals, exit_code);
  canopy::cli::register_pipeline_commands(app, globals, exit_code);
  canopy::cli::register_run_commands(app, globals, exit_code);
  canopy::cli::register_fleet_commands(app, globals, exit_code);
  canopy::cli::register_field_commands(app, globals, exit_code);
  canopy::cli::register_samples_commands(app, globals, exit_code);
  canopy::cli::register_sim_command(app, globals, exit_code);

  app.parse_complete_callback([&] {
    canopy::init_logging({globals.verbose, globals.quiet});
    if (globals.config_file.empty())
      if (const char* env = std::getenv("CANOPY_CONFIG")) globals.config_file = env;
    auto config = canopy::Config::load(globals.config_file);
    if (!config.ok()) {
      std::fprintf(stderr, "error: %s\n", config.error().message.c_str());
      std::exit(2);
    }
    globals.config = std::move(*config);
    for (const auto& [key, value] : globals.flags) globals.config.set_flag(key, value);
    if (!canopy::init_crypto().ok()) std::exit(1);
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return canopy::cli_support::exit_for(app, e);
  }
  return exit_code;
}
