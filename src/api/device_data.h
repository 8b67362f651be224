// What a device's field loop sends the server through its outbox
// (docs/field.md): records in streams, each record numbered per (device,
// stream) so the server stores it exactly once however often it arrives.
// POST /api/v1/device/records carries a RecordBatch; the answer is a
// RecordAck, after which the device may forget what it acknowledges.
// Each body type has one JSON form: to_json() writes it, from_json() reads
// it and names the field it gets wrong.
// Thread-safety: plain values.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json.h"

namespace canopy::api {

// The streams in priority order: the first is sent first and kept longest.
// Alerts and actuations are never evicted; the rest give way, lowest first
// and oldest first within a stream, when the outbox reaches its cap.
// Samples (api/samples.h) are the last: the hard cases wait through an
// outage, but they are the first to give way to the field's own record.
enum class Stream { kAlerts, kActuations, kReadings, kPlants, kTelemetry, kImages, kSamples };
inline constexpr std::array<Stream, 7> kStreams = {Stream::kAlerts, Stream::kActuations, Stream::kReadings,
                                                   Stream::kPlants, Stream::kTelemetry,  Stream::kImages,
                                                   Stream::kSamples};
std::string_view stream_name(Stream stream);
std::optional<Stream> parse_stream(std::string_view text);
inline bool may_evict(Stream stream) { return stream != Stream::kAlerts && stream != Stream::kActuations; }

// One sensor reading, valid or not: an invalid one says why and has no value.
struct Reading {
  std::string sensor;  // its name in the field configuration
  std::string kind;    // soil_moisture, air_temperature, relative_humidity, ...
  std::string unit;    // m3/m3, degC, %
  std::optional<double> value;
  std::string status = "valid";  // field::sensor_status_name
  std::string reason;            // why not valid

  Json to_json() const;
  static Result<Reading> from_json(const Json& json);
};

// A zone alert raised or cleared, or a device alert: a sensor or camera
// that fails, a field configuration the device refused.
struct AlertEvent {
  std::string zone;       // empty for a device alert
  std::string condition;  // diseased, water-stressed, sensor, config
  std::string subject;    // the sensor or camera, or "field-config"; empty for a plant alert
  bool raised = true;     // false: cleared
  std::string severity;   // critical, warning, info
  int plants = 0;         // plants with the condition in the zone
  std::string message;

  Json to_json() const;
  static Result<AlertEvent> from_json(const Json& json);
};

// A valve switched, and why.
struct ActuationEvent {
  std::string zone;
  bool open = false;
  std::string reason;
  std::optional<double> theta;  // the soil reading it acted on, when valid

  Json to_json() const;
  static Result<ActuationEvent> from_json(const Json& json);
};

// A plant's agreed state changed.
struct PlantChangeEvent {
  std::string camera;
  std::string zone;
  int plant_id = 0;
  double cx = 0, cy = 0;  // position in the frame, 0..1
  std::string from, to;   // field::plant_state_name

  Json to_json() const;
  static Result<PlantChangeEvent> from_json(const Json& json);
};

// Counters and gauges over one telemetry period, by name (camera.ID.fps,
// inference_ms, cpu_percent, rss_bytes, disk_free_bytes,
// outbox.STREAM.records, sensor.NAME.mean, ...), and the detection
// confidences of the period in ten bins of 0.1, of the detector `model`
// (NAME:VERSION; empty when none ran) in the device's `field`: the server's
// drift monitor compares them per model version and field.
struct Telemetry {
  std::int64_t period_s = 0;
  std::map<std::string, double> values;
  std::array<std::int64_t, 10> confidence_histogram{};
  std::string model;
  std::string field;

  Json to_json() const;
  static Result<Telemetry> from_json(const Json& json);
};

// A frame kept as evidence (the first frame of an alert), JPEG in base64.
struct FrameImage {
  std::string camera;
  std::string reason;
  int width = 0, height = 0;
  std::string jpeg_base64;

  Json to_json() const;
  static Result<FrameImage> from_json(const Json& json);
};

inline constexpr std::size_t kMaxImageBase64 = 4u << 20;

// One record. `seq` counts from 1 per (device, stream) and only grows, so a
// record resent after a lost answer is recognised; gaps are records the
// device evicted. `at_ms` is the device's clock (Unix ms) when it was made.
struct DeviceRecord {
  Stream stream = Stream::kReadings;
  std::int64_t seq = 0;
  std::int64_t at_ms = 0;
  Json body;  // the stream's body type, as JSON

  Json to_json() const;
  // Checks the envelope and the body against the stream's type.
  static Result<DeviceRecord> from_json(const Json& json);
};

inline constexpr std::size_t kMaxRecordsPerBatch = 1000;

struct RecordBatch {
  std::vector<DeviceRecord> records;

  Json to_json() const;
  // Refuses the whole batch for one bad record, naming it by its index.
  static Result<RecordBatch> from_json(const Json& json);
};

// Per stream, the highest sequence number the server has stored from the
// batch (whether now or before): everything up to it may be forgotten.
struct RecordAck {
  std::map<Stream, std::int64_t> acked;

  Json to_json() const;
  static Result<RecordAck> from_json(const Json& json);
};

}  // namespace canopy::api
