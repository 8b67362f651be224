#include "server/api_keys.h"

#include <sodium.h>

#include "common/hash.h"
#include "common/time.h"

namespace canopy::server {

namespace {

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return to_hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

ApiKeyRecord read_record(const Statement& stmt) {
  ApiKeyRecord record;
  record.id = stmt.column_text(0);
  record.name = stmt.column_text(1);
  record.role = parse_role(stmt.column_text(2)).value_or(Role::kReader);
  record.created_at = stmt.column_text(3);
  record.revoked = !stmt.column_is_null(4);
  return record;
}

}  // namespace

std::optional<Role> parse_role(std::string_view text) {
  if (text == "reader") return Role::kReader;
  if (text == "publisher") return Role::kPublisher;
  if (text == "admin") return Role::kAdmin;
  return std::nullopt;
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kReader: return "reader";
    case Role::kPublisher: return "publisher";
    case Role::kAdmin: return "admin";
  }
  return "reader";
}

Status ApiKeyStore::create_schema(Database& db) {
  return db.exec(
      "CREATE TABLE IF NOT EXISTS api_keys ("
      " id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,"
      " key_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, revoked_at TEXT)");
}

Result<NewApiKey> ApiKeyStore::create(Role role, const std::string& name) {
  NewApiKey key;
  key.record.id = random_hex(6);
  key.record.name = name;
  key.record.role = role;
  key.record.created_at = now_rfc3339();
  key.secret = "cnp_" + key.record.id + "_" + random_hex(32);
  CANOPY_TRY(db_.run("INSERT INTO api_keys(id, name, role, key_hash, created_at) VALUES(?,?,?,?,?)",
                     {key.record.id, name, std::string(role_name(role)), sha256_hex(key.secret),
                      key.record.created_at}));
  return key;
}

Status ApiKeyStore::ensure(const std::string& secret, Role role, const std::string& name) {
  if (secret.size() < 16)
    return make_error(ErrorCode::kInvalidArgument, "the admin key must be at least 16 characters long");
  std::string hash = sha256_hex(secret);
  return db_.run(
      "INSERT INTO api_keys(id, name, role, key_hash, created_at) VALUES(?,?,?,?,?) "
      "ON CONFLICT(key_hash) DO NOTHING",
      {hash.substr(0, 12), name, std::string(role_name(role)), hash, now_rfc3339()});
}

std::optional<ApiKeyRecord> ApiKeyStore::authenticate(std::string_view secret) {
  if (secret.empty() || secret.size() > 256) return std::nullopt;
  auto stmt = db_.prepare(
      "SELECT id, name, role, created_at, revoked_at FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL");
  if (!stmt.ok()) return std::nullopt;
  stmt->bind(1, sha256_hex(secret));
  auto row = stmt->step();
  if (!row.ok() || !*row) return std::nullopt;
  return read_record(*stmt);
}

Result<std::vector<ApiKeyRecord>> ApiKeyStore::list() {
  CANOPY_ASSIGN_OR_RETURN(Statement stmt,
                          db_.prepare("SELECT id, name, role, created_at, revoked_at FROM api_keys ORDER BY created_at"));
  std::vector<ApiKeyRecord> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    out.push_back(read_record(stmt));
  }
  return out;
}

Status ApiKeyStore::revoke(const std::string& id) {
  CANOPY_TRY(db_.run("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", {now_rfc3339(), id}));
  if (db_.changes() == 0) return make_error(ErrorCode::kNotFound, "no active API key with id " + id);
  return {};
}

Result<std::int64_t> ApiKeyStore::count() {
  CANOPY_ASSIGN_OR_RETURN(Statement stmt, db_.prepare("SELECT COUNT(*) FROM api_keys"));
  CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
  return row ? stmt.column_int(0) : 0;
}

}  // namespace canopy::server
