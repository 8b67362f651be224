// The field loop: what a device in a field does all day. On the schedule of
// its field configuration it captures frames, runs the active model on
// them, tracks the plants it finds and raises zone alerts when their agreed
// state changes; reads its sensors; runs each irrigation zone on its soil
// sensor's verdict; and sums up telemetry. Everything it produces leaves as
// records (api/device_data.h) through `emit`, which in the agent is the
// durable outbox.
//
// Nothing stops the loop: a camera that fails is retried with backoff and
// reported, a corrupt frame is counted and dropped, no installed model means
// frames are skipped, a sensor that fails is invalid (and closes its zones).
// A model switch by the updater is picked up at the next frame without a
// reload: the detector shares the active model's engine.
// Thread-safety: run on one thread; the updater swaps the model concurrently
// through ActiveModel.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/active_model.h"
#include "agent/field_config.h"
#include "api/device_data.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/json.h"

namespace canopy::agent {

// Hands one record to whatever keeps them; an error is logged, not fatal.
using RecordEmitter = std::function<Status(api::Stream stream, std::int64_t at_ms, Json body)>;
// Extra telemetry values by name (the outbox's depth per stream).
using TelemetrySource = std::function<std::map<std::string, double>()>;

struct FieldLoopOptions {
  FieldConfig config;
  // zones/ keeps the valves' records, field-alerts.json the alerts raised
  // and not yet cleared (so that the next run clears them).
  // selection.json what hard-case selection remembers (agent/sample_collector.h).
  std::filesystem::path data_dir;
  std::string device_id;  // names the samples
  Clock* clock = &system_clock();
  TelemetrySource extra_telemetry;
};

class FieldLoop {
 public:
  // Builds the cameras, sensors and zones, closing every valve first.
  static Result<std::unique_ptr<FieldLoop>> open(FieldLoopOptions options, ActiveModel& active,
                                                 RecordEmitter emit);
  // Closes every valve that is open: no valve stays open without its
  // controller (a new configuration, the agent stopping).
  ~FieldLoop();

  // Does everything due at the clock's time and returns when the next thing
  // is due (Unix ms).
  std::int64_t run_due();
  // Runs until `stop` is set, sleeping on the clock between due times.
  void run(const std::atomic<bool>& stop);

 private:
  struct Impl;
  explicit FieldLoop(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace canopy::agent
