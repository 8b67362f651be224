// People's accounts for the web pages: users with a role and a password,
// and the sessions they sign in to. A password is kept only as its Argon2id
// hash (libsodium's crypto_pwhash_str, interactive limits), which makes
// every guess cost tens of milliseconds and 64 MiB (two hashes at most run
// at once, so a burst of sign-ins queues instead of taking the memory). A session is a random
// token the browser holds in an HttpOnly cookie, with a second random token
// the page sends back in a header on every change (CSRF protection: another
// site can make the browser send the cookie, never read the token). Only the
// session token's SHA-256 is stored.
//
// Sessions expire `session_ttl_ms` after sign-in; removing a user or
// changing their role or password ends their sessions. As with API keys,
// checking a session never touches the database: the live sessions are
// held in memory, loaded at open.
//
// Thread-safety: every public method may be called from any thread. Lookups
// share `cache_mutex_`; writes are serialised by `db_mutex_` (taken first).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "server/auth/api_keys.h"
#include "server/storage/sqlite.h"

namespace canopy::server {

struct UserRecord {
  std::string name;
  Role role = Role::kReader;
  std::string created_at;
};

struct Session {
  std::string user;
  Role role = Role::kReader;
  std::string csrf_token;
  std::int64_t expires_ms = 0;
};

struct NewSession {
  Session session;
  std::string token;  // for the cookie; never stored
};

struct AccountsOptions {
  std::int64_t session_ttl_ms = 12ll * 3'600'000;
};

class Accounts {
 public:
  // Migrates the accounts tables on `db` (a connection of its own) and loads
  // the live sessions. `clock` must outlive the Accounts.
  static Result<std::unique_ptr<Accounts>> open(Database db, Clock& clock, AccountsOptions options = {});

  // A user name is 1-64 letters, digits, '.', '_' or '-'; a password 8 to
  // 1024 characters. kAlreadyExists for a name taken.
  Status add_user(const std::string& name, Role role, const std::string& password);
  // Changes the role or password of an existing user (kNotFound otherwise);
  // their sessions end.
  Status update_user(const std::string& name, std::optional<Role> role,
                     const std::optional<std::string>& password);
  Status remove_user(const std::string& name);
  Result<std::vector<UserRecord>> list_users();

  // kUnauthenticated with one message for an unknown user and a wrong
  // password (and the same work for both, so timing tells nothing).
  Result<NewSession> sign_in(const std::string& name, const std::string& password);
  // The live session with this token, if any.
  std::optional<Session> session(std::string_view token) const;
  Status sign_out(std::string_view token);

 private:
  Accounts(Database db, Clock& clock, AccountsOptions options)
      : db_(std::move(db)), clock_(clock), options_(options) {}
  Status load();
  // Caller holds db_mutex_. Ends every session of `name`.
  Status end_sessions_locked(const std::string& name);

  std::mutex db_mutex_;  // taken before cache_mutex_
  Database db_;
  Clock& clock_;
  const AccountsOptions options_;
  mutable std::shared_mutex cache_mutex_;
  std::unordered_map<std::string, Session> sessions_by_hash_;  // SHA-256 of the token -> session
};

}  // namespace canopy::server
