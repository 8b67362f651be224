// Pipeline run records (docs/api.md, "Pipeline runs"): a runner posts its
// run's record as the run progresses; readers list runs and show one with
// the model versions it produced. A run is stored as its record, keyed by
// the record's "id"; posting the same id again replaces it.
//
// Which versions a run produced is the registry's to know (their manifests
// name the run): RunRecords asks through RunLineage, a query the server
// wires to the registry, and never reads the registry's tables.
//
// Thread-safety: every public method may be called from any thread; the
// connection is guarded by the area's own mutex, not held while the lineage
// is asked.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/json.h"
#include "server/storage/sqlite.h"

namespace canopy::server {

// A model version a run produced.
struct RunOutput {
  std::string model;
  std::int64_t version = 0;
  std::string created_at;
  std::vector<std::string> aliases;
};

// What the runs area needs of the registry.
class RunLineage {
 public:
  virtual ~RunLineage() = default;
  // Every model version whose lineage names pipeline run `run_id`, by model and version.
  virtual Result<std::vector<RunOutput>> outputs_of(const std::string& run_id) = 0;
};

class RunRecords {
 public:
  // Migrates the runs table on `db` (a connection of its own). `lineage`
  // and `clock` must outlive the RunRecords.
  static Result<std::unique_ptr<RunRecords>> open(Database db, RunLineage& lineage, Clock& clock);

  // Validates and stores `record` (an object with "id", "status" and
  // "steps"). Returns true when the id was new.
  Result<bool> put(const Json& record, const std::string& posted_by);
  // The record with "updated_at", "posted_by" and "model_versions" (the
  // versions the run produced); kNotFound for an unknown id.
  Result<Json> get(const std::string& id);
  // {"runs": [...]}: summaries of the newest `limit` runs, newest first.
  Result<Json> list(int limit);
  // How many runs are in each status (running, succeeded, failed,
  // interrupted); one query over the runs, for monitoring.
  Result<std::map<std::string, std::int64_t>> count_by_status();

 private:
  RunRecords(Database db, RunLineage& lineage, Clock& clock)
      : db_(std::move(db)), lineage_(lineage), clock_(clock) {}

  std::mutex mutex_;  // guards db_
  Database db_;
  RunLineage& lineage_;
  Clock& clock_;
};

}  // namespace canopy::server
