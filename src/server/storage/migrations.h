// Schema migrations per area. Each area (auth, registry, runs, fleet, ...)
// declares its schema as a numbered list of steps and migrates its own tables
// at start-up, independently of the others: the table `schema_versions`
// records how far each area got, so adding a step to one area never touches
// another's tables or version.
//
// A data directory written before areas had their own versions (PRAGMA
// user_version 1-3, one version for everything) is adopted in place: the
// first step of each area that existed then creates its tables only if they
// are missing. The file's user_version then becomes kLayoutVersion, which
// older servers refuse, since they cannot know what later steps changed.
//
// Thread-safety: runs on the caller's connection, under the caller's lock; the
// whole migration of one area is one transaction, so concurrent starts of two
// areas simply take turns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "server/storage/sqlite.h"

namespace canopy::server {

// PRAGMA user_version of a database whose areas carry their own versions.
inline constexpr std::int64_t kLayoutVersion = 4;

struct AreaSchema {
  std::string area;  // "registry", "fleet", ...: the key in schema_versions
  std::vector<std::string>
      steps;  // steps[i] takes the area from version i to i + 1; never edit a shipped step
};

// Brings `schema.area` to version steps.size(), running the missing steps in
// one transaction. Refuses (kConflict, nothing changed) a database whose area
// or layout is newer than this server knows.
Status migrate(Database& db, const AreaSchema& schema);

// The version `area` is at; 0 when it was never migrated.
Result<std::int64_t> schema_version(Database& db, std::string_view area);

}  // namespace canopy::server
