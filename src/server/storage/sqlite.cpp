#include "server/storage/sqlite.h"

namespace canopy::server {

namespace {

Error sql_error(sqlite3* db, const std::string& sql) {
  return make_error(ErrorCode::kInternal, std::string("database error: ") + sqlite3_errmsg(db) +
                                              " (in: " + sql.substr(0, 80) + ")");
}

}  // namespace

Statement& Statement::bind(int index, const SqlValue& value) {
  if (std::holds_alternative<std::nullptr_t>(value)) {
    sqlite3_bind_null(stmt_, index);
  } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
    sqlite3_bind_int64(stmt_, index, *i);
  } else {
    const auto& s = std::get<std::string>(value);
    sqlite3_bind_text(stmt_, index, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  return *this;
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  if (rc == SQLITE_CONSTRAINT)
    return make_error(ErrorCode::kConflict, std::string("constraint failed: ") + sqlite3_errmsg(db_));
  return sql_error(db_, sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "");
}

std::string Statement::column_text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  return text ? std::string(reinterpret_cast<const char*>(text),
                            static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
              : std::string();
}

Result<Database> Database::open(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return make_error(ErrorCode::kIo, "cannot open database " + path.string() + ": " + message);
  }
  sqlite3_busy_timeout(db, 5000);
  Database database(db);
  // WAL keeps readers off the writer's back; synchronous=FULL makes every
  // commit durable before the API answers, which the crash tests rely on.
  CANOPY_TRY(database.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  return database;
}

Result<Database> Database::open_in(const std::filesystem::path& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec)
    return make_error(ErrorCode::kIo,
                      "cannot create data directory " + data_dir.string() + ": " + ec.message());
  return open(data_dir / kDatabaseFileName);
}

Database::~Database() {
  if (db_ != nullptr) sqlite3_close(db_);
}

Status Database::exec(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    return make_error(ErrorCode::kInternal, "database error: " + text);
  }
  return {};
}

Result<Statement> Database::prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK)
    return sql_error(db_, sql);
  return Statement(db_, stmt);
}

Status Database::run(const std::string& sql, const std::vector<SqlValue>& binds) {
  CANOPY_ASSIGN_OR_RETURN(Statement stmt, prepare(sql));
  for (size_t i = 0; i < binds.size(); ++i) stmt.bind(static_cast<int>(i + 1), binds[i]);
  CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
  (void)row;
  return {};
}

Result<Transaction> Transaction::begin(Database& db) {
  CANOPY_TRY(db.exec("BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_ != nullptr) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  Status status = db_->exec("COMMIT");
  if (status.ok()) db_ = nullptr;
  return status;
}

}  // namespace canopy::server
