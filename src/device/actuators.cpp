#include "device/actuators.h"

#include <gpiod.h>

#include <cerrno>
#include <cstring>

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

class GpioValve final : public Valve {
 public:
  GpioValve(std::string chip, unsigned line, bool active_low)
      : chip_name_(std::move(chip)), offset_(line), active_low_(active_low) {}
  ~GpioValve() override {
    if (line_) gpiod_line_release(line_);
    if (chip_) gpiod_chip_close(chip_);
  }
  GpioValve(const GpioValve&) = delete;
  GpioValve& operator=(const GpioValve&) = delete;

  Status set(bool open) override {
    if (!line_) CANOPY_TRY(request(open));
    if (gpiod_line_set_value(line_, open ? 1 : 0) != 0)
      return make_error(ErrorCode::kIo, describe() + ": cannot set the line: " + std::strerror(errno));
    return {};
  }

  std::string describe() const override {
    return "valve gpio " + chip_name_ + " line " + std::to_string(offset_);
  }

 private:
  Status request(bool open) {
    chip_ = gpiod_chip_open_lookup(chip_name_.c_str());
    if (!chip_)
      return make_error(ErrorCode::kIo,
                        describe() + ": cannot open GPIO chip '" + chip_name_ + "': " + std::strerror(errno));
    line_ = gpiod_chip_get_line(chip_, offset_);
    const int flags = active_low_ ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    if (!line_ || gpiod_line_request_output_flags(line_, "canopy-agent", flags, open ? 1 : 0) != 0) {
      const std::string reason = std::strerror(errno);
      line_ = nullptr;  // not requested: nothing to release
      gpiod_chip_close(chip_);
      chip_ = nullptr;
      return make_error(ErrorCode::kIo, describe() + ": cannot request the line as an output: " + reason);
    }
    return {};
  }

  std::string chip_name_;
  unsigned offset_;
  bool active_low_;
  gpiod_chip* chip_ = nullptr;
  gpiod_line* line_ = nullptr;
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

std::unique_ptr<Valve> gpio_valve(std::string chip, unsigned line, bool active_low) {
  return std::make_unique<GpioValve>(std::move(chip), line, active_low);
}

std::unique_ptr<Valve> file_valve(std::filesystem::path state_file) {
  return std::make_unique<FileValve>(std::move(state_file));
}

}  // namespace canopy::device
