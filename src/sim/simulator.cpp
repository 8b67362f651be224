#include "sim/simulator.h"

#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "common/text.h"
#include "sim/agent_supervisor.h"

namespace canopy::sim {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kTick{100};
// Agents start this far apart, as devices power up, so they do not all
// enroll and load their models at the same instant.
constexpr std::chrono::milliseconds kStartSpacing{100};
constexpr std::chrono::seconds kStopGrace{5};
// The agent waits up to 5 minutes between tries while offline; a simulated
// offline window lasts seconds, so the simulated devices retry sooner.
constexpr const char* kBackoffInitialMs = "500";
constexpr const char* kBackoffMaxMs = "4000";

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

AgentLaunch launch_for(const SimOptions& options, const DevicePlan& device, int proxy_port) {
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
  launch.env = {{"CANOPY_AGENT_BACKOFF_INITIAL_MS", kBackoffInitialMs},
                {"CANOPY_AGENT_BACKOFF_MAX_MS", kBackoffMaxMs}};
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
  CANOPY_ASSIGN_OR_RETURN(std::vector<DevicePlan> plan, plan_fleet(options.fleet));
  if (Status reachable = check_reachable(server.host, server.port); !reachable.ok())
    return reachable.error().with_context("cannot reach the server at " + options.server_url +
                                          " (is 'canopy server' running?)");

  std::error_code ec;
  std::filesystem::create_directories(options.dir / "logs", ec);
  if (ec)
    return make_error(ErrorCode::kIo,
                      "cannot create " + (options.dir / "logs").string() + ": " + ec.message());

  std::vector<SimDevice> devices;
  for (auto& device : plan) {
    CANOPY_ASSIGN_OR_RETURN(auto proxy,
                            FaultProxy::start(server.host, server.port, options.link,
                                              options.seed + static_cast<unsigned>(device.number)));
    auto agent = std::make_unique<AgentSupervisor>(launch_for(options, device, proxy->port()));
    devices.push_back({std::move(device), std::move(proxy), std::move(agent)});
  }
  print("sim: " + std::to_string(devices.size()) + " devices (" + devices.front().plan.name + " ... " +
        devices.back().plan.name + ") -> " + options.server_url + ", data in " + options.dir.string());
  print("sim: faults: " + describe_faults(options, devices));

  const Clock::time_point started = Clock::now();
  const auto elapsed_s = [&started](Clock::time_point now) {
    return std::chrono::duration<double>(now - started).count();
  };
  const auto line = [&](Clock::time_point now, const std::string& text) {
    char prefix[32];
    std::snprintf(prefix, sizeof prefix, "sim %4.0fs: ", elapsed_s(now));
    print(prefix + text);
  };
  Clock::time_point next_progress = started + std::chrono::seconds(options.progress_interval_s);
  Status result;
  while (!stop_requested && result.ok()) {
    const Clock::time_point now = Clock::now();
    const double t = elapsed_s(now);
    if (options.duration_s > 0 && t >= options.duration_s) break;
    for (size_t i = 0; i < devices.size() && result.ok(); ++i) {
      SimDevice& device = devices[i];
      const bool offline = offline_at(device.plan, t);
      if (offline != device.proxy->offline()) {
        device.proxy->set_offline(offline);
        line(now, device.plan.name + (offline ? " lost its network" : " is back online"));
      }
      if (now - started < kStartSpacing * static_cast<long>(i)) continue;
      auto event = device.agent->tend(now);
      if (!event.ok())
        result = event.error().with_context(device.plan.name);
      else if (event->has_value())
        line(now, device.plan.name + ": agent " + **event);
    }
    if (now >= next_progress) {
      next_progress += std::chrono::seconds(options.progress_interval_s);
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
      char text[256];
      std::snprintf(
          text, sizeof text,
          "%d of %zu agents running, %d restarts, %d offline; links: %llu connections, %llu dropped, "
          "%llu refused while offline, %.1f MB relayed",
          running, devices.size(), restarts, offline, static_cast<unsigned long long>(total.connections),
          static_cast<unsigned long long>(total.dropped), static_cast<unsigned long long>(total.refused),
          static_cast<double>(total.bytes) / 1e6);
      line(now, text);
    }
    std::this_thread::sleep_for(kTick);
  }

  for (auto& device : devices) device.agent->request_stop();
  const Clock::time_point deadline = Clock::now() + kStopGrace;
  for (auto& device : devices) device.agent->wait_stopped(deadline);
  line(Clock::now(), "stopped " + std::to_string(devices.size()) + " agents");
  return result;
}

}  // namespace canopy::sim
