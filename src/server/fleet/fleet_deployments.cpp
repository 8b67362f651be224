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

Result<Json> Fleet::create_deployment(const Json& request, const std::string& created_by) {
  if (!request.is_object())
    return make_error(ErrorCode::kInvalidArgument, "request body must be a JSON object");
  CANOPY_ASSIGN_OR_RETURN(std::string model, bounded_string(request, "model", 128));
  const bool has_version = request.contains("version"), has_alias = request.contains("alias");
  if (has_version == has_alias)
    return make_error(ErrorCode::kInvalidArgument, "request body: give exactly one of 'version' or 'alias'");
  std::string reference;
  if (has_version) {
    CANOPY_ASSIGN_OR_RETURN(std::int64_t version, json_get<std::int64_t>(request, "version"));
    reference = std::to_string(version);
  } else {
    CANOPY_ASSIGN_OR_RETURN(std::string alias, bounded_string(request, "alias", 64));
    reference = "@" + alias;
  }
  if (!request.contains("target"))
    return make_error(ErrorCode::kInvalidArgument, "request body: missing field 'target'");
  CANOPY_ASSIGN_OR_RETURN(Target target, Target::parse(request["target"]));
  CANOPY_ASSIGN_OR_RETURN(Strategy strategy, Strategy::parse(request.value("strategy", Json())));
  // Resolved once: an alias that moves later does not move the deployment.
  CANOPY_ASSIGN_OR_RETURN(PackageRef package, catalog_.resolve(model, reference));

  const std::int64_t now = clock_.wall_ms();
  Deployment created;
  created.package = package;
  created.target = std::move(target);
  created.strategy = std::move(strategy);
  created.stage_started_ms = now;
  created.created_at = format_utc(now);
  created.created_by = created_by;
  created.updated_ms = now;
  std::int64_t id = 0;
  {
    Locks locks{std::unique_lock(db_mutex_), std::unique_lock(state_mutex_)};
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
          deployments_[id].target.matches(device))
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
  CANOPY_ASSIGN_OR_RETURN(Json status, deployment_status(id));
  return status;
}

Json Fleet::list_deployments() {
  const std::int64_t now = clock_.wall_ms();
  std::vector<std::int64_t> due;
  {
    std::lock_guard state(state_mutex_);
    for (const auto& [id, wake] : wake_ms_)
      if (wake <= now) due.push_back(id);
  }
  for (std::int64_t id : due) advance_if_due(id, now);
  std::lock_guard state(state_mutex_);
  Json list = Json::array();
  for (auto it = deployments_.rbegin(); it != deployments_.rend(); ++it)
    list.push_back(deployment_json(it->second, false));
  return Json{{"deployments", list}};
}

Result<Json> Fleet::deployment_status(std::int64_t id) {
  advance_if_due(id, clock_.wall_ms());
  std::lock_guard state(state_mutex_);
  auto it = deployments_.find(id);
  if (it == deployments_.end())
    return make_error(ErrorCode::kNotFound, "no deployment " + std::to_string(id));
  return deployment_json(it->second, true);
}

Result<Json> Fleet::control_deployment(std::int64_t id, const std::string& operation, const std::string& by) {
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
      reason = "rolled back by " + by;
    } else {
      return make_error(ErrorCode::kConflict, "deployment " + std::to_string(id) + " is " +
                                                  std::string(deployment_state_name(state)) + "; it cannot " +
                                                  operation);
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

Json Fleet::deployment_json(const Deployment& deployment, bool detail) {
  const Tally counts = tally(deployment, active_fn());
  Json out = {{"id", deployment.id},
              {"model", deployment.package.model.name},
              {"version", deployment.package.model.version},
              {"sha256", deployment.package.sha256},
              {"size_bytes", deployment.package.size_bytes},
              {"target", deployment.target.to_json()},
              {"state", deployment_state_name(deployment.state)},
              {"reason", deployment.reason},
              {"stage", deployment.stage},
              {"stage_name", deployment.strategy.stages[static_cast<std::size_t>(deployment.stage)].name},
              {"stage_started_at", format_utc(deployment.stage_started_ms)},
              {"targeted", counts.eligible},
              {"admitted", counts.admitted},
              {"successes", counts.successes},
              {"failures", counts.failures},
              {"counts", counts.by_state},
              {"created_at", deployment.created_at},
              {"created_by", deployment.created_by},
              {"updated_at", format_utc(deployment.updated_ms)}};
  if (!detail) return out;
  out["strategy"] = deployment.strategy.to_json();
  Json stages = Json::array();
  for (std::size_t i = 0; i < counts.stages.size(); ++i) {
    const Stage& stage = deployment.strategy.stages[i];
    const auto index = static_cast<std::size_t>(deployment.stage);
    stages.push_back({{"name", stage.name},
                      {"size", counts.stages[i].size},
                      {"admitted", counts.stages[i].admitted},
                      {"successes", counts.stages[i].successes},
                      {"failures", counts.stages[i].failures},
                      {"soak_s", stage.soak_s},
                      {"success_ratio", stage.success_ratio},
                      {"status", i < index    ? "done"
                                 : i == index ? "current"
                                              : "waiting"}});
  }
  out["stages"] = stages;
  Json failures = Json::array();
  for (const auto& member : deployment.members) {
    if (!is_failure_state(member.state) || failures.size() >= kFailuresShown) continue;
    auto device = devices_.find(member.device_id);
    failures.push_back({{"device_id", member.device_id},
                        {"name", device != devices_.end() ? device->second.name : ""},
                        {"state", member.state},
                        {"error", member.error},
                        {"at", format_utc(member.updated_ms)}});
  }
  out["failure_reports"] = failures;
  return out;
}

Status Fleet::check_version_unreferenced(const ModelVersion& wanted) {
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
