#include "device/actuators.h"

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
    std::vector<std::string> argv = argv_;
    argv.push_back(open ? "on" : "off");
    auto hook = run_to_completion(argv, timeout_);
    if (!hook.ok()) return hook.error().with_context(describe());
    if (hook->exit_code == 0) return {};
    return make_error(ErrorCode::kIo, describe() + " " + (open ? "on" : "off") + " exited with " +
                                          std::to_string(hook->exit_code));
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
