// The rollout rules of docs/fleet.md as pure functions of a deployment's
// state and the clock: which devices a stage admits, when a stage advances
// (soak time passed and enough successes), when failures pause or roll the
// deployment back, and what each member device is told to do.
// Nothing here sleeps or stores: the Fleet evaluates a plan whenever a report,
// a poll or a status read could change the outcome, stores it, then applies it.
// Thread-safety: pure functions; callers hold the Fleet's lock.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/fleet/fleet_model.h"

namespace canopy::server {

// True for a device that counts toward a deployment: active (approved, not
// revoked or decommissioned).
using DeviceActive = std::function<bool(const std::string& device_id)>;

inline constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

struct RolloutPlan {
  std::vector<std::pair<std::size_t, int>> admit;  // member index, stage it joins in
  int stage = 0;
  std::int64_t stage_started_ms = 0;
  DeploymentState state = DeploymentState::kRunning;
  std::string reason;
  // The earliest time at which the clock alone could change the plan (a soak
  // ending); kNever when only reports or membership changes can.
  std::int64_t wake_ms = kNever;

  // True when applying the plan changes the deployment.
  bool changes(const Deployment& deployment) const;
};

// How many devices `stage` admits, cumulatively, out of `eligible`.
std::size_t stage_size(const RolloutStage& stage, std::size_t eligible);

RolloutPlan plan_rollout(const Deployment& deployment, const DeviceActive& active, std::int64_t now_ms);
void apply_plan(Deployment& deployment, const RolloutPlan& plan, std::int64_t now_ms);

struct StageTally {
  std::size_t size = 0;      // cumulative devices this stage admits at today's target size
  std::size_t admitted = 0;  // devices admitted in this stage
  std::size_t successes = 0;
  std::size_t failures = 0;
};

struct Tally {
  std::size_t eligible = 0;  // active members not superseded
  std::size_t admitted = 0;
  std::size_t successes = 0;
  std::size_t failures = 0;
  std::map<std::string, std::size_t> by_state;  // every member, by its state
  std::vector<StageTally> stages;
};

Tally tally(const Deployment& deployment, const DeviceActive& active);

// The state a status report gives a member device, or nullopt when the
// report changes nothing there: the device was not admitted or was
// superseded, the report is "idle", or it claims success with a model other
// than the deployment's. `reported` is the report's model (else its current).
// After a rollback, a device that is back on its previous model is "reverted",
// which is neither a success nor a failure.
std::optional<std::string> state_after_report(const Deployment& deployment, const Member& member,
                                              ReportState state, const std::optional<ModelRef>& reported);

using api::Action;

struct Assignment {
  Action action = Action::kInstall;
  PackageRef package;
};

// Where a rolled-back deployment's members go (superseded ones are left out).
api::RollbackSummary rollback_summary(const Deployment& deployment);

// What the deployment tells one of its member devices, if anything.
std::optional<Assignment> assignment_for(const Deployment& deployment, const Member& member);

}  // namespace canopy::server
