// The fleet simulator behind `canopy sim`: runs one real canopy-agent per
// simulated device, each with its own data directory DIR/device-K, name and
// tags (fleet_plan.h), each talking to the server through its own fault
// proxy (fault_proxy.h), each kept running by a supervisor
// (agent_supervisor.h). Device faults go to the agents: a crash while
// installing (CANOPY_AGENT_CRASH_AT=installing, on the first start only) and
// a full disk (--max-slot-bytes). Network faults and offline windows are the
// proxies'. With a speed, time is virtual: DIR/clock (virtual_time.h) runs
// that many times faster than real time, every agent follows it
// (--simulated-clock), and so does the simulation's own schedule: duration,
// offline windows and progress lines. With a world, each agent runs its
// field loop on the files of its own simulated field (field_worlds.h).
// Thread-safety: run_simulation blocks its thread; `stop_requested` may be set
// from any thread or a signal handler.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "common/error.h"
#include "sim/fault_proxy.h"
#include "sim/field_worlds.h"
#include "sim/fleet_plan.h"

namespace canopy::sim {

struct SimOptions {
  std::string server_url;  // http://HOST[:PORT]
  std::string enroll_token;
  std::filesystem::path dir;           // DIR/device-K data directories, DIR/logs/device-K.log agent logs
  std::filesystem::path agent_binary;  // canopy-agent
  FleetPlanOptions fleet;
  LinkFaults link;                    // every device's link
  std::uint64_t full_disk_bytes = 1;  // slot space of a full-disk device: 1 byte fits no model
  // Virtual seconds per real second; 0: no virtual time, the agents run on
  // the system clock and the schedule below is in real seconds.
  double speed = 0;
  // Virtual time at the start (Unix ms); 0: where DIR/clock stopped in the
  // last run on DIR, else the real time now.
  std::int64_t start_wall_ms = 0;
  // A simulated field per device (field_worlds.h); needs virtual time.
  bool world = false;
  std::int64_t frame_interval_ms = 900'000;  // how often each camera of a world takes a frame
  std::vector<DeviceSensorFault> sensor_faults;
  std::vector<DeviceDrift> drifts;  // with `world`
  double duration_s = 0;            // 0: until stop_requested
  int progress_interval_s = 0;      // 0: every 5 real seconds (5 × speed virtual seconds)
  unsigned seed = 1;                // drop decisions of device K's link use seed + K
};

// Runs the fleet until `duration_s` has passed or `stop_requested` is set,
// then stops every agent (SIGTERM, SIGKILL after 5 s). Progress and events
// go to `print`, one line each. Fails when the options are invalid, the
// server cannot be reached at start, or an agent cannot run.
Status run_simulation(const SimOptions& options, const std::atomic<bool>& stop_requested,
                      const std::function<void(const std::string&)>& print);

}  // namespace canopy::sim
