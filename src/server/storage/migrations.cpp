#include "server/storage/migrations.h"

#include <spdlog/spdlog.h>

namespace canopy::server {

namespace {

constexpr const char* kVersionsTable =
    "CREATE TABLE IF NOT EXISTS schema_versions (area TEXT PRIMARY KEY, version INTEGER NOT NULL)";

Result<std::int64_t> layout_version(Database& db) {
  CANOPY_ASSIGN_OR_RETURN(Statement stmt, db.prepare("PRAGMA user_version"));
  CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
  return row ? stmt.column_int(0) : 0;
}

Error run_newer_server(const std::string& what, std::int64_t found, std::int64_t known) {
  return make_error(ErrorCode::kConflict, "the data directory has " + what + " version " +
                                              std::to_string(found) + "; this server reads versions up to " +
                                              std::to_string(known) + ": run a newer canopy server");
}

}  // namespace

Result<std::int64_t> schema_version(Database& db, std::string_view area) {
  CANOPY_TRY(db.exec(kVersionsTable));
  CANOPY_ASSIGN_OR_RETURN(Statement stmt, db.prepare("SELECT version FROM schema_versions WHERE area = ?"));
  stmt.bind(1, std::string(area));
  CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
  return row ? stmt.column_int(0) : 0;
}

Status migrate(Database& db, const AreaSchema& schema) {
  const auto known = static_cast<std::int64_t>(schema.steps.size());
  CANOPY_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  CANOPY_ASSIGN_OR_RETURN(std::int64_t layout, layout_version(db));
  if (layout > kLayoutVersion) return run_newer_server("schema", layout, kLayoutVersion);
  CANOPY_ASSIGN_OR_RETURN(std::int64_t version, schema_version(db, schema.area));
  if (version > known) return run_newer_server(schema.area + " schema", version, known);
  for (std::int64_t step = version; step < known; ++step) {
    Status applied = db.exec(schema.steps[static_cast<std::size_t>(step)]);
    if (!applied.ok())
      return applied.error().with_context(schema.area + " schema step " + std::to_string(step + 1));
  }
  CANOPY_TRY(
      db.run("INSERT INTO schema_versions(area, version) VALUES(?, ?) "
             "ON CONFLICT(area) DO UPDATE SET version = excluded.version",
             {schema.area, known}));
  if (layout != kLayoutVersion)
    CANOPY_TRY(db.exec("PRAGMA user_version = " + std::to_string(kLayoutVersion)));
  CANOPY_TRY(tx.commit());
  if (version != known) spdlog::info("storage.migrate area={} from={} to={}", schema.area, version, known);
  return {};
}

}  // namespace canopy::server
