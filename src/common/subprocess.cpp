#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace canopy {

namespace {

void redirect(int target_fd, const std::filesystem::path& file) {
  if (file.empty()) return;
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) ::dup2(fd, target_fd);
}

}  // namespace

Result<Subprocess> Subprocess::start(const Options& options) {
  if (options.argv.empty()) return make_error(ErrorCode::kInvalidArgument, "no program to run");
  // Everything exec needs is prepared before fork: the child only calls
  // async-signal-safe functions.
  std::vector<char*> args;
  for (const auto& a : options.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int error_pipe[2];
  if (::pipe2(error_pipe, O_CLOEXEC) != 0) return make_error(ErrorCode::kIo, "cannot create a pipe");
  int output_pipe[2] = {-1, -1};
  if (options.stdout_pipe && ::pipe2(output_pipe, O_CLOEXEC) != 0) {
    ::close(error_pipe[0]);
    ::close(error_pipe[1]);
    return make_error(ErrorCode::kIo, "cannot create a pipe");
  }
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    for (int fd : {error_pipe[0], error_pipe[1], output_pipe[0], output_pipe[1]})
      if (fd >= 0) ::close(fd);
    return make_error(ErrorCode::kIo, std::string("cannot fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // The parent may have died between fork and prctl: then no signal would come.
    if (options.parent_death_signal != 0 &&
        (::prctl(PR_SET_PDEATHSIG, options.parent_death_signal) != 0 || ::getppid() != parent))
      ::_exit(127);
    ::close(error_pipe[0]);
    redirect(STDOUT_FILENO, options.stdout_file);
    if (output_pipe[1] >= 0) ::dup2(output_pipe[1], STDOUT_FILENO);  // dup2 clears O_CLOEXEC
    redirect(STDERR_FILENO, options.stderr_file);
    for (const auto& [key, value] : options.env) ::setenv(key.c_str(), value.c_str(), 1);
    ::execv(args[0], args.data());
    int code = errno;
    (void)!::write(error_pipe[1], &code, sizeof code);
    ::_exit(127);
  }
  ::close(error_pipe[1]);
  if (output_pipe[1] >= 0) ::close(output_pipe[1]);
  int exec_errno = 0;
  ssize_t n = ::read(error_pipe[0], &exec_errno, sizeof exec_errno);
  ::close(error_pipe[0]);
  Subprocess child(pid);
  child.stdout_fd_ = output_pipe[0];
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    child.wait();
    return make_error(ErrorCode::kNotFound,
                      "cannot run " + options.argv[0] + ": " + std::strerror(exec_errno));
  }
  return child;
}

Subprocess::~Subprocess() {
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    wait();
  }
}

void Subprocess::signal(int signal_number) {
  if (pid_ > 0 && !reaped_) ::kill(pid_, signal_number);
}

namespace {

int exit_code_of(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

}  // namespace

int Subprocess::wait() {
  if (pid_ <= 0) return -1;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  return exit_code_of(status);
}

std::optional<int> Subprocess::try_wait() {
  if (pid_ <= 0 || reaped_) return std::nullopt;
  int status = 0;
  pid_t done = 0;
  while ((done = ::waitpid(pid_, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  if (done != pid_) return std::nullopt;
  reaped_ = true;
  return exit_code_of(status);
}

Result<CommandOutput> run_to_completion(const std::vector<std::string>& argv,
                                        std::chrono::milliseconds timeout, std::size_t max_output) {
  if (argv.empty()) return make_error(ErrorCode::kInvalidArgument, "no program to run");
  Subprocess::Options options;
  options.argv = argv;
  options.stdout_pipe = true;
  CANOPY_ASSIGN_OR_RETURN(Subprocess child, Subprocess::start(options));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  CommandOutput result;
  char chunk[4096];
  bool open = true;
  while (open) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      child.signal(SIGKILL);
      (void)child.wait();
      return make_error(ErrorCode::kIo,
                        argv.front() + " did not finish within " + std::to_string(timeout.count()) + " ms");
    }
    pollfd waiting{child.stdout_fd(), POLLIN, 0};
    const int ready = ::poll(&waiting, 1, static_cast<int>(left.count()));
    if (ready <= 0) continue;  // EINTR or the deadline: checked above
    const ssize_t n = ::read(child.stdout_fd(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      open = false;
    } else if (result.output.size() + static_cast<std::size_t>(n) > max_output) {
      child.signal(SIGKILL);
      (void)child.wait();
      return make_error(ErrorCode::kInvalidArgument,
                        argv.front() + " wrote more than " + std::to_string(max_output) + " bytes");
    } else {
      result.output.append(chunk, static_cast<std::size_t>(n));
    }
  }
  // Output closed; the program may still be finishing. Its deadline still holds.
  while (true) {
    if (auto code = child.try_wait()) {
      result.exit_code = *code;
      return result;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      child.signal(SIGKILL);
      (void)child.wait();
      return make_error(ErrorCode::kIo,
                        argv.front() + " did not finish within " + std::to_string(timeout.count()) + " ms");
    }
    ::usleep(2000);
  }
}

}  // namespace canopy
