// canopy-agent: the edge daemon. `run` enrols the device and keeps its model
// up to date (src/agent); `status` shows the data directory's state. Every
// setting can come from a flag, a CANOPY_* variable or the --config file
// (common/config.h), except --simulated-clock: a command-line flag only, so
// that no configuration file or environment can put a device on a
// simulation's clock.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "agent/agent_config.h"
#include "cli_support.h"
#include "common/config.h"
#include "common/log.h"
#include "common/shared_clock.h"
#include "common/time.h"

namespace {

using canopy::Config;
using canopy::ErrorCode;
using canopy::Result;
using canopy::Status;

struct Globals {
  std::string config_file;
  bool verbose = false;
  bool quiet = false;
  bool json = false;
  std::map<std::string, std::string> flags;
};

int exit_code_for(const canopy::Error& error) {
  std::fprintf(stderr, "error: %s\n", error.message.c_str());
  return error.code == ErrorCode::kInvalidArgument ? 2 : 1;
}

void on_stop_signal(int) { canopy::agent::request_stop(); }

Result<Config> load_config(Globals& globals) {
  if (globals.config_file.empty())
    if (const char* env = std::getenv("CANOPY_CONFIG")) globals.config_file = env;
  CANOPY_ASSIGN_OR_RETURN(Config config, Config::load(globals.config_file));
  for (const auto& [key, value] : globals.flags) config.set_flag(key, value);
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"canopy-agent: keeps an edge device's detection model up to date.", "canopy-agent"};
  app.require_subcommand(1);
  app.fallthrough();
  canopy::cli_support::set_up(app, std::string("canopy-agent ") + canopy::agent::kAgentVersion);
  Globals globals;
  app.add_option("--config", globals.config_file, "YAML settings file (also CANOPY_CONFIG)");
  app.add_flag("-v,--verbose", globals.verbose, "log info and debug lines to stderr");
  app.add_flag("-q,--quiet", globals.quiet, "log errors only");
  auto flag = [&globals](CLI::App* command, const std::string& name, const std::string& key,
                         const std::string& help) {
    command->add_option_function<std::string>(
        name, [&globals, key](const std::string& v) { globals.flags[key] = v; }, help);
  };
  int exit_code = 0;

