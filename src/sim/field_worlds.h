// The simulated fields of a fleet: one world::FieldWorld per device, moved
// on by a thread of its own every virtual minute of the simulation's clock.
// Each step carries the agent's file valves into the world, writes the
// sensor files, and drops a frame into each camera's spool when one is due;
// the agent sees nothing but those files, as it would on hardware. A step
// that wakes late catches up in one move (the world integrates minute by
// minute inside it) and renders only the newest frame that was due.
//
// Device K's world lives in DIR/device-K/field (what the agent reads and
// writes) and its ground truth in DIR/truth/device-K, outside every agent's
// directory.
// Thread-safety: tallies() and error() may be called from any thread while
// the stepping thread runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "world/field_world.h"

namespace canopy::sim {

// A drift of one device's world: from `event.day` (days after the start) on,
// its camera sees `event.scenario`.
struct DeviceDrift {
  int device = 0;
  world::DriftEvent event;
};

struct FieldWorldsOptions {
  std::filesystem::path dir;          // the simulation's directory
  std::vector<int> devices;           // device numbers, 1-based
  std::map<int, std::string> fields;  // a device's field name, written into its field configuration
  std::uint64_t seed = 1;
  std::int64_t start_ms = 0;           // the worlds' first instant: the virtual start
  std::int64_t frame_interval_ms = 0;  // 0: the world's default per camera
  std::vector<DeviceDrift> drifts;
};

// A sensor fault of one device, from the command line.
struct DeviceSensorFault {
  int device = 0;
  world::SensorFault fault;  // from_ms and until_ms count from the virtual start
};

// What one device's world has seen so far, for progress lines and the summary.
struct WorldTally {
  int device = 0;
  std::string texture;
  double theta = 0;  // the first zone's true soil moisture now
  double irrigation_mm = 0, rain_mm = 0;
  std::int64_t valve_open_minutes = 0;  // counted at each step
  int valve_openings = 0;
  int plants = 0, diseased = 0, stressed = 0;  // the truth now
  int frames = 0;
};

class FieldWorlds {
 public:
  // Creates every device's world and field configuration file, writes the
  // first sensor files, and starts stepping on `clock`.
  static Result<std::unique_ptr<FieldWorlds>> start(const FieldWorldsOptions& options,
                                                    const std::vector<DeviceSensorFault>& faults,
                                                    Clock& clock);
  ~FieldWorlds();  // stops the stepping thread
  FieldWorlds(const FieldWorlds&) = delete;
  FieldWorlds& operator=(const FieldWorlds&) = delete;

  // The field configuration device `number`'s agent is started with.
  std::filesystem::path field_config(int number) const;
  std::vector<WorldTally> tallies() const;
  // The first error a step met, if any; stepping stops at it.
  Status error() const;

 private:
  struct DeviceWorld;
  FieldWorlds(Clock& clock, std::vector<std::unique_ptr<DeviceWorld>> worlds, std::int64_t frame_interval_ms);
  void run();
  Status step(DeviceWorld& world, std::int64_t now_ms);

  Clock& clock_;
  std::vector<std::unique_ptr<DeviceWorld>> worlds_;
  std::int64_t frame_interval_ms_;
  mutable std::mutex mutex_;  // guards the tallies and error_
  Status error_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// "K:SENSOR:KIND:FROM_H:UNTIL_H", e.g. "2:soil-zone-1:dead:30:40": device
// 2's soil probe is gone from hour 30 to hour 40 of the simulation.
Result<DeviceSensorFault> parse_device_sensor_fault(const std::string& text);

// "K:DAY:SCENARIO", e.g. "2:1:new-disease": device 2's camera sees a new
// disease from the second day on.
Result<DeviceDrift> parse_device_drift(const std::string& text);

}  // namespace canopy::sim
