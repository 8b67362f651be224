#include "server/field_data/field_data.h"

#include <algorithm>

#include "common/time.h"
#include "server/storage/migrations.h"

namespace canopy::server {

namespace {

// field_records is both the ledger that makes storing exactly-once (its key)
// and the store of what devices sent. `subject` is what operators filter by.
// Images stay in their records too: a frame is at most 4 MiB of base64 and a
// batch at most 16 MiB, and inside the batch's transaction an image can
// never be half-stored or outlive its record, as a file beside it could.
// field_alerts holds one row per raise; at most one row per (device, zone,
// condition, subject) is not cleared.
const AreaSchema kSchema{"field_data", {R"sql(
CREATE TABLE field_records (
  device_id TEXT NOT NULL,
  stream TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (device_id, stream, seq)
) WITHOUT ROWID;
CREATE INDEX field_records_by_time ON field_records(device_id, stream, at_ms);
CREATE TABLE field_alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL,
  zone TEXT NOT NULL,
  condition TEXT NOT NULL,
  subject TEXT NOT NULL,
  severity TEXT NOT NULL,
  plants INTEGER NOT NULL,
  message TEXT NOT NULL,
  state TEXT NOT NULL,
  raised_at_ms INTEGER NOT NULL,
  cleared_at_ms INTEGER,
  acked_by TEXT NOT NULL DEFAULT '',
  acked_at TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX field_alerts_not_cleared ON field_alerts(device_id, zone, condition, subject)
  WHERE state != 'cleared';
CREATE INDEX field_alerts_by_device ON field_alerts(device_id, id);
)sql"}};

constexpr const char* kAlertColumns =
    "id, device_id, zone, condition, subject, severity, plants, message, state, raised_at_ms, cleared_at_ms, "
    "acked_by, acked_at";

api::Alert alert_from_row(const Statement& row) {
  api::Alert alert;
  alert.id = row.column_int(0);
  alert.device_id = row.column_text(1);
  alert.zone = row.column_text(2);
  alert.condition = row.column_text(3);
  alert.subject = row.column_text(4);
  alert.severity = row.column_text(5);
  alert.plants = static_cast<int>(row.column_int(6));
  alert.message = row.column_text(7);
  alert.state = api::parse_alert_state(row.column_text(8)).value_or(api::AlertState::kOpen);
  alert.raised_at_ms = row.column_int(9);
  if (!row.column_is_null(10)) alert.cleared_at_ms = row.column_int(10);
  alert.acked_by = row.column_text(11);
  alert.acked_at = row.column_text(12);
  return alert;
}

// What an operator filters a stream by: a reading's sensor, the zone of an
// actuation or a plant change.
std::string subject_of(const api::DeviceRecord& record) {
  switch (record.stream) {
    case api::Stream::kReadings:
      return record.body.value("sensor", "");
    case api::Stream::kActuations:
    case api::Stream::kPlants:
      return record.body.value("zone", "");
    default:
      return "";
  }
}

}  // namespace

Result<std::unique_ptr<FieldData>> FieldData::open(Database db, Clock& clock, FieldDataOptions options) {
  CANOPY_TRY(migrate(db, kSchema));
  return std::unique_ptr<FieldData>(new FieldData(std::move(db), clock, options));
}

Result<api::RecordAck> FieldData::store(const std::string& device_id, const api::RecordBatch& batch,
                                        std::vector<const api::DeviceRecord*>* fresh) {
  // Alerts must open before they clear: apply each stream in the device's order.
  std::vector<const api::DeviceRecord*> ordered;
  for (const api::DeviceRecord& record : batch.records) ordered.push_back(&record);
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
    return std::pair(a->stream, a->seq) < std::pair(b->stream, b->seq);
  });
  const std::string received_at = format_utc(clock_.wall_ms());
  api::RecordAck ack;
  std::lock_guard guard(mutex_);
  CANOPY_ASSIGN_OR_RETURN(Transaction transaction, Transaction::begin(db_));
  CANOPY_ASSIGN_OR_RETURN(
      Statement insert,
      db_.prepare(
          "INSERT OR IGNORE INTO field_records(device_id, stream, seq, at_ms, subject, body, received_at) "
          "VALUES(?,?,?,?,?,?,?)"));
  for (const api::DeviceRecord* record : ordered) {
    insert.reset();
    insert.bind(1, device_id)
        .bind(2, std::string(api::stream_name(record->stream)))
        .bind(3, record->seq)
        .bind(4, record->at_ms)
        .bind(5, subject_of(*record))
        .bind(6, record->body.dump())
        .bind(7, received_at);
    CANOPY_ASSIGN_OR_RETURN(bool row, insert.step());
    (void)row;
    const bool is_new = db_.changes() == 1;
    if (is_new && record->stream == api::Stream::kAlerts) CANOPY_TRY(apply_alert_locked(device_id, *record));
    if (is_new && fresh) fresh->push_back(record);
    std::int64_t& acked = ack.acked[record->stream];
    acked = std::max(acked, record->seq);
  }
  for (const auto& streamed : ack.acked) CANOPY_TRY(prune_locked(device_id, streamed.first));
  CANOPY_TRY(transaction.commit());
  return ack;
}

