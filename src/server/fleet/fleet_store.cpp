#include "server/fleet/fleet_store.h"

#include <map>

#include "common/time.h"
#include "server/storage/migrations.h"

namespace canopy::server {

namespace {

// Step 1 is the schema as it was before areas had their own versions (every
// table created only if missing, so an older data directory is adopted).
const AreaSchema kSchema{"fleet",
                         {R"sql(
CREATE TABLE IF NOT EXISTS enrollment_tokens (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,   -- SHA-256 of the whole token; the token itself is never stored
  device_group TEXT NOT NULL,
  approval TEXT NOT NULL,            -- auto | manual
  expires_ms INTEGER NOT NULL,
  max_uses INTEGER NOT NULL,
  uses INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
  id TEXT PRIMARY KEY,               -- key id of public_key
  public_key TEXT NOT NULL,
  name TEXT NOT NULL,
  device_group TEXT NOT NULL,
  tags TEXT NOT NULL,                -- JSON object
  status TEXT NOT NULL,
  token_hash TEXT NOT NULL,          -- SHA-256 of the current device token
  agent_version TEXT NOT NULL,
  current_model TEXT, current_version INTEGER,
  previous_model TEXT, previous_version INTEGER,
  state TEXT NOT NULL, health TEXT NOT NULL, last_error TEXT NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  enrolled_at TEXT NOT NULL,
  report_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS device_reports (
  device_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  received_ms INTEGER NOT NULL,
  report TEXT NOT NULL,
  PRIMARY KEY (device_id, seq)
);
CREATE TABLE IF NOT EXISTS deployments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  model TEXT NOT NULL, version INTEGER NOT NULL, sha256 TEXT NOT NULL, size_bytes INTEGER NOT NULL,
  target TEXT NOT NULL, strategy TEXT NOT NULL,  -- JSON, as docs/fleet.md writes them
  state TEXT NOT NULL,
  stage INTEGER NOT NULL, stage_started_ms INTEGER NOT NULL,
  reason TEXT NOT NULL,
  failure_baseline INTEGER NOT NULL,
  created_at TEXT NOT NULL, created_by TEXT NOT NULL, updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deployment_devices (
  deployment_id INTEGER NOT NULL REFERENCES deployments(id),
  device_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  admitted_stage INTEGER,
  state TEXT NOT NULL,
  error TEXT NOT NULL,
  updated_ms INTEGER NOT NULL,
  rollback_model TEXT, rollback_version INTEGER, rollback_sha256 TEXT, rollback_size INTEGER,
  PRIMARY KEY (deployment_id, device_id)
);
)sql",
                          R"sql(
CREATE TABLE device_field_configs (
  device_id TEXT NOT NULL REFERENCES devices(id),
  version INTEGER NOT NULL,          -- from 1 per device; only grows
  text TEXT NOT NULL,                -- the YAML as the operator gave it (UTF-8, at most 64 KiB)
  sha256 TEXT NOT NULL,              -- of text
  set_by TEXT NOT NULL,              -- the API key's name
  set_at TEXT NOT NULL,
  PRIMARY KEY (device_id, version)
);
)sql",
                          R"sql(
ALTER TABLE devices ADD COLUMN next_token_hash TEXT NOT NULL DEFAULT '';  -- a rotated token not yet used
)sql"}};

std::optional<ModelRef> read_model(const Statement& stmt, int column) {
  if (stmt.column_is_null(column)) return std::nullopt;
  return ModelRef{stmt.column_text(column), stmt.column_int(column + 1)};
}

SqlValue name_of(const std::optional<ModelRef>& model) {
  return model ? SqlValue(model->name) : SqlValue(nullptr);
}
SqlValue version_of(const std::optional<ModelRef>& model) {
  return model ? SqlValue(model->version) : SqlValue(nullptr);
}

Result<std::vector<EnrollmentToken>> load_tokens(Database& db) {
  CANOPY_ASSIGN_OR_RETURN(Statement stmt,
                          db.prepare("SELECT id, token_hash, device_group, approval, expires_ms, "
                                     "max_uses, uses, created_at, created_by FROM enrollment_tokens "
                                     "ORDER BY created_at, id"));
  std::vector<EnrollmentToken> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    EnrollmentToken t;
    t.id = stmt.column_text(0);
    t.token_hash = stmt.column_text(1);
    t.group = stmt.column_text(2);
    t.approval = stmt.column_text(3) == "manual" ? Approval::kManual : Approval::kAuto;
    t.expires_ms = stmt.column_int(4);
    t.max_uses = stmt.column_int(5);
    t.uses = stmt.column_int(6);
    t.created_at = stmt.column_text(7);
    t.created_by = stmt.column_text(8);
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::vector<Device>> load_devices(Database& db) {
  CANOPY_ASSIGN_OR_RETURN(
      Statement stmt,
      db.prepare(
          "SELECT id, public_key, name, device_group, tags, status, token_hash, agent_version, "
          "current_model, "
          "current_version, previous_model, previous_version, state, health, last_error, last_seen_ms, "
          "enrolled_at, report_seq, next_token_hash FROM devices ORDER BY enrolled_at, id"));
  std::vector<Device> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    Device d;
    d.id = stmt.column_text(0);
    d.public_key = stmt.column_text(1);
    d.name = stmt.column_text(2);
    d.group = stmt.column_text(3);
    CANOPY_ASSIGN_OR_RETURN(Json tags, parse_json(stmt.column_text(4), "stored device tags"));
    d.tags = tags.get<std::map<std::string, std::string>>();
    d.status = api::parse_device_status(stmt.column_text(5)).value_or(DeviceStatus::kRevoked);
    d.token_hash = stmt.column_text(6);
    d.agent_version = stmt.column_text(7);
    d.current = read_model(stmt, 8);
    d.previous = read_model(stmt, 10);
    d.state = api::parse_report_state(stmt.column_text(12)).value_or(ReportState::kIdle);
    d.health = stmt.column_text(13);
    d.last_error = stmt.column_text(14);
    d.last_seen_ms = stmt.column_int(15);
    d.enrolled_at = stmt.column_text(16);
    d.report_seq = stmt.column_int(17);
    d.next_token_hash = stmt.column_text(18);
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::vector<Deployment>> load_deployments(Database& db) {
  CANOPY_ASSIGN_OR_RETURN(
      Statement stmt,
      db.prepare(
          "SELECT id, model, version, sha256, size_bytes, target, strategy, state, stage, stage_started_ms, "
          "reason, failure_baseline, created_at, created_by, updated_ms FROM deployments ORDER BY id"));
  std::vector<Deployment> out;
  std::map<std::int64_t, std::size_t> index;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    Deployment d;
    d.id = stmt.column_int(0);
    d.package = {{stmt.column_text(1), stmt.column_int(2)},
                 stmt.column_text(3),
                 static_cast<std::uint64_t>(stmt.column_int(4))};
    CANOPY_ASSIGN_OR_RETURN(Json target, parse_json(stmt.column_text(5), "stored deployment target"));
    CANOPY_ASSIGN_OR_RETURN(d.target, DeploymentTarget::from_json(target));
    CANOPY_ASSIGN_OR_RETURN(Json strategy, parse_json(stmt.column_text(6), "stored deployment strategy"));
    CANOPY_ASSIGN_OR_RETURN(d.strategy, RolloutStrategy::from_json(strategy));
    d.state = api::parse_deployment_state(stmt.column_text(7)).value_or(DeploymentState::kAborted);
    d.stage = static_cast<int>(stmt.column_int(8));
    d.stage_started_ms = stmt.column_int(9);
    d.reason = stmt.column_text(10);
    d.failure_baseline = stmt.column_int(11);
    d.created_at = stmt.column_text(12);
    d.created_by = stmt.column_text(13);
    d.updated_ms = stmt.column_int(14);
    index[d.id] = out.size();
    out.push_back(std::move(d));
  }
  CANOPY_ASSIGN_OR_RETURN(
      Statement members,
      db.prepare(
          "SELECT deployment_id, device_id, seq, admitted_stage, state, error, updated_ms, rollback_model, "
          "rollback_version, rollback_sha256, rollback_size FROM deployment_devices ORDER BY deployment_id, "
          "seq"));
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, members.step());
    if (!row) break;
    auto it = index.find(members.column_int(0));
    if (it == index.end()) continue;
    Deployment& d = out[it->second];
    Member m;
    m.device_id = members.column_text(1);
    m.seq = members.column_int(2);
    if (!members.column_is_null(3)) m.admitted_stage = static_cast<int>(members.column_int(3));
    m.state = members.column_text(4);
    m.error = members.column_text(5);
    m.updated_ms = members.column_int(6);
    if (auto model = read_model(members, 7))
      m.rollback_to =
          PackageRef{*model, members.column_text(9), static_cast<std::uint64_t>(members.column_int(10))};
    d.member_index[m.device_id] = d.members.size();
    d.members.push_back(std::move(m));
  }
  return out;
}

api::FieldConfigRecord read_field_config(const Statement& stmt) {
  return {stmt.column_text(0), stmt.column_int(1),  stmt.column_text(3),
          stmt.column_text(4), stmt.column_text(5), stmt.column_text(2)};
}

constexpr const char* kFieldConfigColumns = "SELECT device_id, version, text, sha256, set_by, set_at ";

// The newest version of each device's field configuration.
Result<std::vector<api::FieldConfigRecord>> load_field_configs(Database& db) {
  CANOPY_ASSIGN_OR_RETURN(
      Statement stmt,
      db.prepare(std::string(kFieldConfigColumns) +
                 "FROM device_field_configs AS f WHERE version = "
                 "(SELECT MAX(version) FROM device_field_configs WHERE device_id = f.device_id)"));
  std::vector<api::FieldConfigRecord> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    out.push_back(read_field_config(stmt));
  }
  return out;
}

}  // namespace

