// When a model is retrained (docs/loop.md, "Retrain policy"): a pure
// function of the model's policy, what happened since its last retrain job,
// and the clock. The retrain area asks it whenever a worker looks for work
// or someone reads the loop's state, and queues a job when it says so.
//
// Any trigger starts a job, once `min_interval_s` has passed since the last
// job was queued and while no job of the model is open (queued or running):
//   labels    at least `min_new_labels` samples labeled since the last job
//   drift     an open drift alert on the model (with `on_drift`)
//   schedule  `every_s` passed since the last job, or since the policy was set
// A person's request skips the interval, never an open job. A disabled
// policy queues nothing, not even on request.
// Thread-safety: values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/retrain.h"

namespace canopy::server {

struct RetrainState {
  std::optional<std::int64_t> last_job_at_ms;  // when the newest job was queued
  std::int64_t policy_set_at_ms = 0;           // the schedule's origin before any job
  bool job_open = false;
  std::int64_t new_labels = 0;          // labeled since the newest job's dataset was made
  std::vector<std::string> open_drift;  // the model's open drift alerts, "FIELD MEASURE VALUE"
  std::string requested_by;             // a person asked for a job now (empty: nobody)
};

struct RetrainDecision {
  bool queue = false;
  // Why a job is queued ("150 new labels (at least 100)", "drift: north psi
  // 0.31", "schedule: every 86400 s", "requested by NAME"), or why not.
  std::string reason;
  // The earliest time the clock alone could change the answer (the interval
  // or the schedule running out); 0 when only new events can.
  std::int64_t wake_ms = 0;
};

RetrainDecision decide_retrain(const api::RetrainPolicy& policy, const RetrainState& state, std::int64_t now_ms);

}  // namespace canopy::server
