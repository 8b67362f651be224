// Keeps one canopy-agent process running, as systemd's Restart=always would:
// an agent that dies (a crash, SIGKILL from fault injection, an unexpected
// exit) is started again after a delay that doubles while it keeps dying
// within seconds of its start (1 s up to 30 s). Environment variables in
// `first_start_env` are given to the first start only, so an injected crash
// happens once and the restart shows the recovery.
// Thread-safety: one thread drives a supervisor.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/subprocess.h"

namespace canopy::sim {

struct AgentLaunch {
  std::vector<std::string> argv;  // argv[0] is the canopy-agent binary
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> first_start_env;
  std::filesystem::path log_file;  // stdout and stderr of every start, appended
};

class AgentSupervisor {
 public:
  using Clock = std::chrono::steady_clock;

  explicit AgentSupervisor(AgentLaunch launch) : launch_(std::move(launch)) {}

  // Starts the agent if it is not running and its restart delay has passed,
  // and notices an exit. Returns a line describing what happened, if
  // anything. Fails when the agent cannot be started or rejects its
  // arguments (exit code 2): restarting would not help.
  Result<std::optional<std::string>> tend(Clock::time_point now);

  // SIGTERM, then wait_stopped: stopping many agents takes one agent's time.
  void request_stop();
  // Waits for the agent to exit; SIGKILL if it is still running at `deadline`.
  void wait_stopped(Clock::time_point deadline);

  bool running() const { return process_.has_value(); }
  int restarts() const { return starts_ > 0 ? starts_ - 1 : 0; }

 private:
  AgentLaunch launch_;
  std::optional<Subprocess> process_;
  int starts_ = 0;
  Clock::time_point started_at_{};
  Clock::time_point next_start_{};
  // Half the first delay: the first death doubles it to 1 s.
  std::chrono::milliseconds restart_delay_{500};
};

}  // namespace canopy::sim