Status FieldData::apply_alert_locked(const std::string& device_id, const api::DeviceRecord& record) {
  CANOPY_ASSIGN_OR_RETURN(api::AlertEvent event, api::AlertEvent::from_json(record.body));
  const std::vector<SqlValue> key = {device_id, event.zone, event.condition, event.subject};
  const std::string which =
      " WHERE device_id = ? AND zone = ? AND condition = ? AND subject = ? AND state != 'cleared'";
  if (!event.raised) {
    std::vector<SqlValue> binds = {record.at_ms};
    binds.insert(binds.end(), key.begin(), key.end());
    return db_.run("UPDATE field_alerts SET state = 'cleared', cleared_at_ms = ?" + which, binds);
  }
  // Raised again while open or acked: the same alert, with the latest severity and counts.
  std::vector<SqlValue> binds = {event.severity, static_cast<std::int64_t>(event.plants), event.message};
  binds.insert(binds.end(), key.begin(), key.end());
  CANOPY_TRY(db_.run("UPDATE field_alerts SET severity = ?, plants = ?, message = ?" + which, binds));
  if (db_.changes() > 0) return {};
  return db_.run(
      "INSERT INTO field_alerts(device_id, zone, condition, subject, severity, plants, message, state, "
      "raised_at_ms) VALUES(?,?,?,?,?,?,?,'open',?)",
      {device_id, event.zone, event.condition, event.subject, event.severity,
       static_cast<std::int64_t>(event.plants), event.message, record.at_ms});
}

Status FieldData::prune_locked(const std::string& device_id, api::Stream stream) {
  const std::int64_t keep = stream == api::Stream::kReadings    ? options_.max_readings
                            : stream == api::Stream::kTelemetry ? options_.max_telemetry
                            : stream == api::Stream::kImages    ? options_.max_images
                                                                : 0;
  if (keep <= 0) return {};
  // Sequence numbers only grow and gaps are records never sent, so the
  // window (newest - keep, newest] holds at most `keep` records.
  const std::string name(api::stream_name(stream));
  return db_.run(
      "DELETE FROM field_records WHERE device_id = ? AND stream = ? AND seq <= "
      "(SELECT MAX(seq) FROM field_records WHERE device_id = ? AND stream = ?) - ?",
      {device_id, name, device_id, name, keep});
}

