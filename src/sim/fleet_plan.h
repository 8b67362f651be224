// Who the simulated devices are: for device k, its name, tags and the faults
// it gets. Fields are dealt round-robin (device 1 in the first field, 2 in the
// second, ...) and numbered within their field, so device 4 of three fields
// is north-field-cam-2 with tags field=north, zone=1, crop=wheat,
// hardware=rpi4. The first `crash_during_install` devices crash once while
// installing; the last `full_disk` devices have a full disk.
// Thread-safety: plain values and pure functions.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace canopy::sim {

// Devices first_device..last_device are disconnected from start_s to end_s
// after the simulation started.
struct OfflineWindow {
  int first_device = 0;
  int last_device = 0;
  double start_s = 0;
  double end_s = 0;
};

// "3:10:40" (device 3) or "3-5:10:40" (devices 3 to 5), times in seconds.
Result<OfflineWindow> parse_offline_window(std::string_view spec);

struct FleetPlanOptions {
  int devices = 0;
  int first_device = 1;  // number of the first device: a second simulator can add devices to a fleet
  int fields = 3;        // 1 to 6
  int crash_during_install = 0;
  int full_disk = 0;
  std::vector<OfflineWindow> offline = {};
};

struct DevicePlan {
  int number = 0;
  std::string name;
  std::map<std::string, std::string> tags;
  bool crash_during_install = false;
  bool full_disk = false;
  std::vector<OfflineWindow> offline;  // the windows that name this device
};

// Fails with a message naming the flag when the options do not fit together.
Result<std::vector<DevicePlan>> plan_fleet(const FleetPlanOptions& options);

}  // namespace canopy::sim
