// API keys with roles. A key is shown once at creation ("cnp_<id>_<secret>");
// only its SHA-256 is stored (the secret is 32 random bytes, so a fast hash
// is enough: there is nothing to brute-force). Roles are ordered:
// reader < publisher < admin.
// Thread-safety: callers hold the registry's database lock.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "server/sqlite.h"

namespace canopy::server {

enum class Role { kReader = 1, kPublisher = 2, kAdmin = 3 };

std::optional<Role> parse_role(std::string_view text);
std::string_view role_name(Role role);

struct ApiKeyRecord {
  std::string id;
  std::string name;
  Role role = Role::kReader;
  std::string created_at;
  bool revoked = false;
};

struct NewApiKey {
  ApiKeyRecord record;
  std::string secret;  // the full key; never stored
};

class ApiKeyStore {
 public:
  explicit ApiKeyStore(Database& db) : db_(db) {}
  static Status create_schema(Database& db);

  Result<NewApiKey> create(Role role, const std::string& name);
  // Registers a caller-chosen key (CANOPY_ADMIN_KEY) if it is not there yet.
  Status ensure(const std::string& secret, Role role, const std::string& name);
  std::optional<ApiKeyRecord> authenticate(std::string_view secret);
  Result<std::vector<ApiKeyRecord>> list();
  Status revoke(const std::string& id);
  Result<std::int64_t> count();

 private:
  Database& db_;
};

}  // namespace canopy::server