template <typename Body>
Result<std::vector<api::StoredRecord<Body>>> FieldData::records(const std::string& device_id,
                                                                const RecordQuery& query) {
  std::lock_guard guard(mutex_);
  CANOPY_ASSIGN_OR_RETURN(Statement select,
                          db_.prepare("SELECT seq, at_ms, received_at, body FROM field_records "
                                      "WHERE device_id = ? AND stream = ? AND (? = '' OR subject = ?) "
                                      "AND at_ms >= ? ORDER BY at_ms DESC, seq DESC LIMIT ?"));
  select.bind(1, device_id)
      .bind(2, std::string(api::stream_name(api::record_kind<Body>().stream)))
      .bind(3, query.subject)
      .bind(4, query.subject)
      .bind(5, query.since_ms)
      .bind(6, static_cast<std::int64_t>(query.limit));
  std::vector<api::StoredRecord<Body>> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    api::StoredRecord<Body> record;
    record.seq = select.column_int(0);
    record.at_ms = select.column_int(1);
    record.received_at = select.column_text(2);
    CANOPY_ASSIGN_OR_RETURN(Json body, parse_json(select.column_text(3), "stored record"));
    CANOPY_ASSIGN_OR_RETURN(record.body, Body::from_json(body));
    out.push_back(std::move(record));
  }
  return out;
}

template Result<std::vector<api::StoredReading>> FieldData::records<api::Reading>(const std::string&,
                                                                                  const RecordQuery&);
template Result<std::vector<api::StoredTelemetry>> FieldData::records<api::Telemetry>(const std::string&,
                                                                                      const RecordQuery&);
template Result<std::vector<api::StoredActuation>> FieldData::records<api::ActuationEvent>(
    const std::string&, const RecordQuery&);
template Result<std::vector<api::StoredPlantChange>> FieldData::records<api::PlantChangeEvent>(
    const std::string&, const RecordQuery&);

Result<std::vector<api::Alert>> FieldData::alerts(const AlertQuery& query) {
  const std::string state = query.state ? std::string(api::alert_state_name(*query.state)) : "";
  std::lock_guard guard(mutex_);
  CANOPY_ASSIGN_OR_RETURN(Statement select,
                          db_.prepare(std::string("SELECT ") + kAlertColumns +
                                      " FROM field_alerts WHERE (? = '' OR device_id = ?) "
                                      "AND (? = '' OR state = ?) ORDER BY id DESC LIMIT ?"));
  select.bind(1, query.device_id)
      .bind(2, query.device_id)
      .bind(3, state)
      .bind(4, state)
      .bind(5, static_cast<std::int64_t>(query.limit));
  std::vector<api::Alert> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    out.push_back(alert_from_row(select));
  }
  return out;
}

Result<std::optional<api::Alert>> FieldData::find_alert_locked(std::int64_t id) {
  CANOPY_ASSIGN_OR_RETURN(Statement select, db_.prepare(std::string("SELECT ") + kAlertColumns +
                                                        " FROM field_alerts WHERE id = ?"));
  select.bind(1, id);
  CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
  if (!row) return std::optional<api::Alert>();
  return std::optional<api::Alert>(alert_from_row(select));
}

Result<api::Alert> FieldData::ack_alert(std::int64_t id, const std::string& by) {
  std::lock_guard guard(mutex_);
  CANOPY_ASSIGN_OR_RETURN(Transaction transaction, Transaction::begin(db_));
  CANOPY_ASSIGN_OR_RETURN(std::optional<api::Alert> alert, find_alert_locked(id));
  if (!alert) return make_error(ErrorCode::kNotFound, "no alert " + std::to_string(id));
  if (alert->state == api::AlertState::kCleared)
    return make_error(
        ErrorCode::kConflict,
        "alert " + std::to_string(id) + " is cleared already: the device reported the condition over");
  if (alert->state == api::AlertState::kAcked) return *alert;
  alert->state = api::AlertState::kAcked;
  alert->acked_by = by;
  alert->acked_at = format_utc(clock_.wall_ms());
  CANOPY_TRY(db_.run("UPDATE field_alerts SET state = 'acked', acked_by = ?, acked_at = ? WHERE id = ?",
                     {alert->acked_by, alert->acked_at, id}));
  CANOPY_TRY(transaction.commit());
  return *alert;
}

}  // namespace canopy::server
