// What an operator reads of the records devices send (docs/field.md, "On the
// server"): stored readings, telemetry, valve actuations and plant changes,
// each with when the device made it and when the server received it, and the
// alerts the server keeps from the alert stream, which an operator
// acknowledges. The server's routes write these; the client and the CLI
// read them. Each type has one JSON form: to_json() writes it, from_json()
// reads it and names the field it gets wrong.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "api/device_data.h"
#include "common/error.h"
#include "common/json.h"

namespace canopy::api {

// One stored record of a device: its body (Reading, Telemetry,
// ActuationEvent or PlantChangeEvent) with the envelope. The JSON form is
// the body's members plus "seq", "at_ms" and "received_at".
template <typename Body>
struct StoredRecord {
  std::int64_t seq = 0;
  std::int64_t at_ms = 0;   // the device's clock when it made the record, Unix ms
  std::string received_at;  // the server's clock when it stored it, UTC text
  Body body;

  Json to_json() const;
  static Result<StoredRecord> from_json(const Json& json);
};

using StoredReading = StoredRecord<Reading>;
using StoredTelemetry = StoredRecord<Telemetry>;
using StoredActuation = StoredRecord<ActuationEvent>;
using StoredPlantChange = StoredRecord<PlantChangeEvent>;

// Where a stored body type comes from and how an operator reads it:
// GET /api/v1/devices/{id}/PATH?SUBJECT=...&since_ms=&limit= answers
// {"PATH": [records]}. `subject` names the query parameter that filters by
// the record's sensor or zone; empty when the stream has none.
struct RecordKind {
  Stream stream;
  std::string_view path;
  std::string_view subject;
};

template <typename Body>
constexpr RecordKind record_kind() {
  if constexpr (std::is_same_v<Body, Reading>) return {Stream::kReadings, "readings", "sensor"};
  if constexpr (std::is_same_v<Body, Telemetry>) return {Stream::kTelemetry, "telemetry", ""};
  if constexpr (std::is_same_v<Body, ActuationEvent>) return {Stream::kActuations, "irrigation", "zone"};
  if constexpr (std::is_same_v<Body, PlantChangeEvent>) return {Stream::kPlants, "plants", "zone"};
}

// open: raised and not yet seen; acked: an operator acknowledged it and the
// condition holds still; cleared: the device cleared it (whether acked or not).
enum class AlertState { kOpen, kAcked, kCleared };
std::string_view alert_state_name(AlertState state);
std::optional<AlertState> parse_alert_state(std::string_view text);

// An alert as the server keeps it: one per raise of (device, zone, condition,
// subject), until the device clears it.
struct Alert {
  std::int64_t id = 0;  // what an operator acknowledges it by
  std::string device_id;
  std::string zone;
  std::string condition;
  std::string subject;
  std::string severity;  // of the latest raise
  int plants = 0;
  std::string message;
  AlertState state = AlertState::kOpen;
  std::int64_t raised_at_ms = 0;              // device clock
  std::optional<std::int64_t> cleared_at_ms;  // device clock
  std::string acked_by;                       // the API key's name; empty until acked
  std::string acked_at;                       // server clock, UTC text; empty until acked

  Json to_json() const;
  static Result<Alert> from_json(const Json& json);
};

// The most rows one operator read answers, and how many it answers unasked.
inline constexpr int kMaxRowsPerRead = 1000;
inline constexpr int kDefaultRowsPerRead = 100;

}  // namespace canopy::api
