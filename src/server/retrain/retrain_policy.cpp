#include "server/retrain/retrain_policy.h"

#include <algorithm>

namespace canopy::server {

RetrainDecision decide_retrain(const api::RetrainPolicy& policy, const RetrainState& state, std::int64_t now_ms) {
  if (!policy.enabled) return {false, "the policy is disabled", 0};
  if (state.job_open) return {false, "a job is already queued or running", 0};
  if (!state.requested_by.empty()) return {true, "requested by " + state.requested_by, 0};

  // The triggers, first the ones events fire, then the schedule.
  std::string trigger;
  if (policy.on_drift && !state.open_drift.empty()) {
    trigger = "drift: " + state.open_drift.front();
    if (state.open_drift.size() > 1) trigger += " and " + std::to_string(state.open_drift.size() - 1) + " more";
  } else if (policy.min_new_labels > 0 && state.new_labels >= policy.min_new_labels) {
    trigger = std::to_string(state.new_labels) + " new labels (at least " + std::to_string(policy.min_new_labels) + ")";
  }
  std::int64_t schedule_due = 0;
  if (policy.every_s > 0) {
    schedule_due = state.last_job_at_ms.value_or(state.policy_set_at_ms) + policy.every_s * 1000;
    if (trigger.empty() && now_ms >= schedule_due) trigger = "schedule: every " + std::to_string(policy.every_s) + " s";
  }

  const std::int64_t interval_over =
      state.last_job_at_ms ? *state.last_job_at_ms + policy.min_interval_s * 1000 : now_ms;
  if (!trigger.empty()) {
    if (now_ms >= interval_over) return {true, trigger, 0};
    return {false, trigger + ", waiting for the minimum interval", interval_over};
  }
  if (schedule_due > 0) return {false, "no trigger yet", std::max(schedule_due, interval_over)};
  return {false, "no trigger yet", 0};
}

}  // namespace canopy::server
