// A pipeline's workspace: the run records and the step cache, kept next to
// the pipeline file (default `.canopy/`).
//
//   runs/<run-id>/run.json        the run record, rewritten atomically as steps progress
//   runs/<run-id>/logs/<step>.log each step's output (secrets redacted)
//   cache/<key>.json              what a step with that cache key produced
//   lock                          held (flock) by the runner for the whole run
//
// Thread-safety: a Workspace is a path with methods; writes of one file are
// atomic (temp + fsync + rename), and the runner serialises its own writes.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "common/json.h"

namespace canopy::pipeline {

namespace fs = std::filesystem;

// An exclusive lock on a workspace, released by the destructor (or by the
// kernel when the process dies, however it dies).
using WorkspaceLock = FileLock;

// Identity of a live process: its pid and start time (clock ticks since
// boot), so a recycled pid is not mistaken for the runner.
struct ProcessIdentity {
  long pid = 0;
  unsigned long long start_ticks = 0;
  static ProcessIdentity self();
  bool alive() const;
  Json to_json() const { return {{"pid", pid}, {"start_ticks", start_ticks}}; }
};

class Workspace {
 public:
  // Creates the directory layout if needed.
  static Result<Workspace> open(const fs::path& dir);

  const fs::path& dir() const { return dir_; }
  fs::path run_dir(const std::string& run_id) const { return dir_ / "runs" / run_id; }
  fs::path log_file(const std::string& run_id, const std::string& step) const {
    return run_dir(run_id) / "logs" / (step + ".log");
  }

  // Fails with kConflict when another runner holds the workspace.
  Result<WorkspaceLock> lock() const;

  // Atomic always; `durable` also fsyncs (the final record of a run). Progress
  // updates skip the fsync: they come at every step start and end, and a
  // power loss costs at most the latest of them.
  Status save_run(const Json& record, bool durable) const;
  // Loads a run by id, or by a prefix that names exactly one run.
  Result<Json> load_run(const std::string& id_or_prefix) const;
  // Every readable run record, oldest first.
  Result<std::vector<Json>> list_runs() const;
  // Marks runs whose record says "running" but whose runner is gone as
  // interrupted, ending processes their steps left behind. Call with the
  // lock held. Returns the records it changed.
  Result<std::vector<Json>> recover_stale_runs() const;

  Result<std::optional<Json>> load_cache(const std::string& key) const;
  // Atomic, not fsynced: a cache entry lost in a power cut only means the step runs again.
  Status save_cache(const std::string& key, const Json& entry) const;

 private:
  explicit Workspace(fs::path dir) : dir_(std::move(dir)) {}
  fs::path dir_;
};

// A new run id: UTC time to the millisecond and 6 random hex digits, e.g.
// 20261125-054512.042-3fa9c1. Ids sort by start time.
std::string new_run_id();
bool is_valid_run_id(const std::string& id);

}  // namespace canopy::pipeline
