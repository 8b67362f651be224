// Valves behind one interface. A GPIO line drives a relay directly
// (libgpiod, Debian 12's v1 API); a command hook runs an operator's program
// with "on" or "off" (a relay board's tool, a LoRa gateway, mosquitto_pub);
// a file valve writes its state to a file, which is how the simulated world
// waters its soil and how tests watch the valve.
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

// A GPIO output line, e.g. chip "gpiochip0" (or "/dev/gpiochip0", or its
// label) and line 17, requested on first use and held while the valve lives.
// With `active_low` the relay closes on a low level. The kernel lets the
// line go when the agent dies, so the relay board must hold the valve
// closed when it is not driven (a pull resistor on the input): the valve is
// safe without the agent, and the agent closes it again at its next start.
std::unique_ptr<Valve> gpio_valve(std::string chip, unsigned line, bool active_low = false);

// Writes "1" (open) or "0" (closed) to `state_file`, atomically.
std::unique_ptr<Valve> file_valve(std::filesystem::path state_file);

}  // namespace canopy::device
