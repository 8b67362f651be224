// The field data area (docs/field.md, "On the server"): the records devices
// send through their outbox, stored exactly once per (device, stream, seq),
// and the alerts kept from the alert stream, which operators acknowledge.
//
// A batch is stored in one transaction: every record of it or none. A record
// the store already holds (a batch sent again after a lost answer) is
// skipped, and counts as stored in the acknowledgement. Readings, telemetry,
// actuations, plant changes and images are kept as the device sent their
// bodies; alert records also open, update and clear rows of `field_alerts`,
// in the order the device numbered them. Readings, telemetry and images are
// kept per device up to a bound (FieldDataOptions).
//
// The area knows a device only by the id the HTTP layer authenticated; it
// never reads the fleet's tables. Times it records come from its Clock.
//
// Thread-safety: every public method may be called from any thread; the
// connection is guarded by the area's own mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/device_data.h"
#include "api/field_data.h"
#include "common/clock.h"
#include "common/error.h"
#include "server/storage/sqlite.h"

namespace canopy::server {

// Which stored records of one device to answer, newest first.
struct RecordQuery {
  std::string subject;        // the sensor of a reading, the zone of an actuation or plant change; empty: all
  std::int64_t since_ms = 0;  // only records the device made at or after this (Unix ms)
  int limit = api::kDefaultRowsPerRead;
};

struct AlertQuery {
  std::string device_id;                 // empty: every device
  std::optional<api::AlertState> state;  // nullopt: every state
  int limit = api::kDefaultRowsPerRead;
};

// How much of the streams that only describe the field is kept per device:
// the records with the newest `max_*` sequence numbers of each. A stored
// batch deletes what falls below that window, and a record resent from
// below it is deleted in the same transaction (it still counts as stored).
// Alerts, actuations and plant changes are the field's history and are kept
// whole. 0 keeps everything.
struct FieldDataOptions {
  std::int64_t max_readings = 100'000;  // two weeks of five sensors read every minute
  std::int64_t max_telemetry = 20'000;  // two weeks of one period a minute
  std::int64_t max_images = 100;        // a frame is up to 3 MiB
};

class FieldData {
 public:
  // Migrates the area's tables on `db` (a connection of its own). `clock`
  // must outlive the FieldData.
  static Result<std::unique_ptr<FieldData>> open(Database db, Clock& clock, FieldDataOptions options = {});

  // Stores the records of `batch` that are new, in one transaction. Answers,
  // per stream in the batch, the highest seq in it: all of them are stored
  // once this returns. On an error nothing of the batch is stored. With
  // `fresh`, the records stored for the first time are added to it (a
  // batch sent again adds none).
  Result<api::RecordAck> store(const std::string& device_id, const api::RecordBatch& batch,
                               std::vector<const api::DeviceRecord*>* fresh = nullptr);

  // Stored records of `device_id` on Body's stream, newest (by the device's
  // clock) first.
  template <typename Body>
  Result<std::vector<api::StoredRecord<Body>>> records(const std::string& device_id,
                                                       const RecordQuery& query);

  // Alerts, newest raised first.
  Result<std::vector<api::Alert>> alerts(const AlertQuery& query);
  // Marks an open alert acked by `by` (the API key's name) and answers it.
  // An acked alert is answered as it is; kNotFound for an unknown id,
  // kConflict for a cleared alert.
  Result<api::Alert> ack_alert(std::int64_t id, const std::string& by);

 private:
  FieldData(Database db, Clock& clock, FieldDataOptions options)
      : db_(std::move(db)), clock_(clock), options_(options) {}

  // Caller holds mutex_ inside a transaction.
  Status apply_alert_locked(const std::string& device_id, const api::DeviceRecord& record);
  // Deletes the records of `stream` below the window its option keeps.
  Status prune_locked(const std::string& device_id, api::Stream stream);
  Result<std::optional<api::Alert>> find_alert_locked(std::int64_t id);

  std::mutex mutex_;  // guards db_
  Database db_;
  Clock& clock_;
  const FieldDataOptions options_;
};

}  // namespace canopy::server
