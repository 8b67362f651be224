// canopy-agent: the edge daemon. `run` enrols the device and keeps its model
// up to date (src/agent); `status` shows the data directory's state. Every
// setting can come from a flag, a CANOPY_* variable or the --config file
// (common/config.h).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "common/config.h"
#include "common/log.h"

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

// "k=v" items, from repeated --tag flags or the comma-separated `tags` setting.
Result<std::map<std::string, std::string>> parse_tags(const std::vector<std::string>& items) {
  std::map<std::string, std::string> tags;
  for (const std::string& item : items) {
    const size_t equals = item.find('=');
    if (equals == 0 || equals == std::string::npos)
      return canopy::make_error(ErrorCode::kInvalidArgument, "tag '" + item + "' must look like key=value");
    tags[item.substr(0, equals)] = item.substr(equals + 1);
  }
  return tags;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

Result<canopy::agent::AgentOptions> agent_options(const Config& config, std::vector<std::string> tag_flags,
                                                  bool once) {
  canopy::agent::AgentOptions options;
  CANOPY_ASSIGN_OR_RETURN(options.server_url, config.require("server"));
  CANOPY_ASSIGN_OR_RETURN(std::string data_dir, config.require("data_dir"));
  options.data_dir = data_dir;
  options.enrollment_token = config.get("enroll_token");
  options.name = config.get("name");
  if (tag_flags.empty()) tag_flags = split_commas(config.get("tags"));
  CANOPY_ASSIGN_OR_RETURN(options.tags, parse_tags(tag_flags));
  options.once = once;
  CANOPY_ASSIGN_OR_RETURN(long long attempts, config.get_int("agent.max_attempts", 3));
  if (attempts < 1)
    return canopy::make_error(ErrorCode::kInvalidArgument, "--max-attempts must be at least 1");
  options.max_attempts = static_cast<int>(attempts);
  CANOPY_ASSIGN_OR_RETURN(long long max_slot_bytes, config.get_int("agent.max_slot_bytes", 0));
  if (max_slot_bytes < 0)
    return canopy::make_error(ErrorCode::kInvalidArgument, "--max-slot-bytes must not be negative");
  options.max_slot_bytes = static_cast<std::uint64_t>(max_slot_bytes);
  options.crash_at = config.get("agent.crash_at");
  CANOPY_ASSIGN_OR_RETURN(options.engine.backend,
                          canopy::infer::parse_backend(config.get("backend", "auto")));
  CANOPY_ASSIGN_OR_RETURN(long long threads, config.get_int("threads", 1));
  options.engine.threads = static_cast<int>(std::max(1LL, threads));
  CANOPY_ASSIGN_OR_RETURN(long long backoff_initial, config.get_int("agent.backoff_initial_ms", 1000));
  CANOPY_ASSIGN_OR_RETURN(long long backoff_max, config.get_int("agent.backoff_max_ms", 300000));
  options.backoff_initial_ms = static_cast<long>(std::max(1LL, backoff_initial));
  options.backoff_max_ms = static_cast<long>(std::max(backoff_initial, backoff_max));
  return options;
}

void print_status(const canopy::Json& status) {
  const canopy::Json& state = status["state"];
  auto model = [](const canopy::Json& ref) {
    return ref.is_null()
               ? std::string("-")
               : ref["name"].get<std::string>() + ":" + std::to_string(ref["version"].get<long long>());
  };
  std::printf("device:     %s%s\n", status["device_id"].get<std::string>().c_str(),
              status["enrolled"].get<bool>() ? "" : " (not enrolled)");
  std::printf("state:      %s\n", state["phase"].get<std::string>().c_str());
  const std::string active = state["active_slot"].get<std::string>();
  for (const char* slot : {"a", "b"})
    std::printf("slot %s:     %s%s\n", slot, model(state["slots"][slot]).c_str(),
                active == slot ? "  (active)" : "");
  std::printf("current:    %s\n", model(status["current"]).c_str());
  std::printf("previous:   %s\n", model(status["previous"]).c_str());
  if (!state["target"].is_null())
    std::printf("updating:   %s (attempt %d)\n", model(state["target"]["model"]).c_str(),
                state["attempts"].get<int>());
  if (!state["failed"].is_null()) std::printf("failed:     %s\n", model(state["failed"]).c_str());
  std::printf("last error: %s\n", state["last_error"].get<std::string>().empty()
                                      ? "-"
                                      : state["last_error"].get<std::string>().c_str());
  std::printf("report:     %s\n",
              status["report_pending"].get<bool>() ? "pending (server not reached yet)" : "none pending");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"canopy-agent: keeps an edge device's detection model up to date.", "canopy-agent"};
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", std::string("canopy-agent ") + canopy::agent::kAgentVersion);
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
  flag(run, "--enroll-token", "enroll_token",
       "enrollment token cet_..., needed on first start (also CANOPY_ENROLL_TOKEN)");
  flag(run, "--name", "name", "device name in the inventory (default: host name)");
  std::vector<std::string> tags;
  run->add_option("--tag", tags, "device tag key=value (repeatable; also CANOPY_TAGS=k=v,k2=v2)");
  bool once = false;
  run->add_flag("--once", once, "one poll-and-update cycle, then exit (0: server reached and work done)");
  flag(run, "--max-attempts", "agent.max_attempts",
       "tries per version, restarts included, before giving it up (default 3)");
  flag(run, "--max-slot-bytes", "agent.max_slot_bytes",
       "cap on the model slots' disk use in bytes (default 0: free space)");
  flag(run, "--backend", "backend", "inference backend: auto, reference, onednn, xnnpack (default auto)");
  flag(run, "--threads", "threads", "inference threads (default 1)");
  run->callback([&] {
    canopy::init_logging({globals.verbose, globals.quiet});
    auto config = load_config(globals);
    if (!config.ok()) {
      exit_code = exit_code_for(config.error());
      return;
    }
    auto options = agent_options(*config, tags, once);
    if (!options.ok()) {
      exit_code = exit_code_for(options.error());
      return;
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
      print_status(*described);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
