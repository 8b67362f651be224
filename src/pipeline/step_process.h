// Runs one attempt of a step: bash (or a container engine) in its own process
// group, stdout and stderr merged into one pipe and handed over line by line,
// with a time limit and a stop request that end the whole group cleanly
// (SIGTERM, then SIGKILL after a grace period).
// Thread-safety: run_step_process may be called from many threads at once;
// each call owns its child. `stop` is read, never written.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace canopy::pipeline {

struct ProcessSpec {
  std::vector<std::string> argv;              // argv[0] is a path
  std::map<std::string, std::string> env;     // the complete environment
  std::filesystem::path working_dir;
  std::chrono::milliseconds timeout{0};       // 0: none
  std::chrono::milliseconds grace{5000};      // between SIGTERM and SIGKILL
};

struct ProcessOutcome {
  int exit_code = -1;      // the exit status, or 128 + signal
  bool timed_out = false;
  bool stopped = false;    // ended because `stop` became true
};

// Starts the process, calls `on_start` with its pid (= process group id),
// `on_line` with every output line (without the newline; a final partial line
// too), and returns once the process has exited and its output is drained.
Result<ProcessOutcome> run_step_process(const ProcessSpec& spec, const std::atomic<bool>& stop,
                                        const std::function<void(pid_t)>& on_start,
                                        const std::function<void(std::string_view)>& on_line);

}  // namespace canopy::pipeline
