// Bodies of each stream's type and a look at the outbox's files, shared by
// the outbox tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "api/device_data.h"
#include "common/json.h"

namespace canopy::outbox::testing {

inline Json reading_body(int i) {
  api::Reading reading;
  reading.sensor = "soil-" + std::to_string(i % 4);
  reading.kind = "soil_moisture";
  reading.unit = "m3/m3";
  reading.value = 0.1 + 0.001 * i;
  return reading.to_json();
}

inline Json alert_body(int i) {
  api::AlertEvent alert;
  alert.zone = "zone-" + std::to_string(i % 3);
  alert.condition = "diseased";
  alert.severity = "warning";
  alert.plants = i;
  return alert.to_json();
}

inline Json actuation_body(int i) {
  api::ActuationEvent actuation;
  actuation.zone = "zone-" + std::to_string(i % 3);
  actuation.open = i % 2 == 0;
  actuation.reason = "below threshold";
  return actuation.to_json();
}

inline Json plant_body(int i) {
  api::PlantChangeEvent plant;
  plant.camera = "cam-1";
  plant.plant_id = i;
  plant.from = "healthy";
  plant.to = "diseased";
  return plant.to_json();
}

inline Json telemetry_body(int i) {
  api::Telemetry telemetry;
  telemetry.period_s = 60;
  telemetry.values["cpu_percent"] = i % 100;
  return telemetry.to_json();
}

// An image whose JSON is about `bytes` long.
inline Json image_body(int i, std::size_t bytes = 600) {
  api::FrameImage image;
  image.camera = "cam-1";
  image.width = 64;
  image.height = 48;
  image.jpeg_base64 = std::string(bytes, static_cast<char>('A' + i % 26));
  return image.to_json();
}

inline Json body_for(api::Stream stream, int i) {
  switch (stream) {
    case api::Stream::kAlerts:
      return alert_body(i);
    case api::Stream::kActuations:
      return actuation_body(i);
    case api::Stream::kReadings:
      return reading_body(i);
    case api::Stream::kPlants:
      return plant_body(i);
    case api::Stream::kTelemetry:
      return telemetry_body(i);
    case api::Stream::kImages:
    case api::Stream::kSamples:  // the outbox does not read bodies
      return image_body(i);
  }
  return {};
}

// The bytes of every segment file under `dir`: what the cap limits.
inline std::uint64_t segment_bytes_on_disk(const std::filesystem::path& dir) {
  std::uint64_t total = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".seg") total += entry.file_size();
  return total;
}

inline std::size_t segment_count(const std::filesystem::path& dir, api::Stream stream) {
  std::size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir / std::string(api::stream_name(stream))))
    if (entry.path().extension() == ".seg") ++count;
  return count;
}

}  // namespace canopy::outbox::testing
