#include "server/auth/audit_log.h"

#include "common/time.h"
#include "server/storage/migrations.h"

namespace canopy::server {

namespace {

const AreaSchema kSchema{"audit", {R"sql(
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  role TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  status INTEGER NOT NULL
);
CREATE INDEX audit_by_actor ON audit_log(actor, id);
)sql"}};

}  // namespace

Json AuditEntry::to_json() const {
  return {{"id", id},     {"at", at},         {"actor", actor}, {"actor_id", actor_id},
          {"role", role}, {"method", method}, {"path", path},   {"status", status}};
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(Database db, Clock& clock) {
  CANOPY_TRY(migrate(db, kSchema));
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(db), clock));
}

Status AuditLog::record(AuditEntry entry) {
  std::lock_guard lock(mutex_);
  return db_.run(
      "INSERT INTO audit_log (at, actor, actor_id, role, method, path, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
      {format_utc(clock_.wall_ms()), entry.actor, entry.actor_id, entry.role, entry.method, entry.path,
       std::int64_t{entry.status}});
}

Result<std::vector<AuditEntry>> AuditLog::list(const AuditQuery& query) {
  std::lock_guard lock(mutex_);
  CANOPY_ASSIGN_OR_RETURN(
      Statement stmt,
      db_.prepare("SELECT id, at, actor, actor_id, role, method, path, status FROM audit_log "
                  "WHERE (?1 IS NULL OR id < ?1) AND (?2 = '' OR actor = ?2) ORDER BY id DESC LIMIT ?3"));
  stmt.bind(1, query.before_id ? SqlValue(*query.before_id) : SqlValue(nullptr))
      .bind(2, query.actor)
      .bind(3, std::int64_t{query.limit});
  std::vector<AuditEntry> entries;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    entries.push_back({stmt.column_int(0), stmt.column_text(1), stmt.column_text(2), stmt.column_text(3),
                       stmt.column_text(4), stmt.column_text(5), stmt.column_text(6),
                       static_cast<int>(stmt.column_int(7))});
  }
  return entries;
}

}  // namespace canopy::server
