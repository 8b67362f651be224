// Child processes started with fork/exec: argv (no shell), extra environment
// variables, stdout and stderr appended to files. Used by the pipeline runner,
// benchmarks and tests that drive the real binaries.
// Thread-safety: one Subprocess object per thread; the destructor kills and
// reaps a child that is still running, so none is left behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace canopy {

class Subprocess {
 public:
  struct Options {
    std::vector<std::string> argv;           // argv[0] is the program path
    std::map<std::string, std::string> env;  // added to (or replacing in) the parent's environment
    std::filesystem::path stdout_file;       // empty: inherit
    std::filesystem::path stderr_file;       // empty: inherit
    bool stdout_pipe = false;                // stdout goes to a pipe read through stdout_fd()
    int parent_death_signal = 0;             // sent to the child when the thread starting it ends (0: none)
  };

  static Result<Subprocess> start(const Options& options);
  Subprocess(Subprocess&& other) noexcept
      : pid_(other.pid_), reaped_(other.reaped_), stdout_fd_(other.stdout_fd_) {
    other.pid_ = -1;
    other.stdout_fd_ = -1;
  }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  Subprocess& operator=(Subprocess&&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // The read end of the child's stdout with Options::stdout_pipe; -1 otherwise.
  // It belongs to this object and is closed with it.
  int stdout_fd() const { return stdout_fd_; }
  void signal(int signal_number);
  // Waits for exit; returns the exit code, or 128 + the signal that ended it.
  int wait();
  // Like wait() if the child has exited, without blocking; nullopt while it runs.
  std::optional<int> try_wait();

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  bool reaped_ = false;
  int stdout_fd_ = -1;
};

struct CommandOutput {
  int exit_code = 0;
  std::string output;  // stdout, at most the limit given
};

// Runs `argv` to the end and collects its stdout. Past `timeout` (real time:
// these commands talk to hardware in real time) the program is killed and
// the answer is an error; so is more output than `max_output` bytes.
Result<CommandOutput> run_to_completion(const std::vector<std::string>& argv,
                                        std::chrono::milliseconds timeout, std::size_t max_output = 1u << 20);

}  // namespace canopy
