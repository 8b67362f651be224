// API keys with roles: creating, listing and revoking them, and checking the
// key a request presents. A key is shown once at creation
// ("cnp_<id>_<secret>"); only its SHA-256 is stored (the secret is 32 random
// bytes, so a fast hash is enough: there is nothing to brute-force). Roles
// are ordered, reader < publisher < operator < admin, with labeler beside
// them: a labeler may label (and review nothing), and nothing else
// (role_allows).
//
// Authentication is on every request's path, so it never touches the
// database: the active keys are held in memory, loaded at open and changed
// only through this class, which writes the database first. Nothing here
// takes another area's lock.
//
// Thread-safety: every public method may be called from any thread. Lookups
// share `cache_mutex_`; writes are serialised by `db_mutex_` (taken first)
// and hold `cache_mutex_` exclusively only to change memory.
#pragma once

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
#include "server/storage/sqlite.h"

namespace canopy::server {

// Stored by name (role_name), never by number, in the keys', users' and
// sessions' rows; their order here means nothing (role_allows ranks them).
enum class Role { kReader, kLabeler, kPublisher, kOperator, kAdmin };

// Every role, in the order people read them.
inline constexpr Role kRoles[] = {Role::kReader, Role::kLabeler, Role::kPublisher, Role::kOperator,
                                  Role::kAdmin};

// Whether a caller with role `have` may use a route that needs `needed`.
// Routes that need kLabeler (the labeling work) admit labelers, publishers,
// operators and admins; a labeler passes no other route.
bool role_allows(Role have, Role needed);

std::optional<Role> parse_role(std::string_view text);
std::string_view role_name(Role role);
// "reader, labeler, publisher, operator or admin": the choices, for messages.
std::string role_choices();

struct ApiKeyRecord {
  std::string id;
  std::string name;
  Role role = Role::kReader;
  std::string created_at;
  bool revoked = false;
  std::int64_t expires_ms = 0;  // wall-clock ms from which the key no longer works; 0: never

  bool expired_at(std::int64_t now_ms) const { return expires_ms > 0 && now_ms >= expires_ms; }

  // How records and status lines name whoever used the key: its name, which
  // people chose and recognise; the id when a key has none.
  const std::string& display_name() const { return name.empty() ? id : name; }
};

// The longest a key may be made to live: ten years.
inline constexpr std::int64_t kMaxKeyLifetimeS = 10LL * 366 * 24 * 3600;

struct NewApiKey {
  ApiKeyRecord record;
  std::string secret;  // the full key; never stored
};

class ApiKeys {
 public:
  // Migrates the auth tables on `db` (a connection of its own) and loads the
  // active keys. `clock` must outlive the ApiKeys.
  static Result<std::unique_ptr<ApiKeys>> open(Database db, Clock& clock);

  // A key that works for `lifetime_s` seconds from now (0: until revoked;
  // at most kMaxKeyLifetimeS).
  Result<NewApiKey> create(Role role, const std::string& name, std::int64_t lifetime_s = 0);
  // Registers a caller-chosen key (CANOPY_ADMIN_KEY) if it is not there yet.
  Status ensure(const std::string& secret, Role role, const std::string& name);
  // The first start's admin key: with `admin_key` set, ensures it; otherwise
  // creates a "bootstrap" admin key when no key exists at all and returns it
  // (its secret is shown once). Returns nullopt when nothing was created.
  Result<std::optional<NewApiKey>> bootstrap_admin(const std::string& admin_key);

  // The active key with this secret, if any: not revoked, not expired.
  std::optional<ApiKeyRecord> authenticate(std::string_view secret) const;
  // The active key with this secret if its role is at least `needed`:
  // kUnauthenticated for a missing or unknown key (the same answer for
  // both), kPermissionDenied for too small a role.
  Result<ApiKeyRecord> authorize(std::string_view secret, Role needed) const;

  // Whether this secret was ever issued, though it may be revoked or
  // expired since: who presents it is out of date, not guessing.
  bool was_issued(std::string_view secret);

  // Whether `key` has expired by the server's clock.
  bool expired(const ApiKeyRecord& key) const { return key.expired_at(clock_.wall_ms()); }
  Result<std::vector<ApiKeyRecord>> list();
  Status revoke(const std::string& id);
  Result<std::int64_t> count();

 private:
  ApiKeys(Database db, Clock& clock) : db_(std::move(db)), clock_(clock) {}
  Status load();

  std::mutex db_mutex_;  // taken before cache_mutex_
  Database db_;
  Clock& clock_;
  mutable std::shared_mutex cache_mutex_;
  std::unordered_map<std::string, ApiKeyRecord> active_by_hash_;  // SHA-256 of the key -> its record
};

}  // namespace canopy::server
