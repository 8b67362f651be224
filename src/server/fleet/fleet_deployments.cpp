// Deployments: creation (which claims the target's devices), control,
// status, and the catalog's delete guard (docs/fleet.md, "Deployments").
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/time.h"
#include "server/fleet/fleet.h"
#include "server/fleet/fleet_internal.h"

namespace canopy::server {

namespace {

constexpr std::size_t kFailuresShown = 100;

}  // namespace

Result<api::DeploymentStatus> Fleet::create_deployment(const api::DeploymentRequest& request,
                                                       const std::string& created_by) {
  // Resolved once: an alias that moves later does not move the deployment.
  CANOPY_ASSIGN_OR_RETURN(PackageRef package, catalog_.resolve(request.model));

  const std::int64_t now = clock_.wall_ms();
  Deployment created;
  created.package = package;
  created.target = request.target;
  created.strategy = request.strategy;
  created.stage_started_ms = now;
  created.created_at = format_utc(now);
  created.created_by = created_by;
  created.updated_ms = now;
  std::int64_t id = 0;
  {
    Locks locks{std::unique_lock(db_mutex_), std::unique_lock(state_mutex_)};
    // A target that names no device would stay "running" with nothing to
    // run, most often because of a misspelt group or tag.
    const bool any_device = std::any_of(devices_.begin(), devices_.end(), [&](const auto& entry) {
      return entry.second.status != DeviceStatus::kDecommissioned && targets(request.target, entry.second);
    });
    if (!any_device && !request.allow_empty)
      return make_error(ErrorCode::kInvalidArgument,
                        "the target (" + request.target.describe() +
                            ") matches no enrolled device; check the name, or allow an empty target for "
                            "devices that enroll later");
    CANOPY_ASSIGN_OR_RETURN(Transaction tx, store_.begin());
    CANOPY_ASSIGN_OR_RETURN(id, store_.insert_deployment(created));
    created.id = id;
    UndoLog undo;
    undo.add([this, id]() {
      deployments_.erase(id);
      wake_ms_.erase(id);
    });
    deployments_[id] = std::move(created);
    // Devices join in enrollment order, so canaries are the longest-serving devices.
    std::vector<Device*> joining;
    for (auto& [device_id, device] : devices_)
      if ((device.status == DeviceStatus::kActive || device.status == DeviceStatus::kPending) &&
          targets(deployments_[id].target, device))
        joining.push_back(&device);
    std::sort(joining.begin(), joining.end(), [](const Device* a, const Device* b) {
      return std::tie(a->enrolled_at, a->id) < std::tie(b->enrolled_at, b->id);
    });
    std::set<std::int64_t> touched = {id};
    for (Device* device : joining) CANOPY_TRY(claim_locked(*device, id, now, undo, touched));
    for (std::int64_t touched_id : touched)
      CANOPY_TRY(advance_locked(deployments_.at(touched_id), now, undo));
    CANOPY_TRY(tx.commit());
    undo.commit();
    spdlog::info("fleet.deployment.created id={} model={} version={} devices={} by={}", id,
                 package.model.name, package.model.version, joining.size(), created_by);
  }
  // A delete of the version may have run between resolve and the insert;
  // the catalog's guard saw the deployment only if it ran after it.
  if (!catalog_.find(package.model).ok()) {
    (void)control_deployment(id, "abort", created_by);
    return make_error(ErrorCode::kNotFound, "model '" + package.model.name + "' version " +
                                                std::to_string(package.model.version) +
                                                " was deleted meanwhile");
  }
  return deployment_status(id);
}

std::vector<api::DeploymentStatus> Fleet::list_deployments() {
  const std::int64_t now = clock_.wall_ms();
  std::vector<std::int64_t> due;
  {
    std::lock_guard state(state_mutex_);
    for (const auto& [id, wake] : wake_ms_)
      if (wake <= now) due.push_back(id);
  }
  for (std::int64_t id : due) advance_if_due(id, now);
  std::lock_guard state(state_mutex_);
  std::vector<api::DeploymentStatus> list;
  for (auto it = deployments_.rbegin(); it != deployments_.rend(); ++it)
    list.push_back(deployment_status_locked(it->second, false));
  return list;
}

Result<api::DeploymentStatus> Fleet::deployment_status(std::int64_t id) {
  advance_if_due(id, clock_.wall_ms());
  std::lock_guard state(state_mutex_);
  auto it = deployments_.find(id);
  if (it == deployments_.end())
    return make_error(ErrorCode::kNotFound, "no deployment " + std::to_string(id));
  return deployment_status_locked(it->second, true);
}

Fleet::DeploymentCounts Fleet::deployment_counts() {
  std::lock_guard state(state_mutex_);
  DeploymentCounts counts;
  for (const auto& [id, deployment] : deployments_) {
    ++counts.by_state[deployment.state];
    if (deployment.state != DeploymentState::kRolledBack) continue;
    ++(deployment.reason.starts_with(kRolledBackByPrefix) ? counts.rolled_back_by_operator
                                                          : counts.rolled_back_by_failures);
  }
  counts.device_rollbacks_ordered = reported_rollbacks_;
  counts.device_fallbacks = reported_fallbacks_;
  return counts;
}

Result<api::DeploymentStatus> Fleet::control_deployment(std::int64_t id, const std::string& operation,
                                                        const std::string& by) {
  const std::int64_t now = clock_.wall_ms();
  {
    Locks locks{std::unique_lock(db_mutex_), std::unique_lock(state_mutex_)};
    auto it = deployments_.find(id);
    if (it == deployments_.end())
      return make_error(ErrorCode::kNotFound, "no deployment " + std::to_string(id));
    Deployment& deployment = it->second;
    const DeploymentState state = deployment.state;
    const bool live = deployment.in_force();
    DeploymentState next = state;
    std::string reason = deployment.reason;
    std::int64_t baseline = deployment.failure_baseline;
    if (operation == "pause" && live && state != DeploymentState::kPaused) {
      next = DeploymentState::kPaused;
      reason = "paused by " + by;
    } else if (operation == "resume" && state == DeploymentState::kPaused) {
      next = DeploymentState::kRunning;
      reason.clear();
      // The failures that led to the pause are acknowledged; only new ones count.
      baseline = static_cast<std::int64_t>(tally(deployment, active_fn()).failures);
    } else if (operation == "abort" && live) {
      next = DeploymentState::kAborted;
      reason = "aborted by " + by;
    } else if (operation == "rollback" && live) {
      next = DeploymentState::kRolledBack;
      reason = std::string(kRolledBackByPrefix) + by;
    } else {
      return make_error(ErrorCode::kConflict, "deployment " + std::to_string(id) + " is " +
                                                  std::string(api::deployment_state_name(state)) +
                                                  "; it cannot " + operation);
    }
    CANOPY_ASSIGN_OR_RETURN(Transaction tx, store_.begin());
    UndoLog undo;
    undo.add([&deployment, state, old_reason = deployment.reason, old_baseline = deployment.failure_baseline,
              updated = deployment.updated_ms]() {
      deployment.state = state;
      deployment.reason = old_reason;
      deployment.failure_baseline = old_baseline;
      deployment.updated_ms = updated;
    });
    deployment.state = next;
    deployment.reason = reason;
    deployment.failure_baseline = baseline;
    deployment.updated_ms = now;
    CANOPY_TRY(store_.put_deployment(deployment));
    CANOPY_TRY(advance_locked(deployment, now, undo));
    CANOPY_TRY(tx.commit());
    undo.commit();
    spdlog::info("fleet.deployment.{} id={} by={}", operation, id, by);
  }
  return deployment_status(id);
}

api::DeploymentStatus Fleet::deployment_status_locked(const Deployment& deployment, bool detail) {
  const Tally counts = tally(deployment, active_fn());
  api::DeploymentStatus out;
  out.id = deployment.id;
  out.package = deployment.package;
  out.target = deployment.target;
  out.state = deployment.state;
  out.reason = deployment.reason;
  out.stage = deployment.stage;
  out.stage_name = deployment.strategy.stages[static_cast<std::size_t>(deployment.stage)].name;
  out.stage_started_at = format_utc(deployment.stage_started_ms);
  out.targeted = counts.eligible;
  out.admitted = counts.admitted;
  out.successes = counts.successes;
  out.failures = counts.failures;
  out.counts = counts.by_state;
  out.created_at = deployment.created_at;
  out.created_by = deployment.created_by;
  out.updated_at = format_utc(deployment.updated_ms);
  if (deployment.state == DeploymentState::kRolledBack) out.rollback = rollback_summary(deployment);
  if (!detail) return out;
  api::DeploymentStatus::Detail& more = out.detail.emplace();
  more.strategy = deployment.strategy;
  // Once finished no stage is current: a completed rollout is done in every
  // stage, a stopped one stays where it stopped.
  const bool completed = deployment.state == DeploymentState::kCompleted;
  for (std::size_t i = 0; i < counts.stages.size(); ++i) {
    const RolloutStage& stage = deployment.strategy.stages[i];
    const auto index = static_cast<std::size_t>(deployment.stage);
    more.stages.push_back({stage.name, counts.stages[i].size, counts.stages[i].admitted,
                           counts.stages[i].successes, counts.stages[i].failures, stage.soak_s,
                           stage.success_ratio,
                           i < index || completed ? api::StageStatus::kDone
                           : i == index           ? api::StageStatus::kCurrent
                                                  : api::StageStatus::kWaiting});
  }
  for (const auto& member : deployment.members) {
    if (!is_failure_state(member.state) || more.failure_reports.size() >= kFailuresShown) continue;
    auto device = devices_.find(member.device_id);
    more.failure_reports.push_back({member.device_id, device != devices_.end() ? device->second.name : "",
                                    member.state, member.error, format_utc(member.updated_ms)});
  }
  return out;
}

Status Fleet::check_version_unreferenced(const ModelRef& wanted) {
  const std::string what = "version " + std::to_string(wanted.version) + " of '" + wanted.name + "'";
  std::lock_guard state(state_mutex_);
  for (const auto& [id, deployment] : deployments_) {
    if (deployment.in_force() && deployment.package.model == wanted)
      return make_error(ErrorCode::kConflict, what + " is rolled out by deployment " + std::to_string(id) +
                                                  "; abort it or let a newer deployment supersede it first");
    if (deployment.state != DeploymentState::kRolledBack) continue;
    for (const auto& member : deployment.members)
      if (member.rollback_to && member.rollback_to->model == wanted)
        return make_error(ErrorCode::kConflict,
                          what + " is where deployment " + std::to_string(id) + " rolls devices back to");
  }
  for (const auto& [id, device] : devices_) {
    if (device.status == DeviceStatus::kDecommissioned) continue;
    if ((device.current && *device.current == wanted) || (device.previous && *device.previous == wanted))
      return make_error(ErrorCode::kConflict, what + " is on device " + id + " (" + device.name +
                                                  "); devices keep the versions they run and fall back to");
  }
  return {};
}

}  // namespace canopy::server