Status FleetStore::migrate(Database& db) { return server::migrate(db, kSchema); }

Result<FleetSnapshot> FleetStore::load() {
  FleetSnapshot snapshot;
  CANOPY_ASSIGN_OR_RETURN(snapshot.tokens, load_tokens(db_));
  CANOPY_ASSIGN_OR_RETURN(snapshot.devices, load_devices(db_));
  CANOPY_ASSIGN_OR_RETURN(snapshot.deployments, load_deployments(db_));
  CANOPY_ASSIGN_OR_RETURN(snapshot.field_configs, load_field_configs(db_));
  return snapshot;
}

Status FleetStore::put_token(const EnrollmentToken& t) {
  return db_.run(
      "INSERT INTO enrollment_tokens(id, token_hash, device_group, approval, expires_ms, max_uses, uses, "
      "created_at, "
      "created_by) VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET uses = excluded.uses",
      {t.id, t.token_hash, t.group, std::string(t.approval == Approval::kAuto ? "auto" : "manual"),
       t.expires_ms, t.max_uses, t.uses, t.created_at, t.created_by});
}

Status FleetStore::put_device(const Device& d) {
  return db_.run(
      "INSERT OR REPLACE INTO devices(id, public_key, name, device_group, tags, status, token_hash, "
      "agent_version, "
      "current_model, current_version, previous_model, previous_version, state, health, last_error, "
      "last_seen_ms, "
      "enrolled_at, report_seq, next_token_hash) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
      {d.id, d.public_key, d.name, d.group, Json(d.tags).dump(), std::string(device_status_name(d.status)),
       d.token_hash, d.agent_version, name_of(d.current), version_of(d.current), name_of(d.previous),
       version_of(d.previous), std::string(api::report_state_name(d.state)), d.health, d.last_error,
       d.last_seen_ms, d.enrolled_at, d.report_seq, d.next_token_hash});
}

