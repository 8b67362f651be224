// The agent's field side: which field configuration runs, and the field
// loop, its durable outbox and the uploader running it, each loop on a
// thread of its own beside the updater.
//
// Which configuration: the newest one an operator set on the server (it
// comes with the desired state, see offer()), else the device's own file
// (--field-config), else the last one that was valid. A configuration is
// checked whole before anything stops: a bad one is refused, logged and
// reported as a "config" alert, and the running one goes on. What the device
// applied and refused is kept in DATA/field-config.json, the server's text in
// DATA/field.yaml, the last valid one in DATA/field.last-good.yaml, so a
// restart runs what ran before.
// Thread-safety: start, offer and the destructor belong to the agent's
// main thread.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>

#include "agent/active_model.h"
#include "agent/agent.h"
#include "agent/device_client.h"
#include "agent/field_config.h"
#include "api/device.h"

namespace canopy::agent {

class FieldWork {
 public:
  // `options`, `active` and `client` must outlive this.
  FieldWork(const AgentOptions& options, ActiveModel& active, const DeviceClient& client);
  // Stops the loop (which closes its valves) and the uploader.
  ~FieldWork();
  FieldWork(const FieldWork&) = delete;
  FieldWork& operator=(const FieldWork&) = delete;

  // Runs the configuration at hand, if any; without one the agent only
  // updates its model.
  void start();
  // A configuration from the desired state: applied when it is new and
  // valid (the loop restarts on it), refused once when it is not.
  void offer(const api::FieldConfigVersion& config);

 private:
  struct Running;
  struct Applied {
    std::int64_t version = 0;  // the server's version running; 0: the device's own file
    std::int64_t refused = 0;  // the last version refused
  };
  void run(FieldConfig config);
  void report_config(bool refused, const std::string& message);
  std::optional<FieldConfig> own_config();
  Applied load_applied() const;
  void save_applied() const;

  const AgentOptions& options_;
  ActiveModel& active_;
  const DeviceClient& client_;
  Applied applied_;
  std::unique_ptr<Running> running_;
};

}  // namespace canopy::agent
