#include "device/actuators.h"

#include <signal.h>

#include <thread>

#include "common/files.h"
#include "common/subprocess.h"

namespace canopy::device {

namespace {

class CommandValve final : public Valve {
 public:
  CommandValve(std::vector<std::string> argv, std::chrono::milliseconds timeout)
      : argv_(std::move(argv)), timeout_(timeout) {}

  Status set(bool open) override {
    if (argv_.empty()) return make_error(ErrorCode::kInvalidArgument, "valve command is empty");
    Subprocess::Options options;
    options.argv = argv_;
    options.argv.push_back(open ? "on" : "off");
    CANOPY_ASSIGN_OR_RETURN(Subprocess hook, Subprocess::start(options));
    // The hook talks to hardware in real time, so its deadline is real time too.
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    while (true) {
      if (auto code = hook.try_wait()) {
        if (*code == 0) return {};
        return make_error(ErrorCode::kIo,
                          describe() + " " + (open ? "on" : "off") + " exited with " + std::to_string(*code));
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        hook.signal(SIGKILL);
        (void)hook.wait();
        return make_error(ErrorCode::kIo,
                          describe() + " did not finish within " + std::to_string(timeout_.count()) + " ms");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  std::string describe() const override { return "valve command " + argv_.front(); }

 private:
  std::vector<std::string> argv_;
  std::chrono::milliseconds timeout_;
};

class FileValve final : public Valve {
 public:
  explicit FileValve(std::filesystem::path file) : file_(std::move(file)) {}
  Status set(bool open) override { return write_file_atomic(file_, open ? "1\n" : "0\n"); }
  std::string describe() const override { return "valve file " + file_.string(); }

 private:
  std::filesystem::path file_;
};

}  // namespace

std::unique_ptr<Valve> command_valve(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
  return std::make_unique<CommandValve>(std::move(argv), timeout);
}

std::unique_ptr<Valve> file_valve(std::filesystem::path state_file) {
  return std::make_unique<FileValve>(std::move(state_file));
}

}  // namespace canopy::device