Status FleetStore::put_deployment(const Deployment& d) {
  return db_.run(
      "UPDATE deployments SET state = ?, stage = ?, stage_started_ms = ?, reason = ?, failure_baseline = ?, "
      "updated_ms = ? WHERE id = ?",
      {std::string(api::deployment_state_name(d.state)), static_cast<std::int64_t>(d.stage),
       d.stage_started_ms, d.reason, d.failure_baseline, d.updated_ms, d.id});
}

Result<std::int64_t> FleetStore::insert_deployment(const Deployment& d) {
  CANOPY_TRY(db_.run(
      "INSERT INTO deployments(model, version, sha256, size_bytes, target, strategy, state, stage, "
      "stage_started_ms, "
      "reason, failure_baseline, created_at, created_by, updated_ms) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
      {d.package.model.name, d.package.model.version, d.package.sha256,
       static_cast<std::int64_t>(d.package.size_bytes), d.target.to_json().dump(),
       d.strategy.to_json().dump(), std::string(api::deployment_state_name(d.state)),
       static_cast<std::int64_t>(d.stage), d.stage_started_ms, d.reason, d.failure_baseline, d.created_at,
       d.created_by, d.updated_ms}));
  CANOPY_ASSIGN_OR_RETURN(Statement stmt, db_.prepare("SELECT last_insert_rowid()"));
  CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
  if (!row) return make_error(ErrorCode::kInternal, "no id for the new deployment");
  return stmt.column_int(0);
}

