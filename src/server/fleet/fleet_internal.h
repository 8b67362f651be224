// Pieces the fleet's source files share: the undo log that keeps memory and
// database in step, the two locks taken together, and request checks.
// Private to src/server/fleet/.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/hash.h"
#include "common/json.h"

namespace canopy::server {

// In-memory changes made before the transaction commits, undone in reverse
// if it does not, so memory always matches what the database holds.
class UndoLog {
 public:
  UndoLog() = default;
  UndoLog(const UndoLog&) = delete;
  UndoLog& operator=(const UndoLog&) = delete;
  ~UndoLog() {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) (*it)();
  }
  void add(std::function<void()> step) { steps_.push_back(std::move(step)); }
  void commit() { steps_.clear(); }

 private:
  std::vector<std::function<void()>> steps_;
};

// Both fleet locks, database first (see fleet.h).
struct Locks {
  std::unique_lock<std::mutex> db;
  std::unique_lock<std::mutex> state;
};

// A device token: "cdt_", 6 random bytes (an id for logs), 32 random bytes.
inline std::string new_device_token() { return "cdt_" + random_hex(6) + "_" + random_hex(32); }

inline Error unauthenticated_device() {
  return make_error(ErrorCode::kUnauthenticated,
                    "a valid device token is required (send it as Authorization: Bearer cdt_...)");
}

inline Error revoked(const std::string& id) {
  return make_error(ErrorCode::kUnauthenticated, "device " + id + " is revoked");
}

}  // namespace canopy::server
