// One device's simulated field: weather, each zone's soil water, the plants
// and their conditions, drift, and the device's cameras and sensors, moved
// through time by the caller (`canopy sim` on its virtual clock, or a test).
//
//   auto world = FieldWorld::create(default_world_config(k, seed), DIR/device-k/field, DIR/truth/device-k);
//   write_file(DIR/device-k/field.yaml, world->field_config_yaml());   // the agent's --field-config
//   every minute of virtual time:
//     world->follow_valves(now);       // the agent's file valves water the soil from now on
//     world->advance_to(now);
//     world->publish_sensors(now);     // sysfs-like files the agent reads
//     world->publish_frame("cam-1", now);  // a JPEG into the camera's spool
//
// The ground truth goes to the truth directory (world/truth_log.h) and
// nowhere else; the device directory holds only what hardware would show.
// Deterministic: the same configuration (seed included) and the same calls
// give the same frames, files and truth bytes; draws are keyed by purpose
// (world/random_streams.h), so rendering or reading more often changes nothing else.
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "vision/boxes.h"
#include "world/crop.h"
#include "world/sensor_files.h"
#include "world/soil_water.h"
#include "world/truth_log.h"
#include "world/weather.h"
#include "world/world_config.h"

namespace canopy::world {

// A plant as a frame shows it.
struct TrueObject {
  int plant = 0;  // the plant's id
  PlantCondition condition = PlantCondition::kHealthy;
  int severity = 0;
  std::string disease;
  vision::Box box;  // pixels
};

struct Frame {
  std::string camera;
  std::string file_name;  // CAMERA-WALLMS.jpg
  std::int64_t at_ms = 0;
  std::string scenario;
  std::string jpeg;
  int width = 0, height = 0;  // pixels of the image the boxes are in
  std::vector<TrueObject> objects;
  Air air;
};

class FieldWorld {
 public:
  // Checks `config` (resolve_world_config) and starts the world at its start_ms.
  static Result<FieldWorld> create(WorldConfig config, std::filesystem::path device_dir,
                                   std::filesystem::path truth_dir);

  // Moves the world on to `wall_ms` in steps of at most a minute (never back).
  Status advance_to(std::int64_t wall_ms);
  // Opens or closes `zone`'s valve at `at_ms` (the world first advances to it).
  Status set_valve(const std::string& zone, bool open, std::int64_t at_ms);
  // Sets each zone's valve at `at_ms` from the agent's file valve.
  Status follow_valves(std::int64_t at_ms);

  // Renders `camera`'s view at `at_ms` (advancing to it); writes nothing.
  Result<Frame> capture(const std::string& camera, std::int64_t at_ms);
  // Captures and puts the JPEG into the camera's spool as a camera would
  // (hidden name, file time = at_ms, renamed in), with its truth line.
  Result<Frame> publish_frame(const std::string& camera, std::int64_t at_ms);
  // Advances to `at_ms` and writes the sensors' files.
  Status publish_sensors(std::int64_t at_ms);

  // The agent's field configuration for this device, pointing at its files.
  std::string field_config_yaml() const;

  SensorReadings true_readings() const;
  std::string scenario_at(std::int64_t wall_ms) const;
  std::int64_t now_ms() const { return now_ms_; }
  const Weather& weather() const { return weather_; }
  const SoilWaterBalance& soil(const std::string& zone) const { return soils_.at(zone); }
  const Crop& crop() const { return crop_; }
  const WorldConfig& config() const { return config_; }
  const DeviceFiles& files() const { return sensors_.files(); }

 private:
  FieldWorld(WorldConfig config, std::vector<PlantSpot> spots, std::filesystem::path device_dir,
             std::filesystem::path truth_dir);
  Status log_soil(const std::string& zone);
  Status log_day(std::int64_t utc_day);

  WorldConfig config_;
  Weather weather_;
  std::map<std::string, SoilWaterBalance> soils_;
  Crop crop_;
  SensorFileWriter sensors_;
  TruthLog truth_;
  std::int64_t now_ms_;
};

}  // namespace canopy::world
