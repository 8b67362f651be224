// Who changed what, and when (docs/dashboard.md, "Audit log"): every change
// made through the API or the web pages by an API key or a signed-in person,
// recorded after it succeeded, and never edited or deleted. Devices' own
// requests (reports, records) are the fleet's data, not changes of people.
// Thread-safety: every method may be called from any HTTP worker.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/json.h"
#include "server/storage/sqlite.h"

namespace canopy::server {

struct AuditEntry {
  std::int64_t id = 0;   // from 1 upwards, in the order of the changes
  std::string at;        // UTC text, by the server's clock
  std::string actor;     // the key's name (its id when unnamed), or the user's name
  std::string actor_id;  // the key's id, or "user:NAME"
  std::string role;
  std::string method;
  std::string path;  // with the query, which some changes are made with
  int status = 0;

  Json to_json() const;
};

struct AuditQuery {
  std::optional<std::int64_t> before_id;  // the page after the one that ended there
  std::string actor;                      // empty: everyone
  int limit = 100;
};

class AuditLog {
 public:
  static Result<std::unique_ptr<AuditLog>> open(Database db, Clock& clock);

  // Records `entry` (its id and time are set here).
  Status record(AuditEntry entry);
  // Newest first.
  Result<std::vector<AuditEntry>> list(const AuditQuery& query);

 private:
  AuditLog(Database db, Clock& clock) : db_(std::move(db)), clock_(clock) {}
  std::mutex mutex_;
  Database db_;
  Clock& clock_;
};

}  // namespace canopy::server
