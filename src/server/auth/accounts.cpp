#include "server/auth/accounts.h"

#include <sodium.h>

#include <semaphore>

#include "common/hash.h"
#include "common/time.h"
#include "server/storage/migrations.h"

namespace canopy::server {

namespace {

const AreaSchema kSchema{"accounts", {R"sql(
CREATE TABLE users (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  user_name TEXT NOT NULL,
  role TEXT NOT NULL,
  csrf_token TEXT NOT NULL,
  expires_ms INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_name);
)sql"}};

constexpr std::size_t kMaxPasswordLength = 1024;
constexpr std::size_t kMinPasswordLength = 8;

Status check_user_name(const std::string& name) {
  const bool plain =
      !name.empty() && name.size() <= 64 &&
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
          std::string::npos;
  if (!plain)
    return make_error(ErrorCode::kInvalidArgument,
                      "user name '" + name + "' must be 1-64 letters, digits, '.', '_' or '-'");
  return {};
}

Status check_password(const std::string& password) {
  if (password.size() < kMinPasswordLength || password.size() > kMaxPasswordLength)
    return make_error(ErrorCode::kInvalidArgument, "a password must be 8 to 1024 characters long");
  return {};
}

// Every Argon2id hash takes 64 MiB for tens of milliseconds; a burst of
// sign-ins on the server's 128 HTTP workers must not take 8 GiB. At most
// two run at once (the cores there are); the others wait their turn.
constexpr std::ptrdiff_t kConcurrentHashes = 2;
std::counting_semaphore<kConcurrentHashes> hash_slots(kConcurrentHashes);

struct HashSlot {
  HashSlot() { hash_slots.acquire(); }
  ~HashSlot() { hash_slots.release(); }
  HashSlot(const HashSlot&) = delete;
  HashSlot& operator=(const HashSlot&) = delete;
};

Result<std::string> hash_password(const std::string& password) {
  HashSlot slot;
  char hashed[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(hashed, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    return make_error(ErrorCode::kInternal, "hashing the password ran out of memory");
  return std::string(hashed);
}

bool password_matches(const std::string& hashed, const std::string& password) {
  HashSlot slot;
  return crypto_pwhash_str_verify(hashed.c_str(), password.data(), password.size()) == 0;
}

// A hash no password matches, checked against when the user is unknown so
// that a wrong name costs what a wrong password costs.
const std::string& decoy_hash() {
  static const std::string hashed = [] {
    auto made = hash_password(random_hex(16));
    return made.ok() ? *made : std::string();
  }();
  return hashed;
}

Error not_signed_in() {
  return make_error(ErrorCode::kUnauthenticated, "unknown user name or wrong password");
}

}  // namespace

Result<std::unique_ptr<Accounts>> Accounts::open(Database db, Clock& clock, AccountsOptions options) {
  CANOPY_TRY(init_crypto());
  CANOPY_TRY(migrate(db, kSchema));
  std::unique_ptr<Accounts> accounts(new Accounts(std::move(db), clock, options));
  CANOPY_TRY(accounts->load());
  return accounts;
}

Status Accounts::load() {
  CANOPY_TRY(db_.run("DELETE FROM sessions WHERE expires_ms <= ?", {clock_.wall_ms()}));
  CANOPY_ASSIGN_OR_RETURN(
      Statement stmt,
      db_.prepare("SELECT token_hash, user_name, role, csrf_token, expires_ms FROM sessions"));
  std::unordered_map<std::string, Session> live;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    live[stmt.column_text(0)] =
        Session{stmt.column_text(1), parse_role(stmt.column_text(2)).value_or(Role::kReader),
                stmt.column_text(3), stmt.column_int(4)};
  }
  std::unique_lock cache(cache_mutex_);
  sessions_by_hash_ = std::move(live);
  return {};
}

Status Accounts::add_user(const std::string& name, Role role, const std::string& password) {
  CANOPY_TRY(check_user_name(name));
  CANOPY_TRY(check_password(password));
  CANOPY_ASSIGN_OR_RETURN(std::string hashed, hash_password(password));
  std::lock_guard db(db_mutex_);
  CANOPY_TRY(
      db_.run("INSERT INTO users(name, role, password_hash, created_at) VALUES(?,?,?,?) "
              "ON CONFLICT(name) DO NOTHING",
              {name, std::string(role_name(role)), hashed, format_utc(clock_.wall_ms())}));
  if (db_.changes() == 0) return make_error(ErrorCode::kAlreadyExists, "user " + name + " already exists");
  return {};
}

Status Accounts::update_user(const std::string& name, std::optional<Role> role,
                             const std::optional<std::string>& password) {
  std::optional<std::string> hashed;
  if (password) {
    CANOPY_TRY(check_password(*password));
    CANOPY_ASSIGN_OR_RETURN(hashed, hash_password(*password));
  }
  std::lock_guard db(db_mutex_);
  CANOPY_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  if (role)
    CANOPY_TRY(db_.run("UPDATE users SET role = ? WHERE name = ?", {std::string(role_name(*role)), name}));
  if (hashed) CANOPY_TRY(db_.run("UPDATE users SET password_hash = ? WHERE name = ?", {*hashed, name}));
  if ((role || hashed) && db_.changes() == 0) return make_error(ErrorCode::kNotFound, "no user " + name);
  CANOPY_TRY(end_sessions_locked(name));
  return tx.commit();
}

Status Accounts::remove_user(const std::string& name) {
  std::lock_guard db(db_mutex_);
  CANOPY_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  CANOPY_TRY(db_.run("DELETE FROM users WHERE name = ?", {name}));
  if (db_.changes() == 0) return make_error(ErrorCode::kNotFound, "no user " + name);
  CANOPY_TRY(end_sessions_locked(name));
  return tx.commit();
}

Status Accounts::end_sessions_locked(const std::string& name) {
  CANOPY_TRY(db_.run("DELETE FROM sessions WHERE user_name = ?", {name}));
  std::unique_lock cache(cache_mutex_);
  std::erase_if(sessions_by_hash_, [&name](const auto& entry) { return entry.second.user == name; });
  return {};
}

Result<std::vector<UserRecord>> Accounts::list_users() {
  std::lock_guard db(db_mutex_);
  CANOPY_ASSIGN_OR_RETURN(Statement stmt,
                          db_.prepare("SELECT name, role, created_at FROM users ORDER BY name"));
  std::vector<UserRecord> users;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    users.push_back(
        {stmt.column_text(0), parse_role(stmt.column_text(1)).value_or(Role::kReader), stmt.column_text(2)});
  }
  return users;
}

Result<NewSession> Accounts::sign_in(const std::string& name, const std::string& password) {
  if (password.size() > kMaxPasswordLength || !check_user_name(name).ok()) return not_signed_in();
  std::optional<std::pair<std::string, Role>> user;  // password hash, role
  {
    std::lock_guard db(db_mutex_);
    CANOPY_ASSIGN_OR_RETURN(Statement stmt,
                            db_.prepare("SELECT password_hash, role FROM users WHERE name = ?"));
    stmt.bind(1, name);
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (row) user.emplace(stmt.column_text(0), parse_role(stmt.column_text(1)).value_or(Role::kReader));
  }
  // The hash is checked outside the lock: it takes tens of milliseconds.
  const bool matches = password_matches(user ? user->first : decoy_hash(), password);
  if (!user || !matches) return not_signed_in();

  NewSession created;
  created.token = random_hex(32);
  created.session = Session{name, user->second, random_hex(32), clock_.wall_ms() + options_.session_ttl_ms};
  const std::string hash = sha256_hex(created.token);
  std::lock_guard db(db_mutex_);
  CANOPY_TRY(db_.run("DELETE FROM sessions WHERE expires_ms <= ?", {clock_.wall_ms()}));
  CANOPY_TRY(
      db_.run("INSERT INTO sessions(token_hash, user_name, role, csrf_token, expires_ms) VALUES(?,?,?,?,?)",
              {hash, name, std::string(role_name(user->second)), created.session.csrf_token,
               created.session.expires_ms}));
  std::unique_lock cache(cache_mutex_);
  std::erase_if(sessions_by_hash_,
                [now = clock_.wall_ms()](const auto& entry) { return entry.second.expires_ms <= now; });
  sessions_by_hash_[hash] = created.session;
  return created;
}

std::optional<Session> Accounts::session(std::string_view token) const {
  if (token.empty() || token.size() > 128) return std::nullopt;
  const std::string hash = sha256_hex(token);
  std::shared_lock cache(cache_mutex_);
  const auto found = sessions_by_hash_.find(hash);
  if (found == sessions_by_hash_.end() || found->second.expires_ms <= clock_.wall_ms()) return std::nullopt;
  return found->second;
}

Status Accounts::sign_out(std::string_view token) {
  const std::string hash = sha256_hex(token);
  std::lock_guard db(db_mutex_);
  CANOPY_TRY(db_.run("DELETE FROM sessions WHERE token_hash = ?", {hash}));
  std::unique_lock cache(cache_mutex_);
  sessions_by_hash_.erase(hash);
  return {};
}

}  // namespace canopy::server
