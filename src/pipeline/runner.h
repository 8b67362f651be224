// The pipeline runner: runs the steps of a pipeline as a DAG, up to `jobs` at
// a time, skipping steps whose cache key and outputs are unchanged, checking
// gates as soon as the steps they read finish, streaming every step's output
// line by line prefixed with its name, and recording the run (workspace
// run.json, per-step logs, and the registry server when one is configured).
//
// Cache key of a step: SHA-256 of its rendered commands, parameter values,
// image, declared non-secret environment variables, the digests of its
// inputs, the output digests of the steps it depends on, its output and
// metrics paths, and whether it runs in a container. A step is cached when an
// entry with that key exists and every output it recorded still hashes the
// same. Steps that declare no outputs always run.
//
// SIGINT and SIGTERM during run_pipeline stop the running steps (SIGTERM to
// each step's process group, SIGKILL after 5 s) and mark the run interrupted.
// Thread-safety: run_pipeline is not reentrant (it installs signal handlers).
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json.h"

namespace canopy::pipeline {

namespace fs = std::filesystem;

// A step's state in the run record ("status"): pending → running → one of
// succeeded, cached, failed, timed-out, interrupted; skipped when not
// selected, not-run when the run halted before it.
enum class StepStatus {
  kPending,
  kRunning,
  kSucceeded,
  kCached,
  kFailed,
  kTimedOut,
  kInterrupted,
  kSkipped,
  kNotRun
};
std::string_view step_status_name(StepStatus status);

// A run's state: running, then succeeded, failed or interrupted.
enum class RunStatus { kRunning, kSucceeded, kFailed, kInterrupted };
std::string_view run_status_name(RunStatus status);

struct RunOptions {
  fs::path pipeline_file;
  std::vector<std::string> parameters;  // NAME=VALUE
  std::vector<std::string> only;        // run just these steps (empty: all)
  std::string from;                     // run this step and every step after it in the DAG
  bool force = false;                   // ignore the cache
  int jobs = 1;                         // steps running at once
  bool dry_run = false;                 // print the plan, run nothing, record nothing
  fs::path workspace;                   // empty: .canopy next to the pipeline file
  bool containers = false;              // run steps in docker or podman
  std::string server_url, api_key;      // empty url: the run is recorded locally only
  std::string ca_file, server_pin;      // how an https server is trusted (HttpOptions)
  std::FILE* out = stdout;              // live output: step lines, status lines, summary
};

struct RunOutcome {
  Json record;        // run.json as written (for --dry-run: the plan)
  int exit_code = 0;  // 0; the failed step's exit code; 124 timeout; 1 gate failed; 130 interrupted
};

// Errors are for a pipeline that cannot start (invalid file, unknown step,
// missing required variable, workspace in use); a run that starts always
// returns a RunOutcome, however it ends.
Result<RunOutcome> run_pipeline(const RunOptions& options);

// Default workspace of a pipeline file: `.canopy` in its directory.
fs::path default_workspace(const fs::path& pipeline_file);

// The summary table printed at the end of a run, from a run record.
std::string format_summary(const Json& record);

}  // namespace canopy::pipeline
