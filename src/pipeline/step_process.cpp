#include "pipeline/step_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace canopy::pipeline {

namespace {

using Clock = std::chrono::steady_clock;

// Longest line kept before it is handed over unterminated: a process that
// never writes a newline must not grow the runner's memory without bound.
constexpr size_t kMaxLineBytes = 1 << 20;

class LineSplitter {
 public:
  explicit LineSplitter(const std::function<void(std::string_view)>& on_line) : on_line_(on_line) {}
  void feed(const char* data, size_t size) {
    pending_.append(data, size);
    size_t start = 0;
    for (size_t nl = pending_.find('\n'); nl != std::string::npos; nl = pending_.find('\n', start)) {
      on_line_(std::string_view(pending_).substr(start, nl - start));
      start = nl + 1;
    }
    pending_.erase(0, start);
    if (pending_.size() > kMaxLineBytes) flush();
  }
  void flush() {
    if (!pending_.empty()) on_line_(pending_);
    pending_.clear();
  }

 private:
  const std::function<void(std::string_view)>& on_line_;
  std::string pending_;
};

int decode_status(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

}  // namespace

Result<ProcessOutcome> run_step_process(const ProcessSpec& spec, const std::atomic<bool>& stop,
                                        const std::function<void(pid_t)>& on_start,
                                        const std::function<void(std::string_view)>& on_line) {
  if (spec.argv.empty()) return make_error(ErrorCode::kInvalidArgument, "no program to run");
  // Everything the child needs is built before fork: between fork and exec it
  // may only call async-signal-safe functions (the runner has other threads).
  std::vector<char*> args;
  for (const auto& a : spec.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (const auto& [key, value] : spec.env) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string cwd = spec.working_dir.string();

  int output[2];
  if (::pipe2(output, O_CLOEXEC) != 0) return make_error(ErrorCode::kIo, std::string("cannot create a pipe: ") + std::strerror(errno));
  int exec_error[2];
  if (::pipe2(exec_error, O_CLOEXEC) != 0) {
    ::close(output[0]);
    ::close(output[1]);
    return make_error(ErrorCode::kIo, std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    for (int fd : {output[0], output[1], exec_error[0], exec_error[1]}) ::close(fd);
    return make_error(ErrorCode::kIo, std::string("cannot fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Its own process group: a terminal's Ctrl-C reaches the runner only, and
    // the runner can end the step with everything the step started.
    ::setpgid(0, 0);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(output[1], STDOUT_FILENO);
    ::dup2(output[1], STDERR_FILENO);
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    ::sigaction(SIGINT, &default_action, nullptr);
    ::sigaction(SIGTERM, &default_action, nullptr);
    ::sigaction(SIGPIPE, &default_action, nullptr);
    int code = 0;
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
      code = errno;
    } else {
      ::execve(args[0], args.data(), envp.data());
      code = errno;
    }
    (void)!::write(exec_error[1], &code, sizeof code);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so a signal sent right away reaches the group
  ::close(output[1]);
  ::close(exec_error[1]);
  int exec_errno = 0;
  const ssize_t n = ::read(exec_error[0], &exec_errno, sizeof exec_errno);
  ::close(exec_error[0]);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    ::close(output[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return make_error(ErrorCode::kNotFound, "cannot run " + spec.argv[0] + " in " + cwd + ": " + std::strerror(exec_errno));
  }
  if (on_start) on_start(pid);

  ProcessOutcome outcome;
  LineSplitter lines(on_line);
  const auto started = Clock::now();
  Clock::time_point term_sent{};
  bool term = false, killed = false, exited = false, eof = false;
  int after_eof_polls = 0;
  int status = 0;
  Clock::time_point exited_at{};
  char buffer[65536];
  while (!(exited && eof)) {
    // Ask the group to stop on a timeout or a stop request, and insist after the grace period.
    if (!term && !exited) {
      if (stop.load()) outcome.stopped = true;
      if (spec.timeout.count() > 0 && Clock::now() - started >= spec.timeout) outcome.timed_out = true;
      if (outcome.stopped || outcome.timed_out) {
        ::kill(-pid, SIGTERM);
        term = true;
        term_sent = Clock::now();
      }
    }
    if (term && !killed && !exited && Clock::now() - term_sent >= spec.grace) {
      ::kill(-pid, SIGKILL);
      killed = true;
    }
    if (!eof) {
      pollfd fd{output[0], POLLIN, 0};
      const int ready = ::poll(&fd, 1, 100);
      if (ready > 0) {
        const ssize_t got = ::read(output[0], buffer, sizeof buffer);
        if (got > 0) lines.feed(buffer, static_cast<size_t>(got));
        else if (got == 0 || (errno != EINTR && errno != EAGAIN)) eof = true;
      }
    } else if (!exited) {
      // The output is closed, so the process is about to exit: poll for it
      // often at first (this is on every step's critical path), then less.
      ::usleep(after_eof_polls < 50 ? 200 : 20000);
      ++after_eof_polls;
    }
    if (!exited) {
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        exited = true;
        exited_at = Clock::now();
        // Whatever the step left running in its group goes with it; it would
        // otherwise hold the output pipe open.
        ::kill(-pid, SIGKILL);
      }
    } else if (!eof && Clock::now() - exited_at > std::chrono::seconds(2)) {
      eof = true;  // a process that left the group still holds the pipe: stop reading
    }
  }
  lines.flush();
  ::close(output[0]);
  outcome.exit_code = decode_status(status);
  return outcome;
}

}  // namespace canopy::pipeline
