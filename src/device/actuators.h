// Valves behind one interface. A command hook runs an operator's program
// with "on" or "off" (a relay board's tool, a LoRa gateway, mosquitto_pub);
// a file valve writes its state to a file, which is how the simulated world
// waters its soil and how tests watch the valve. (A GPIO line through
// libgpiod comes with the hardware that needs it.)
// Thread-safety: a Valve is used by one thread at a time.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"

namespace canopy::device {

class Valve {
 public:
  virtual ~Valve() = default;
  // Opens or closes the valve; an error means its state is not known.
  virtual Status set(bool open) = 0;
  virtual std::string describe() const = 0;
};

// Runs `argv` with "on" or "off" appended; exit code 0 is success. A hook
// that runs longer than `timeout` is killed and counts as a failure.
std::unique_ptr<Valve> command_valve(std::vector<std::string> argv,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Writes "1" (open) or "0" (closed) to `state_file`, atomically.
std::unique_ptr<Valve> file_valve(std::filesystem::path state_file);

}  // namespace canopy::device
