#include "server/runs/run_records.h"

#include <set>

#include "common/text.h"
#include "common/time.h"
#include "server/storage/migrations.h"

namespace canopy::server {

namespace {

// Step 1 is the table as the registry created it before areas had their own
// schema versions (only if missing, so an older data directory is adopted).
const AreaSchema kSchema{"runs", {R"sql(
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  pipeline_sha256 TEXT NOT NULL,
  started_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  posted_by TEXT NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs(started_at);
)sql"}};

}  // namespace

Result<std::unique_ptr<RunRecords>> RunRecords::open(Database db, RunLineage& lineage, Clock& clock) {
  CANOPY_TRY(migrate(db, kSchema));
  return std::unique_ptr<RunRecords>(new RunRecords(std::move(db), lineage, clock));
}

Result<bool> RunRecords::put(const Json& record, const std::string& posted_by) {
  if (!record.is_object())
    return make_error(ErrorCode::kInvalidArgument, "a run record must be a JSON object");
  const Json id = record.value("id", Json());
  if (!id.is_string() || !is_plain_name(id.get<std::string>(), 64))
    return make_error(ErrorCode::kInvalidArgument,
                      "a run record needs an 'id' of 1-64 letters, digits, '.', '_' or '-'");
  const Json status = record.value("status", Json());
  static const std::set<std::string> statuses = {"running", "succeeded", "failed", "interrupted"};
  if (!status.is_string() || !statuses.count(status.get<std::string>()))
    return make_error(ErrorCode::kInvalidArgument,
                      "a run record needs a 'status' of running, succeeded, failed or interrupted");
  if (!record.value("steps", Json()).is_array())
    return make_error(ErrorCode::kInvalidArgument, "a run record needs a 'steps' list");
  const Json pipeline = record.value("pipeline", Json::object());
  const std::string pipeline_sha256 = pipeline.is_object() ? pipeline.value("sha256", "") : "";
  const std::string started_at =
      record.value("started_at", Json("")).is_string() ? record.value("started_at", "") : "";
  std::lock_guard guard(mutex_);
  CANOPY_ASSIGN_OR_RETURN(Statement existing, db_.prepare("SELECT 1 FROM runs WHERE id = ?"));
  existing.bind(1, id.get<std::string>());
  CANOPY_ASSIGN_OR_RETURN(bool found, existing.step());
  CANOPY_TRY(
      db_.run("INSERT INTO runs(id, status, pipeline_sha256, started_at, updated_at, posted_by, record) "
              "VALUES(?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET status = excluded.status, "
              "pipeline_sha256 = excluded.pipeline_sha256, started_at = excluded.started_at, "
              "updated_at = excluded.updated_at, posted_by = excluded.posted_by, record = excluded.record",
              {id.get<std::string>(), status.get<std::string>(), pipeline_sha256, started_at,
               format_utc(clock_.wall_ms()), posted_by, record.dump()}));
  return !found;
}

Result<Json> RunRecords::get(const std::string& id) {
  Json record;
  {
    std::lock_guard guard(mutex_);
    CANOPY_ASSIGN_OR_RETURN(Statement stmt,
                            db_.prepare("SELECT record, updated_at, posted_by FROM runs WHERE id = ?"));
    stmt.bind(1, id);
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) return make_error(ErrorCode::kNotFound, "no run '" + id + "' is recorded");
    CANOPY_ASSIGN_OR_RETURN(record, parse_json(stmt.column_text(0), "stored run record"));
    record["updated_at"] = stmt.column_text(1);
    record["posted_by"] = stmt.column_text(2);
  }
  CANOPY_ASSIGN_OR_RETURN(std::vector<RunOutput> outputs, lineage_.outputs_of(id));
  Json linked = Json::array();
  for (const RunOutput& output : outputs)
    linked.push_back({{"model", output.model},
                      {"version", output.version},
                      {"created_at", output.created_at},
                      {"aliases", output.aliases}});
  record["model_versions"] = linked;
  return record;
}

Result<std::map<std::string, std::int64_t>> RunRecords::count_by_status() {
  std::lock_guard guard(mutex_);
  CANOPY_ASSIGN_OR_RETURN(Statement stmt, db_.prepare("SELECT status, COUNT(*) FROM runs GROUP BY status"));
  std::map<std::string, std::int64_t> counts;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) return counts;
    counts[stmt.column_text(0)] = stmt.column_int(1);
  }
}

Result<Json> RunRecords::list(int limit) {
  std::lock_guard guard(mutex_);
  CANOPY_ASSIGN_OR_RETURN(Statement stmt, db_.prepare("SELECT record, updated_at FROM runs "
                                                      "ORDER BY started_at DESC, id DESC LIMIT ?"));
  stmt.bind(1, static_cast<std::int64_t>(limit));
  Json runs = Json::array();
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    auto record = parse_json(stmt.column_text(0));
    if (!record.ok()) continue;
    const Json pipeline = record->value("pipeline", Json::object());
    runs.push_back({{"id", record->value("id", "")},
                    {"status", record->value("status", "")},
                    {"pipeline", pipeline.is_object() ? pipeline.value("file", "") : ""},
                    {"git_commit", record->value("git_commit", Json())},
                    {"started_at", record->value("started_at", "")},
                    {"updated_at", stmt.column_text(1)},
                    {"steps", record->value("steps", Json::array()).size()}});
  }
  return Json{{"runs", runs}};
}

}  // namespace canopy::server
