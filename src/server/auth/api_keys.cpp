#include "server/auth/api_keys.h"

#include "common/hash.h"
#include "common/time.h"
#include "server/storage/migrations.h"

namespace canopy::server {

namespace {

// Step 1 is the table as it was before areas had their own schema versions.
const AreaSchema kSchema{"auth",
                         {"CREATE TABLE IF NOT EXISTS api_keys ("
                          " id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,"
                          " key_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, revoked_at TEXT)",
                          // 2: keys that expire (NULL: never).
                          "ALTER TABLE api_keys ADD COLUMN expires_ms INTEGER"}};

// The columns read_record reads, in its order.
constexpr const char* kRecordColumns = "id, name, role, created_at, revoked_at, expires_ms";

constexpr std::size_t kMaxKeyLength = 256;

ApiKeyRecord read_record(const Statement& stmt) {
  ApiKeyRecord record;
  record.id = stmt.column_text(0);
  record.name = stmt.column_text(1);
  record.role = parse_role(stmt.column_text(2)).value_or(Role::kReader);
  record.created_at = stmt.column_text(3);
  record.revoked = !stmt.column_is_null(4);
  record.expires_ms = stmt.column_is_null(5) ? 0 : stmt.column_int(5);
  return record;
}

// A role's place in reader < publisher < operator < admin. Labeler has
// none: role_allows decides for it before asking.
int order_of(Role role) {
  switch (role) {
    case Role::kReader:
      return 1;
    case Role::kPublisher:
      return 2;
    case Role::kOperator:
      return 3;
    case Role::kAdmin:
      return 4;
    case Role::kLabeler:
      return 0;
  }
  return 0;
}

}  // namespace

std::optional<Role> parse_role(std::string_view text) {
  for (Role role : kRoles)
    if (role_name(role) == text) return role;
  return std::nullopt;
}

bool role_allows(Role have, Role needed) {
  if (needed == Role::kLabeler) return have != Role::kReader;
  if (have == Role::kLabeler) return false;
  return order_of(have) >= order_of(needed);
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kReader:
      return "reader";
    case Role::kLabeler:
      return "labeler";
    case Role::kPublisher:
      return "publisher";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "reader";
}

std::string role_choices() {
  std::string text;
  for (std::size_t i = 0; i < std::size(kRoles); ++i) {
    if (i > 0) text += i + 1 == std::size(kRoles) ? " or " : ", ";
    text += role_name(kRoles[i]);
  }
  return text;
}

Result<std::unique_ptr<ApiKeys>> ApiKeys::open(Database db, Clock& clock) {
  CANOPY_TRY(migrate(db, kSchema));
  std::unique_ptr<ApiKeys> keys(new ApiKeys(std::move(db), clock));
  CANOPY_TRY(keys->load());
  return keys;
}

Status ApiKeys::load() {
  CANOPY_ASSIGN_OR_RETURN(Statement stmt, db_.prepare(std::string("SELECT ") + kRecordColumns +
                                                      ", key_hash FROM api_keys WHERE revoked_at IS NULL"));
  std::unordered_map<std::string, ApiKeyRecord> active;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    active[stmt.column_text(6)] = read_record(stmt);
  }
  std::unique_lock cache(cache_mutex_);
  active_by_hash_ = std::move(active);
  return {};
}

Result<NewApiKey> ApiKeys::create(Role role, const std::string& name, std::int64_t lifetime_s) {
  if (lifetime_s < 0 || lifetime_s > kMaxKeyLifetimeS)
    return make_error(ErrorCode::kInvalidArgument, "a key's lifetime must be from 1 to " +
                                                       std::to_string(kMaxKeyLifetimeS) +
                                                       " seconds (0: until revoked)");
  const std::int64_t now = clock_.wall_ms();
  const std::int64_t expires_ms = lifetime_s > 0 ? now + lifetime_s * 1000 : 0;
  NewApiKey key;
  key.record.id = random_hex(6);
  key.record.name = name;
  key.record.role = role;
  key.record.created_at = format_utc(now);
  key.record.expires_ms = expires_ms;
  key.secret = "cnp_" + key.record.id + "_" + random_hex(32);
  const std::string hash = sha256_hex(key.secret);
  std::lock_guard db(db_mutex_);
  CANOPY_TRY(db_.run(
      "INSERT INTO api_keys(id, name, role, key_hash, created_at, expires_ms) VALUES(?,?,?,?,?,NULLIF(?, 0))",
      {key.record.id, name, std::string(role_name(role)), hash, key.record.created_at, expires_ms}));
  std::unique_lock cache(cache_mutex_);
  active_by_hash_[hash] = key.record;
  return key;
}

