#include "sim/simulator.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "common/shared_clock.h"
#include "common/text.h"
#include "common/time.h"
#include "sim/agent_supervisor.h"
#include "sim/virtual_time.h"

namespace canopy::sim {

namespace {

// Agents start, die and are restarted in real time, whatever the speed of virtual time.
using RealClock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kTick{100};
// Agents start this far apart, as devices power up, so they do not all
// enroll and load their models at the same instant.
constexpr std::chrono::milliseconds kStartSpacing{100};
constexpr std::chrono::seconds kStopGrace{5};
// The agent waits up to 5 minutes between tries while offline; an offline
// window in real time lasts seconds, so the simulated devices retry sooner.
// In virtual time they keep their own backoff: a window lasts hours there.
constexpr const char* kBackoffInitialMs = "500";
constexpr const char* kBackoffMaxMs = "4000";
// A line every this many real seconds unless --progress-interval says otherwise.
constexpr int kProgressEveryRealS = 5;
// Beyond this, one step of the clock's thread (1 ms) is more than 100 s of virtual time.
constexpr double kFastestSpeed = 100'000;
constexpr const char* kClockFile = "clock";

struct Endpoint {
  std::string host;
  int port = 80;
};

Result<Endpoint> parse_server_url(const std::string& url) {
  const auto bad = [&] {
    return make_error(ErrorCode::kInvalidArgument,
                      "--server '" + url + "' must be an http:// URL such as http://127.0.0.1:8080");
  };
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return bad();
  std::string rest = url.substr(kScheme.size());
  if (rest.ends_with('/')) rest.pop_back();
  if (rest.empty() || rest.find('/') != std::string::npos) return bad();
  Endpoint endpoint;
  const size_t colon = rest.rfind(':');
  endpoint.host = rest.substr(0, colon);
  if (colon != std::string::npos) {
    const std::optional<std::int64_t> port = parse_int(std::string_view(rest).substr(colon + 1));
    if (!port || *port < 1 || *port > 65535) return bad();
    endpoint.port = static_cast<int>(*port);
  }
  if (endpoint.host.starts_with('[') && endpoint.host.ends_with(']'))
    endpoint.host = endpoint.host.substr(1, endpoint.host.size() - 2);
  return endpoint;
}

struct SimDevice {
  DevicePlan plan;
  std::unique_ptr<FaultProxy> proxy;
  std::unique_ptr<AgentSupervisor> agent;
};

AgentLaunch launch_for(const SimOptions& options, const DevicePlan& device, int proxy_port, bool virtual_time,
                       const FieldWorlds* worlds) {
  const std::string id = "device-" + std::to_string(device.number);
  AgentLaunch launch;
  launch.argv = {options.agent_binary.string(),
                 "run",
                 "--server",
                 "http://127.0.0.1:" + std::to_string(proxy_port),
                 "--data-dir",
                 (options.dir / id).string(),
                 "--enroll-token",
                 options.enroll_token,
                 "--name",
                 device.name};
  for (const auto& [key, value] : device.tags) {
    launch.argv.push_back("--tag");
    launch.argv.push_back(key + "=" + value);
  }
  if (device.full_disk) {
    launch.argv.push_back("--max-slot-bytes");
    launch.argv.push_back(std::to_string(options.full_disk_bytes));
  }
  if (virtual_time) {
    launch.argv.push_back("--simulated-clock");
    launch.argv.push_back((options.dir / kClockFile).string());
  } else {
    launch.env = {{"CANOPY_AGENT_BACKOFF_INITIAL_MS", kBackoffInitialMs},
                  {"CANOPY_AGENT_BACKOFF_MAX_MS", kBackoffMaxMs}};
  }
  if (worlds) {
    launch.argv.push_back("--field-config");
    launch.argv.push_back(worlds->field_config(device.number).string());
  }
  if (device.crash_during_install) launch.first_start_env = {{"CANOPY_AGENT_CRASH_AT", "installing"}};
  launch.log_file = options.dir / "logs" / (id + ".log");
  return launch;
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f s", seconds);
  return text;
}

std::string describe_faults(const SimOptions& options, const std::vector<SimDevice>& devices) {
  std::string text;
  const auto add = [&text](const std::string& item) {
    if (!text.empty()) text += ", ";
    text += item;
  };
  if (options.link.latency_ms > 0) add(std::to_string(options.link.latency_ms) + " ms latency per chunk");
  if (options.link.drop_rate > 0) {
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.0f%%", options.link.drop_rate * 100);
    add(std::string(rate) + " of connections dropped");
  }
  if (options.link.bandwidth_kbps > 0)
    add(std::to_string(options.link.bandwidth_kbps) + " kbit/s per device");
  for (const auto& device : devices) {
    if (device.plan.crash_during_install) add(device.plan.name + " crashes while installing");
    if (device.plan.full_disk) add(device.plan.name + " has a full disk");
  }
  for (const auto& window : options.fleet.offline) {
    std::string devices_text = std::to_string(window.first_device);
    if (window.last_device > window.first_device)
      devices_text.append(1, '-').append(std::to_string(window.last_device));
    add("devices " + devices_text + " offline " + seconds_text(window.start_s) + " to " +
        seconds_text(window.end_s));
  }
  return text.empty() ? "none" : text;
}

// Where virtual time starts: --start, else where the last run on this
// directory left it (its devices' records go on from there), else now.
std::int64_t virtual_start_ms(const SimOptions& options) {
  if (options.start_wall_ms > 0) return options.start_wall_ms;
  std::error_code ec;
  if (std::filesystem::exists(options.dir / kClockFile, ec))
    if (auto last = SharedFileClock::open(options.dir / kClockFile); last.ok()) return (*last)->wall_ms();
  return system_clock().wall_ms();
}

// One line for the fleet's fields: what the worlds' truth says so far.
std::string describe_worlds(const std::vector<WorldTally>& tallies) {
  double irrigation_mm = 0;
  std::int64_t open_minutes = 0;
  int openings = 0, plants = 0, diseased = 0, stressed = 0, frames = 0;
  double theta_min = 1, theta_max = 0;
  for (const WorldTally& tally : tallies) {
    irrigation_mm += tally.irrigation_mm;
    open_minutes += tally.valve_open_minutes;
    openings += tally.valve_openings;
    plants += tally.plants;
    diseased += tally.diseased;
    stressed += tally.stressed;
    frames += tally.frames;
    theta_min = std::min(theta_min, tally.theta);
    theta_max = std::max(theta_max, tally.theta);
  }
  char text[320];
  std::snprintf(text, sizeof text,
                "fields: soil %.1f-%.1f%% now, %d valve openings, %lld min open, %.0f mm irrigated in all; "
                "plants truly diseased %d, water-stressed %d of %d; %d frames",
                theta_min * 100, theta_max * 100, openings, static_cast<long long>(open_minutes),
                irrigation_mm, diseased, stressed, plants, frames);
  return text;
}

bool offline_at(const DevicePlan& device, double t) {
  for (const auto& window : device.offline)
    if (t >= window.start_s && t < window.end_s) return true;
  return false;
}

}  // namespace

Status run_simulation(const SimOptions& options, const std::atomic<bool>& stop_requested,
                      const std::function<void(const std::string&)>& print) {
  CANOPY_ASSIGN_OR_RETURN(Endpoint server, parse_server_url(options.server_url));
  if (options.enroll_token.empty())
    return make_error(
        ErrorCode::kInvalidArgument,
        "--enroll-token is required: create one with 'canopy enroll-token create --group G --uses N'");
  if (options.link.drop_rate < 0 || options.link.drop_rate > 1)
    return make_error(ErrorCode::kInvalidArgument, "--drop-rate must be between 0 and 1");
  if (options.link.latency_ms < 0 || options.link.bandwidth_kbps < 0)
    return make_error(ErrorCode::kInvalidArgument, "--latency-ms and --bandwidth-kbps must not be negative");
  if (options.speed < 0 || options.speed > kFastestSpeed)
    return make_error(ErrorCode::kInvalidArgument, "--speed must be above 0 and at most 100000");
  if (options.world && options.speed <= 0)
    return make_error(ErrorCode::kInvalidArgument,
                      "--world needs virtual time: give --speed (a week at 1000x takes 10 minutes)");
  if (!options.world && !options.sensor_faults.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "--sensor-fault needs --world: the faults are the worlds' sensors'");
  CANOPY_ASSIGN_OR_RETURN(std::vector<DevicePlan> plan, plan_fleet(options.fleet));
  if (Status reachable = check_reachable(server.host, server.port); !reachable.ok())
    return reachable.error().with_context("cannot reach the server at " + options.server_url +
                                          " (is 'canopy server' running?)");

  std::error_code ec;
  std::filesystem::create_directories(options.dir / "logs", ec);
  if (ec)
    return make_error(ErrorCode::kIo,
                      "cannot create " + (options.dir / "logs").string() + ": " + ec.message());

  std::unique_ptr<VirtualTime> virtual_time;
  const std::int64_t virtual_start = options.speed > 0 ? virtual_start_ms(options) : 0;
  if (options.speed > 0) {
    auto started = VirtualTime::start(options.dir / kClockFile, virtual_start, options.speed);
    if (!started.ok()) return started.error();
    virtual_time = std::move(*started);
  }
  Clock& clock = virtual_time ? virtual_time->clock() : system_clock();

  std::unique_ptr<FieldWorlds> worlds;
  if (options.world) {
    FieldWorldsOptions world_options;
    world_options.dir = options.dir;
    for (const auto& device : plan) {
      world_options.devices.push_back(device.number);
      world_options.fields[device.number] = device.tags.at("field");
    }
    world_options.seed = options.seed;
    world_options.start_ms = virtual_start;
    world_options.frame_interval_ms = options.frame_interval_ms;
    world_options.drifts = options.drifts;
    CANOPY_ASSIGN_OR_RETURN(worlds, FieldWorlds::start(world_options, options.sensor_faults, clock));
  }

  std::vector<SimDevice> devices;
  for (auto& device : plan) {
    CANOPY_ASSIGN_OR_RETURN(auto proxy,
                            FaultProxy::start(server.host, server.port, options.link,
                                              options.seed + static_cast<unsigned>(device.number)));
    auto agent = std::make_unique<AgentSupervisor>(
        launch_for(options, device, proxy->port(), virtual_time != nullptr, worlds.get()));
    devices.push_back({std::move(device), std::move(proxy), std::move(agent)});
  }
  print("sim: " + std::to_string(devices.size()) + " devices (" + devices.front().plan.name + " ... " +
        devices.back().plan.name + ") -> " + options.server_url + ", data in " + options.dir.string());
  print("sim: faults: " + describe_faults(options, devices));
  if (worlds) print("sim: a field world per device, ground truth in " + (options.dir / "truth").string());
  if (virtual_time) {
    char speed[32];
    std::snprintf(speed, sizeof speed, "%gx", options.speed);
    print("sim: virtual time from " + format_utc(virtual_start) + " at " + speed + " real time, in " +
          (options.dir / kClockFile).string());
  }

  // The schedule runs on `clock`: virtual time when there is one.
  const RealClock::time_point real_start = RealClock::now();
  const std::int64_t start_ms = clock.monotonic_ms();
  const auto elapsed_s = [&] { return static_cast<double>(clock.monotonic_ms() - start_ms) / 1000.0; };
  const auto line = [&](const std::string& text) {
    char prefix[32];
    if (virtual_time)
      std::snprintf(prefix, sizeof prefix, "sim %s: ", format_utc(clock.wall_ms()).c_str());
    else
      std::snprintf(prefix, sizeof prefix, "sim %4.0fs: ", elapsed_s());
    print(prefix + text);
  };
  const double progress_every_s = options.progress_interval_s > 0
                                      ? options.progress_interval_s
                                      : kProgressEveryRealS * (virtual_time ? options.speed : 1.0);
  double next_progress_s = progress_every_s;
  Status result;
  while (!stop_requested && result.ok()) {
    const RealClock::time_point now = RealClock::now();
    const double t = elapsed_s();
    if (options.duration_s > 0 && t >= options.duration_s) break;
    if (worlds) result = worlds->error();
    for (size_t i = 0; i < devices.size() && result.ok(); ++i) {
      SimDevice& device = devices[i];
      const bool offline = offline_at(device.plan, t);
      if (offline != device.proxy->offline()) {
        device.proxy->set_offline(offline);
        line(device.plan.name + (offline ? " lost its network" : " is back online"));
      }
      if (now - real_start < kStartSpacing * static_cast<long>(i)) continue;
      auto event = device.agent->tend(now);
      if (!event.ok())
        result = event.error().with_context(device.plan.name);
      else if (event->has_value())
        line(device.plan.name + ": agent " + **event);
    }
    if (t >= next_progress_s) {
      // One line however far time moved since the last (a fast clock may pass several intervals per tick).
      while (next_progress_s <= t) next_progress_s += progress_every_s;
      int running = 0, restarts = 0, offline = 0;
      LinkStats total;
      for (const auto& device : devices) {
        running += device.agent->running() ? 1 : 0;
        restarts += device.agent->restarts();
        offline += device.proxy->offline() ? 1 : 0;
        const LinkStats stats = device.proxy->stats();
        total.connections += stats.connections;
        total.refused += stats.refused;
        total.dropped += stats.dropped;
        total.bytes += stats.bytes;
      }
      char text[384];
      std::snprintf(
          text, sizeof text,
          "%d of %zu agents running, %d restarts, %d offline; links: %llu connections, %llu dropped, "
          "%llu refused while offline, %.1f MB relayed",
          running, devices.size(), restarts, offline, static_cast<unsigned long long>(total.connections),
          static_cast<unsigned long long>(total.dropped), static_cast<unsigned long long>(total.refused),
          static_cast<double>(total.bytes) / 1e6);
      if (virtual_time) {
        const double real_s = std::chrono::duration<double>(now - real_start).count();
        std::snprintf(text + std::strlen(text), sizeof text - std::strlen(text),
                      "; %.1f virtual hours in %.0f s, %.0fx real time", t / 3600, real_s,
                      real_s > 0 ? t / real_s : 0.0);
      }
      line(text);
      if (worlds) line(describe_worlds(worlds->tallies()));
    }
    std::this_thread::sleep_for(kTick);
  }

  for (auto& device : devices) device.agent->request_stop();
  const RealClock::time_point deadline = RealClock::now() + kStopGrace;
  for (auto& device : devices) device.agent->wait_stopped(deadline);
  line("stopped " + std::to_string(devices.size()) + " agents");
  if (worlds) {
    const std::vector<WorldTally> tallies = worlds->tallies();
    worlds.reset();  // no step after the agents stopped
    for (const WorldTally& tally : tallies) {
      char text[256];
      std::snprintf(text, sizeof text,
                    "field of device-%d (%s): soil %.1f%% now, valve opened %d times, %lld min open, "
                    "%.0f mm irrigated, %.0f mm rain; %d of %d plants truly diseased, %d water-stressed",
                    tally.device, tally.texture.c_str(), tally.theta * 100, tally.valve_openings,
                    static_cast<long long>(tally.valve_open_minutes), tally.irrigation_mm, tally.rain_mm,
                    tally.diseased, tally.plants, tally.stressed);
      line(text);
    }
  }
  return result;
}

}  // namespace canopy::sim