Status FleetStore::put_member(std::int64_t deployment_id, const Member& m) {
  std::optional<ModelRef> rollback = m.rollback_to ? std::optional(m.rollback_to->model) : std::nullopt;
  return db_.run(
      "INSERT OR REPLACE INTO deployment_devices(deployment_id, device_id, seq, admitted_stage, state, "
      "error, "
      "updated_ms, rollback_model, rollback_version, rollback_sha256, rollback_size) "
      "VALUES(?,?,?,?,?,?,?,?,?,?,?)",
      {deployment_id, m.device_id, m.seq,
       m.admitted_stage ? SqlValue(static_cast<std::int64_t>(*m.admitted_stage)) : SqlValue(nullptr), m.state,
       m.error, m.updated_ms, name_of(rollback), version_of(rollback),
       m.rollback_to ? SqlValue(m.rollback_to->sha256) : SqlValue(nullptr),
       m.rollback_to ? SqlValue(static_cast<std::int64_t>(m.rollback_to->size_bytes)) : SqlValue(nullptr)});
}

Status FleetStore::add_report(const std::string& device_id, std::int64_t seq, const api::StatusReport& report,
                              std::int64_t received_ms) {
  CANOPY_TRY(
      db_.run("INSERT OR REPLACE INTO device_reports(device_id, seq, received_ms, report) VALUES(?,?,?,?)",
              {device_id, seq, received_ms, report.to_json().dump()}));
  return db_.run("DELETE FROM device_reports WHERE device_id = ? AND seq <= ?",
                 {device_id, seq - kReportsKept});
}

Status FleetStore::put_last_seen(const std::vector<std::pair<std::string, std::int64_t>>& last_seen) {
  CANOPY_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  CANOPY_ASSIGN_OR_RETURN(Statement stmt, db_.prepare("UPDATE devices SET last_seen_ms = ? WHERE id = ?"));
  for (const auto& [id, ms] : last_seen) {
    stmt.bind(1, ms).bind(2, id);
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    (void)row;
    stmt.reset();
  }
  return tx.commit();
}

Result<std::vector<api::DeviceInfo::ReceivedReport>> FleetStore::recent_reports(
    const std::string& device_id) {
  CANOPY_ASSIGN_OR_RETURN(Statement stmt, db_.prepare("SELECT received_ms, report FROM device_reports "
                                                      "WHERE device_id = ? ORDER BY seq DESC"));
  stmt.bind(1, device_id);
  std::vector<api::DeviceInfo::ReceivedReport> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    // Every stored report passed StatusReport::from_json once; one that no
    // longer parses (a damaged row) is left out rather than failing the device.
    auto json = parse_json(stmt.column_text(1));
    auto report = json.ok() ? api::StatusReport::from_json(*json) : Result<api::StatusReport>(json.error());
    if (!report.ok()) continue;
    out.push_back({std::move(*report), format_utc(stmt.column_int(0))});
  }
  return out;
}

Status FleetStore::add_field_config(const api::FieldConfigRecord& r) {
  return db_.run(
      "INSERT INTO device_field_configs(device_id, version, text, sha256, set_by, set_at) "
      "VALUES(?,?,?,?,?,?)",
      {r.device_id, r.version, r.text.value_or(""), r.sha256, r.set_by, r.set_at});
}

Result<std::optional<api::FieldConfigRecord>> FleetStore::field_config(const std::string& device_id,
                                                                       std::int64_t version) {
  CANOPY_ASSIGN_OR_RETURN(Statement stmt,
                          db_.prepare(std::string(kFieldConfigColumns) +
                                      "FROM device_field_configs WHERE device_id = ? AND version = ?"));
  stmt.bind(1, device_id).bind(2, version);
  CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
  if (!row) return std::optional<api::FieldConfigRecord>();
  return std::optional(read_field_config(stmt));
}

}  // namespace canopy::server
