// A small RAII layer over the SQLite C API: a connection and prepared
// statements with positional binds. Errors come back as Results naming the SQL.
// Every server area opens its own connection to the one database file, so a
// write in one area never holds a lock another area's requests wait on (WAL
// lets readers through while a writer commits; writers of different areas
// take turns inside SQLite, waiting up to the busy timeout).
// Thread-safety: a Database and its Statements are used under the owning
// area's lock; one transaction at a time per connection.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/error.h"

namespace canopy::server {

using SqlValue = std::variant<std::nullptr_t, std::int64_t, std::string>;

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  Statement& bind(int index, const SqlValue& value);
  // Steps once; true when a row is available.
  Result<bool> step();
  // Makes the statement ready to be bound and stepped again.
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::int64_t column_int(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string column_text(int column) const;
  bool column_is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// The database file of a data directory; every area keeps its tables there.
inline constexpr const char* kDatabaseFileName = "registry.db";

class Database {
 public:
  // Opens (creating if needed) in WAL mode with full fsync on commit.
  static Result<Database> open(const std::filesystem::path& path);
  // Opens another connection to DATA_DIR/registry.db, creating the directory.
  static Result<Database> open_in(const std::filesystem::path& data_dir);
  Database(Database&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  Database& operator=(Database&&) = delete;
  ~Database();

  Status exec(const std::string& sql);
  Result<Statement> prepare(const std::string& sql);
  // Runs a statement with binds to completion (INSERT/UPDATE/DELETE).
  Status run(const std::string& sql, const std::vector<SqlValue>& binds = {});
  std::int64_t changes() const { return sqlite3_changes64(db_); }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back in the destructor unless committed.
class Transaction {
 public:
  static Result<Transaction> begin(Database& db);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
};

}  // namespace canopy::server
