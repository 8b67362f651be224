// Shared pieces of the `canopy` command line: settings resolution and output.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "client/fleet_client.h"
#include "client/registry_client.h"
#include "common/config.h"
#include "common/error.h"
#include "common/json.h"
#include "common/text.h"

namespace canopy::cli {

// Settings every command can read: --config FILE, then flags/env/file per key.
struct Globals {
  std::string config_file;
  bool verbose = false;
  bool quiet = false;
  bool json = false;
  // Flag values by setting key; merged into `config` once the file is loaded.
  std::map<std::string, std::string> flags;
  Config config;
};

// Prints the error as one line and returns the exit code for it.
int report(const Error& error);

// Wraps a command body so that errors print and set the exit code.
void set_action(CLI::App* command, int& exit_code, std::function<Status()> body);

// Adds --server, --api-key, --ca-file and --server-pin to a command that
// talks to the registry.
void add_server_flags(CLI::App* command, Globals& globals);
// How the resolved `ca_file` and `server_pin` settings trust the server.
HttpOptions server_http_options(const Globals& globals);

void print_json(const Json& value);

// A file name for a sample id ("DEVICE/CAMERA/MS"): its slashes become dashes.
std::string sample_file_stem(const std::string& sample_id);

// A one-line summary of a JSON object for human output: its first few
// top-level numbers and strings as key=value, nested values by size, and how
// many keys were left out (--json prints them all).
std::string summarize_json(const Json& object);

// A registry client from the resolved `server` and `api_key` settings.
Result<client::RegistryClient> connect_to_registry(const Globals& globals);

// A fleet client from the same settings.
Result<client::FleetClient> connect_to_fleet(const Globals& globals);

void register_package_commands(CLI::App& app, Globals& globals, int& exit_code);
void register_model_commands(CLI::App& app, Globals& globals, int& exit_code);
void register_key_commands(CLI::App& app, Globals& globals, int& exit_code);
void register_server_command(CLI::App& app, Globals& globals, int& exit_code);
void register_infer_commands(CLI::App& app, Globals& globals, int& exit_code);
void register_dataset_commands(CLI::App& app, Globals& globals, int& exit_code);
void register_pipeline_commands(CLI::App& app, Globals& globals, int& exit_code);
void register_run_commands(CLI::App& app, Globals& globals, int& exit_code);
void register_fleet_commands(CLI::App& app, Globals& globals, int& exit_code);
void register_samples_commands(CLI::App& app, Globals& globals, int& exit_code);
void register_sim_command(CLI::App& app, Globals& globals, int& exit_code);
// `canopy label` (the queue's statistics, the simulation's oracle) and `canopy user`.
void register_label_commands(CLI::App& app, Globals& globals, int& exit_code);
// `canopy dataset version create|list|show|pull`, under `dataset`.
void register_dataset_version_commands(CLI::App& dataset, Globals& globals, int& exit_code);
// Adds readings, telemetry, irrigation, plants and field-config to `canopy
// device` (which register_fleet_commands creates first) and the `canopy
// alerts` commands.
void register_field_commands(CLI::App& app, Globals& globals, int& exit_code);
// `canopy worker`, `canopy retrain`, `canopy drift` and `canopy lineage` (docs/loop.md).
void register_retrain_commands(CLI::App& app, Globals& globals, int& exit_code);

}  // namespace canopy::cli