  CLI::App* run =
      app.add_subcommand("run", "Enrol (first start), then poll, update and report until stopped");
  flag(run, "--server", "server", "server URL, e.g. http://10.0.0.2:8080 (also CANOPY_SERVER)");
  flag(run, "--data-dir", "data_dir", "the agent's data directory (also CANOPY_DATA_DIR)");
  flag(run, "--ca-file", "ca_file",
       "trust the https server only if a CA in this PEM file signed its certificate (also CANOPY_CA_FILE; "
       "default: the system's CA store)");
  flag(run, "--server-pin", "server_pin",
       "trust the https server only if it holds this key (the sha256//... pin `canopy server` prints); kept "
       "in the data directory, so it is needed at enrollment only (also CANOPY_SERVER_PIN)");
  run->add_flag_callback(
      "--allow-plain-http", [&globals] { globals.flags["allow_plain_http"] = "true"; },
      "talk plain HTTP to a server that is not on this machine (its device token crosses the network in "
      "clear)");
  flag(run, "--token-max-age", "agent.token_max_age_s",
       "seconds after which the agent rotates its device token (default 2592000, 30 days; 0: never)");
  flag(run, "--enroll-token", "enroll_token",
       "enrollment token cet_..., needed on first start (also CANOPY_ENROLL_TOKEN)");
  flag(run, "--name", "name", "device name in the inventory (default: host name)");
  std::vector<std::string> tags;
  run->add_option("--tag", tags, "device tag key=value (repeatable; also CANOPY_TAGS=k=v,k2=v2)");
  bool once = false;
  run->add_flag("--once", once, "one poll-and-update cycle, then exit (0: server reached and work done)");
  std::string simulated_clock;
  run->add_option("--simulated-clock", simulated_clock,
                  "follow the virtual clock in FILE, written by 'canopy sim', instead of the system clock "
                  "(simulations only; a flag only, never read from --config or the environment)");
  flag(run, "--max-attempts", "agent.max_attempts",
       "tries per version, restarts included, before giving it up (default 3)");
  flag(run, "--max-slot-bytes", "agent.max_slot_bytes",
       "cap on the model slots' disk use in bytes (default 0: free space)");
  flag(run, "--backend", "backend", "inference backend: auto, reference, onednn, xnnpack (default auto)");
  flag(run, "--threads", "threads", "inference threads (default 1)");
  flag(run, "--integrity-check-interval", "agent.integrity_check_interval_s",
       "seconds between checks of the installed models' files against their signed manifests "
       "(default 86400; they are also checked at every start)");
  flag(run, "--field-config", "field_config",
       "the field loop's configuration: cameras, sensors, zones (docs/field.md; default: no field loop)");
  flag(run, "--outbox-max-bytes", "agent.outbox_max_bytes",
       "disk cap of the outbox that keeps field records until the server has them (default 268435456)");
  flag(run, "--upload-rate", "agent.upload_bytes_per_s",
       "bytes per second the outbox may upload (default 0: no cap)");
  run->callback([&] {
    canopy::init_logging({globals.verbose, globals.quiet});
    auto config = load_config(globals);
    if (!config.ok()) {
      exit_code = exit_code_for(config.error());
      return;
    }
    auto options = canopy::agent::options_from_config(*config, tags, once);
    if (!options.ok()) {
      exit_code = exit_code_for(options.error());
      return;
    }
    std::unique_ptr<canopy::SharedFileClock> clock;
    if (!simulated_clock.empty()) {
      auto opened = canopy::SharedFileClock::open(simulated_clock);
      if (!opened.ok()) {
        exit_code = exit_code_for(opened.error().with_context("--simulated-clock"));
        return;
      }
      clock = std::move(*opened);
      options->clock = clock.get();
      spdlog::warn(
          "agent.clock_simulated file={} now={} speed={}x: time is simulated: every wait, schedule and "
          "timestamp of this agent follows that file, not the system clock; never on a real device",
          simulated_clock, canopy::format_utc(clock->wall_ms()), clock->speed());
    }
    std::signal(SIGTERM, on_stop_signal);
    std::signal(SIGINT, on_stop_signal);
    // A file-size limit (ulimit -f) must fail the write that hits it, like a
    // full disk does, rather than kill the agent.
    std::signal(SIGXFSZ, SIG_IGN);
    canopy::agent::ActiveModel active;
    auto ran = canopy::agent::run_agent(*options, active);
    exit_code = ran.ok() ? *ran : exit_code_for(ran.error());
  });

  CLI::App* status = app.add_subcommand("status", "Show the slots, versions, update state and last error");
  flag(status, "--data-dir", "data_dir", "the agent's data directory (also CANOPY_DATA_DIR)");
  status->add_flag("--json", globals.json, "print the status as JSON");
  status->callback([&] {
    canopy::init_logging({globals.verbose, globals.quiet});
    auto config = load_config(globals);
    if (!config.ok()) {
      exit_code = exit_code_for(config.error());
      return;
    }
    auto data_dir = config->require("data_dir");
    if (!data_dir.ok()) {
      exit_code = exit_code_for(data_dir.error());
      return;
    }
    auto described = canopy::agent::describe_agent(*data_dir);
    if (!described.ok()) {
      exit_code = exit_code_for(described.error());
      return;
    }
    if (globals.json)
      std::printf("%s\n", described->dump(2).c_str());
    else
      std::fputs(canopy::agent::format_status(*described).c_str(), stdout);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return canopy::cli_support::exit_for(app, e);
  }
  return exit_code;
}
