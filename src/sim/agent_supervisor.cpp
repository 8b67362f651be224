#include "sim/agent_supervisor.h"

#include <csignal>
#include <fstream>
#include <thread>

namespace canopy::sim {

namespace {

constexpr std::chrono::milliseconds kFirstRestartDelay{1000};
constexpr std::chrono::milliseconds kLongestRestartDelay{30000};
// An agent that ran this long before dying restarts after the first delay again.
constexpr std::chrono::seconds kStableRun{10};
constexpr int kBadArgumentsExit = 2;

std::string exit_text(int code) {
  if (code > 128) return "killed by signal " + std::to_string(code - 128);
  return "exited with code " + std::to_string(code);
}

// The agent's last log line, which names the reason it stopped.
std::string last_line(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

}  // namespace

Result<std::optional<std::string>> AgentSupervisor::tend(Clock::time_point now) {
  if (process_) {
    const std::optional<int> code = process_->try_wait();
    if (!code) return std::optional<std::string>();
    process_.reset();
    if (*code == kBadArgumentsExit)
      return make_error(ErrorCode::kInvalidArgument,
                        "canopy-agent refused its arguments: " + last_line(launch_.log_file));
    restart_delay_ = now - started_at_ >= kStableRun ? kFirstRestartDelay
                                                     : std::min(restart_delay_ * 2, kLongestRestartDelay);
    next_start_ = now + restart_delay_;
    std::string line =
        exit_text(*code) + "; restarting it in " + std::to_string(restart_delay_.count() / 1000) + " s";
    if (*code <= 128) line += " (" + last_line(launch_.log_file) + ")";
    return std::optional<std::string>(line);
  }
  if (now < next_start_) return std::optional<std::string>();
  Subprocess::Options options;
  options.argv = launch_.argv;
  options.env = launch_.env;
  if (starts_ == 0) options.env.insert(launch_.first_start_env.begin(), launch_.first_start_env.end());
  options.stdout_file = launch_.log_file;
  options.stderr_file = launch_.log_file;
  CANOPY_ASSIGN_OR_RETURN(Subprocess process, Subprocess::start(options));
  process_.emplace(std::move(process));
  started_at_ = now;
  ++starts_;
  if (starts_ == 1) return std::optional<std::string>();
  return std::optional<std::string>("restarted (start " + std::to_string(starts_) + ")");
}

void AgentSupervisor::request_stop() {
  if (process_) process_->signal(SIGTERM);
}

void AgentSupervisor::wait_stopped(Clock::time_point deadline) {
  if (!process_) return;
  while (!process_->try_wait()) {
    if (Clock::now() >= deadline) {
      process_->signal(SIGKILL);
      process_->wait();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  process_.reset();
}

}  // namespace canopy::sim
