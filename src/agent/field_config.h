// The field configuration: one YAML file on the device (docs/field.md)
// naming its cameras, sensors and irrigation zones with their rules. Every
// mistake is an error at FILE:LINE:COLUMN, and a configuration is checked
// whole (names unique, every reference resolved, the rules consistent)
// before the loop uses any of it, so a bad file never half-applies.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "collect/selection.h"
#include "common/error.h"
#include "device/sensors.h"
#include "field/irrigation.h"
#include "field/plants.h"
#include "field/sensor_health.h"

namespace canopy::agent {

enum class CameraKind { kSpool, kCommand, kHttp, kV4l2 };

struct CameraConfig {
  std::string id;
  CameraKind kind = CameraKind::kSpool;
  std::filesystem::path spool;       // kSpool
  std::vector<std::string> command;  // kCommand
  std::string url;                   // kHttp
  std::filesystem::path device;      // kV4l2
  int width = 640, height = 480;     // kV4l2: the size asked for
  std::int64_t interval_ms = 60'000;
  std::int64_t max_frame_age_ms = 300'000;  // an older frame is skipped, not judged
  std::string zone;                         // the zone whose plants it watches
};

enum class SensorSource { kHwmon, kW1, kIio, kSenml, kFile };

struct SensorConfig {
  std::string name;
  std::string measures;  // soil_moisture, air_temperature, relative_humidity, or another name
  std::string unit;
  SensorSource source = SensorSource::kFile;
  std::filesystem::path path;        // hwmon, w1, file; iio: the raw channel
  std::filesystem::path scale_path;  // iio
  device::SoilProbeCalibration calibration;
  std::vector<std::string> command;  // senml
  std::string senml_name;            // senml
  std::int64_t period_ms = 60'000;
  field::SensorRules rules;
};

enum class ValveKind { kCommand, kFile, kGpio };

struct ZoneConfig {
  std::string name;
  std::string soil_sensor;  // a sensor that measures soil_moisture
  field::ZoneRules rules;
  ValveKind valve = ValveKind::kFile;
  std::vector<std::string> valve_command;
  std::filesystem::path valve_file;
  std::string gpio_chip;  // kGpio
  unsigned gpio_line = 0;
  bool gpio_active_low = false;
  std::int64_t period_ms = 60'000;
};

// What becomes of the frames hard-case selection keeps: each is resized to
// at most `max_side` pixels and JPEG-encoded, at a lower quality when it
// would pass `max_bytes`.
struct SampleImageRules {
  int max_side = 640;
  int jpeg_quality = 85;
  int max_bytes = 150'000;
};

struct FieldConfig {
  std::string field;        // the field's name, carried on every sample; may be empty
  double latitude_deg = 0;  // for extraterrestrial radiation in Hargreaves' ET0
  std::vector<CameraConfig> cameras;
  std::vector<SensorConfig> sensors;
  std::vector<ZoneConfig> zones;
  field::TrackerRules tracking;
  field::AlertRules alerts;
  // Detections scoring at least this are kept with their raw scores, before
  // the model's own confidence threshold decides what counts as seen.
  double raw_score_floor = 0.05;
  std::int64_t telemetry_period_ms = 60'000;
  collect::SelectionRules selection;
  SampleImageRules sample_images;

  const SensorConfig* sensor(std::string_view name) const;
};

// `file` names the configuration in errors.
Result<FieldConfig> parse_field_config(std::string_view text, const std::string& file);
Result<FieldConfig> load_field_config(const std::filesystem::path& path);

}  // namespace canopy::agent
