// What a simulated field is made of: its weather, its irrigation zones (soil,
// root depth, area, the valve's flow), its cameras and the plants each one
// sees, disease, drift and sensor faults. A plain struct with defaults;
// default_world_config() derives a device's world from its index and the
// simulation's seed, so a fleet's fields differ (sand and loam alternate)
// and each stays the same from one run to the next.
// Thread-safety: values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "device/sensors.h"
#include "world/crop.h"
#include "world/sensor_files.h"
#include "world/soil_water.h"
#include "world/weather.h"

namespace canopy::world {

struct ZoneConfig {
  std::string name = "zone-1";
  std::string texture = "loam";  // sand, loam, clay: θFC, θWP and infiltration from it
  SoilWaterConfig water;         // its soil is set from `texture` unless `custom_soil`
  bool custom_soil = false;
};

struct CameraConfig {
  std::string id = "cam-1";
  std::string zone = "zone-1";
  int width = 480, height = 360;
  bool oblique = false;
  int rows = 2, plants_per_row = 4;   // the plants it sees, in a grid
  double plant_radius = 0.09;         // a fraction of the frame's width
  std::int64_t interval_ms = 60'000;  // for the field configuration
};

// From `day` on (days after the first), the renderer draws `scenario`.
struct DriftEvent {
  int day = 0;
  std::string scenario = "new-disease";
};

struct WorldConfig {
  std::string field;  // the field's name, in the device's field configuration (empty: none)
  std::uint64_t seed = 1;
  std::int64_t start_ms = 1'780'272'000'000;  // 2026-06-01T00:00:00Z: summer, thirsty plants
  WeatherConfig weather;
  std::vector<ZoneConfig> zones = {ZoneConfig{}};
  std::vector<CameraConfig> cameras = {CameraConfig{}};
  CropConfig crop;
  std::string scenario = "baseline";
  std::vector<DriftEvent> drifts;
  device::SoilProbeCalibration probe;
  SensorNoise noise;
  std::vector<SensorFault> faults;
  int jpeg_quality = 85;
  std::int64_t sensor_period_ms = 60'000;  // for the field configuration
};

// Every zone's soil set from its texture, and the whole checked: names
// unique and plain, every camera's zone known, faults on sensors the device
// has, scenarios known, numbers in range. The error names the setting.
Result<WorldConfig> resolve_world_config(WorldConfig config);

// Device `device_index` (1-based) of a simulation seeded `seed`: its own
// seed, one zone of sand (odd devices) or loam (even) watered by a file
// valve, one camera watching 2×4 plants of it, and one disease onset drawn
// within the first ten days.
WorldConfig default_world_config(int device_index, std::uint64_t seed);

}  // namespace canopy::world