Status ApiKeys::ensure(const std::string& secret, Role role, const std::string& name) {
  if (secret.size() < 16)
    return make_error(ErrorCode::kInvalidArgument, "the admin key must be at least 16 characters long");
  const std::string hash = sha256_hex(secret);
  std::lock_guard db(db_mutex_);
  CANOPY_TRY(
      db_.run("INSERT INTO api_keys(id, name, role, key_hash, created_at) VALUES(?,?,?,?,?) "
              "ON CONFLICT(key_hash) DO NOTHING",
              {hash.substr(0, 12), name, std::string(role_name(role)), hash, format_utc(clock_.wall_ms())}));
  // The row may have been there already, revoked or not: memory follows the database.
  CANOPY_ASSIGN_OR_RETURN(Statement stmt,
                          db_.prepare(std::string("SELECT ") + kRecordColumns +
                                      " FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL"));
  stmt.bind(1, hash);
  CANOPY_ASSIGN_OR_RETURN(bool active, stmt.step());
  if (active) {
    std::unique_lock cache(cache_mutex_);
    active_by_hash_[hash] = read_record(stmt);
  }
  return {};
}

Result<std::optional<NewApiKey>> ApiKeys::bootstrap_admin(const std::string& admin_key) {
  if (!admin_key.empty()) {
    CANOPY_TRY(ensure(admin_key, Role::kAdmin, "CANOPY_ADMIN_KEY"));
    return std::optional<NewApiKey>();
  }
  CANOPY_ASSIGN_OR_RETURN(std::int64_t existing, count());
  if (existing > 0) return std::optional<NewApiKey>();
  CANOPY_ASSIGN_OR_RETURN(NewApiKey key, create(Role::kAdmin, "bootstrap"));
  return std::optional<NewApiKey>(std::move(key));
}

std::optional<ApiKeyRecord> ApiKeys::authenticate(std::string_view secret) const {
  if (secret.empty() || secret.size() > kMaxKeyLength) return std::nullopt;
  const std::string hash = sha256_hex(secret);
  std::shared_lock cache(cache_mutex_);
  auto it = active_by_hash_.find(hash);
  if (it == active_by_hash_.end() || it->second.expired_at(clock_.wall_ms())) return std::nullopt;
  return it->second;
}

bool ApiKeys::was_issued(std::string_view secret) {
  if (secret.empty() || secret.size() > kMaxKeyLength) return false;
  std::lock_guard db(db_mutex_);
  auto stmt = db_.prepare("SELECT 1 FROM api_keys WHERE key_hash = ?");
  if (!stmt.ok()) return false;
  stmt->bind(1, sha256_hex(secret));
  auto row = stmt->step();
  return row.ok() && *row;
}

Result<ApiKeyRecord> ApiKeys::authorize(std::string_view secret, Role needed) const {
  std::optional<ApiKeyRecord> key = authenticate(secret);
  if (!key)
    return make_error(ErrorCode::kUnauthenticated,
                      "a valid API key is required (send it in the X-API-KEY header)");
  if (!role_allows(key->role, needed))
    return make_error(ErrorCode::kPermissionDenied, "this needs the " + std::string(role_name(needed)) +
                                                        " role; the key has " +
                                                        std::string(role_name(key->role)));
  return *key;
}

Result<std::vector<ApiKeyRecord>> ApiKeys::list() {
  std::lock_guard db(db_mutex_);
  CANOPY_ASSIGN_OR_RETURN(Statement stmt, db_.prepare(std::string("SELECT ") + kRecordColumns +
                                                      " FROM api_keys ORDER BY created_at"));
  std::vector<ApiKeyRecord> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    out.push_back(read_record(stmt));
  }
  return out;
}

Status ApiKeys::revoke(const std::string& id) {
  std::lock_guard db(db_mutex_);
  CANOPY_TRY(db_.run("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                     {format_utc(clock_.wall_ms()), id}));
  if (db_.changes() == 0) return make_error(ErrorCode::kNotFound, "no active API key with id " + id);
  std::unique_lock cache(cache_mutex_);
  std::erase_if(active_by_hash_, [&id](const auto& entry) { return entry.second.id == id; });
  return {};
}

Result<std::int64_t> ApiKeys::count() {
  std::lock_guard db(db_mutex_);
  CANOPY_ASSIGN_OR_RETURN(Statement stmt, db_.prepare("SELECT COUNT(*) FROM api_keys"));
  CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
  return row ? stmt.column_int(0) : 0;
}

}  // namespace canopy::server
