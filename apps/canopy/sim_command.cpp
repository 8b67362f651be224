// canopy sim: a fleet of real canopy-agent processes behind fault-injecting
// proxies (src/sim, docs/simulator.md). Parses the flags, finds the agent
// binary and runs the simulation until --duration or Ctrl-C.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli.h"
#include "cli_support.h"
#include "common/time.h"
#include "sim/simulator.h"

namespace canopy::cli {

namespace {

std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void on_stop_signal(int) { stop_requested = true; }

struct SimArgs {
  sim::SimOptions options;
  std::vector<std::string> offline;
  std::vector<std::string> sensor_faults;
  std::vector<std::string> drifts;
  int frame_interval_s = 900;
  std::string agent;
  std::string start;
};

// --start: "2026-03-01T06:00:00Z", or a day, "2026-03-01", meaning its midnight UTC.
Result<std::int64_t> parse_start(const std::string& text) {
  auto parsed = parse_utc(text.size() == 10 ? text + "T00:00:00Z" : text);
  if (!parsed.ok())
    return make_error(
        ErrorCode::kInvalidArgument,
        "--start '" + text + "' must be a UTC time such as 2026-03-01T06:00:00Z or a day such as 2026-03-01");
  return *parsed;
}

// canopy-agent next to this canopy binary: both are installed (and built) into one directory.
Result<std::filesystem::path> find_agent(const std::string& flag) {
  std::error_code ec;
  std::filesystem::path agent = flag;
  if (agent.empty())
    agent = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "canopy-agent";
  if (ec || ::access(agent.c_str(), X_OK) != 0)
    return make_error(ErrorCode::kNotFound,
                      "canopy-agent not found at " + agent.string() + "; pass its path with --agent PATH");
  return agent;
}

}  // namespace

void register_sim_command(CLI::App& app, Globals& globals, int& exit_code) {
  auto args = std::make_shared<SimArgs>();
  sim::SimOptions& o = args->options;
  auto* command = app.add_subcommand(
      "sim", "Simulate a fleet: run N real canopy-agent processes, with network and device faults");
  command->add_option("--devices", o.fleet.devices, "number of devices")->required();
  command->add_option_function<std::string>(
      "--server", [&globals](const std::string& v) { globals.flags["server"] = v; },
      "server URL the devices talk to, e.g. http://127.0.0.1:8080 (also CANOPY_SERVER)");
  command->add_option_function<std::string>(
      "--enroll-token", [&globals](const std::string& v) { globals.flags["enroll_token"] = v; },
      "enrollment token with a use per device (also CANOPY_ENROLL_TOKEN)");
  command->add_option("--dir", o.dir, "directory for the devices' data (DIR/device-K) and logs (DIR/logs)")
      ->required();
  command->add_option("--fields", o.fleet.fields, "fields the devices are spread across, 1-6");
  command->add_option("--first-device", o.fleet.first_device,
                      "number of the first device, to add devices to a fleet another sim runs");
  command->add_option("--latency-ms", o.link.latency_ms, "delay added to every chunk relayed");
  command->add_option("--drop-rate", o.link.drop_rate,
                      "probability that a connection is cut within its first 4 KiB of answer");
  command->add_option("--bandwidth-kbps", o.link.bandwidth_kbps,
                      "bandwidth of each device's link (default: none)");
  command->add_option(
      "--offline", args->offline,
      "DEVICES:START_S:END_S, e.g. 3-5:10:40: devices 3 to 5 lose their network from 10 s to 40 s "
      "(repeatable)");
  command->add_option(
      "--crash-during-install", o.fleet.crash_during_install,
      "the first K devices are killed (SIGKILL) the first time they install; restarted, they recover");
  command->add_option("--full-disk", o.fleet.full_disk, "the last K devices have a full disk");
  command->add_option("--full-disk-bytes", o.full_disk_bytes,
                      "slot space of a full-disk device (default 1: no model fits)");
  command->add_option(
      "--speed", o.speed,
      "virtual time: this many virtual seconds per real second, followed by every agent and by "
      "--duration, --offline and the progress lines (default: real time)");
  command->add_option(
      "--start", args->start,
      "virtual time at the start, UTC, e.g. 2026-03-01T06:00:00Z (default: where the last run on "
      "--dir stopped, else now); implies --speed 1 unless given");
  command->add_flag(
      "--world", o.world,
      "give every device a simulated field (weather, soil water, plants, disease) that its agent "
      "watches and waters through sensor files, a camera spool and a file valve; needs --speed");
  command
      ->add_option("--frame-interval", args->frame_interval_s,
                   "(virtual) seconds between the frames each world's camera takes (default 900)")
      ->check(cli_support::integer_at_least(60));
  command->add_option(
      "--drift", args->drifts,
      "DEVICE:DAY:SCENARIO, e.g. 2:1:new-disease: from that day of the simulation on, the device's "
      "world looks different (new-disease, late-season, new-variety) (repeatable)");
  command->add_option(
      "--sensor-fault", args->sensor_faults,
      "DEVICE:SENSOR:KIND:FROM_H:UNTIL_H, e.g. 2:soil-zone-1:dead:30:40: a fault of a world's "
      "sensor (stuck, nan, crc, power_on_85, stale, dead) in hours from the start (repeatable)");
  command->add_option("--duration", o.duration_s,
                      "stop after this many (virtual) seconds (default: run until Ctrl-C)");
  command
      ->add_option("--progress-interval", o.progress_interval_s,
                   "(virtual) seconds between progress lines (default: 5 real seconds)")
      ->check(cli_support::integer_at_least(1));
  command->add_option("--seed", o.seed, "seed of the random connection drops");
  command->add_option("--agent", args->agent, "canopy-agent binary (default: the one next to canopy)");
  set_action(command, exit_code, [&globals, args]() -> Status {
    sim::SimOptions options = args->options;
    CANOPY_ASSIGN_OR_RETURN(options.server_url, globals.config.require("server"));
    CANOPY_ASSIGN_OR_RETURN(options.enroll_token, globals.config.require("enroll_token"));
    for (const auto& spec : args->offline) {
      CANOPY_ASSIGN_OR_RETURN(sim::OfflineWindow window, sim::parse_offline_window(spec));
      options.fleet.offline.push_back(window);
    }
    for (const auto& spec : args->drifts) {
      CANOPY_ASSIGN_OR_RETURN(sim::DeviceDrift drift, sim::parse_device_drift(spec));
      options.drifts.push_back(drift);
    }
    for (const auto& spec : args->sensor_faults) {
      CANOPY_ASSIGN_OR_RETURN(sim::DeviceSensorFault fault, sim::parse_device_sensor_fault(spec));
      options.sensor_faults.push_back(fault);
    }
    options.frame_interval_ms = std::int64_t{args->frame_interval_s} * 1000;
    if (!args->start.empty()) {
      CANOPY_ASSIGN_OR_RETURN(options.start_wall_ms, parse_start(args->start));
      if (options.speed == 0) options.speed = 1;
    }
    CANOPY_ASSIGN_OR_RETURN(options.agent_binary, find_agent(args->agent));
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    return sim::run_simulation(options, stop_requested, [](const std::string& line) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    });
  });
}

}  // namespace canopy::cli
