#include "server/fleet/fleet.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/hash.h"
#include "common/time.h"
#include "server/fleet/fleet_internal.h"

namespace canopy::server {

namespace {

constexpr std::int64_t kLastSeenBatchMs = 5000;  // at most one last_seen batch write per 5 s

}  // namespace

Result<std::unique_ptr<Fleet>> Fleet::open(Database db, ModelCatalog& catalog, FleetOptions options,
                                           Clock& clock) {
  CANOPY_TRY(FleetStore::migrate(db));
  std::unique_ptr<Fleet> fleet(new Fleet(FleetStore(std::move(db)), catalog, std::move(options), clock));
  CANOPY_ASSIGN_OR_RETURN(FleetSnapshot snapshot, fleet->store_.load());
  for (auto& token : snapshot.tokens) fleet->tokens_[token.token_hash] = std::move(token);
  for (auto& device : snapshot.devices) {
    device.last_seen_saved_ms = device.last_seen_ms;
    fleet->device_by_token_[device.token_hash] = device.id;
    if (!device.next_token_hash.empty()) fleet->device_by_token_[device.next_token_hash] = device.id;
    fleet->devices_[device.id] = std::move(device);
  }
  const std::int64_t now = clock.wall_ms();
  for (auto& deployment : snapshot.deployments) {
    // Oldest first, so the newest deployment a device is still a member of owns it.
    for (const auto& member : deployment.members) {
      auto it = fleet->devices_.find(member.device_id);
      if (it != fleet->devices_.end() && member.state != kMemberSuperseded)
        it->second.deployment = deployment.id;
    }
    const std::int64_t id = deployment.id;
    fleet->deployments_[id] = std::move(deployment);
  }
  for (auto& config : snapshot.field_configs) {
    const std::string device_id = config.device_id;
    fleet->field_configs_[device_id] = std::move(config);
  }
  // Soaks that ended while the server was down are due at once.
  for (auto& [id, deployment] : fleet->deployments_)
    fleet->wake_ms_[id] =
        plan_rollout(deployment, fleet->active_fn(), now).changes(deployment) ? now : kNever;
  spdlog::info("fleet.loaded devices={} deployments={} tokens={}", fleet->devices_.size(),
               fleet->deployments_.size(), fleet->tokens_.size());
  catalog.set_delete_guard(
      [fleet = fleet.get()](const ModelRef& version) { return fleet->check_version_unreferenced(version); });
  return fleet;
}

Fleet::~Fleet() { catalog_.set_delete_guard(nullptr); }

bool Fleet::device_active(const std::string& device_id) const {
  auto it = devices_.find(device_id);
  return it != devices_.end() && it->second.status == DeviceStatus::kActive;
}

DeviceActive Fleet::active_fn() const {
  return [this](const std::string& id) { return device_active(id); };
}

Result<std::string> Fleet::authenticate_device(std::string_view token) {
  if (token.size() < 8 || token.size() > 256) return unauthenticated_device();
  const std::string hash = sha256_hex(token);
  std::string id;
  {
    std::lock_guard state(state_mutex_);
    auto it = device_by_token_.find(hash);
    if (it == device_by_token_.end()) return unauthenticated_device();
    const Device& device = devices_.at(it->second);
    if (device.status == DeviceStatus::kRevoked || device.status == DeviceStatus::kDecommissioned)
      return revoked(device.id);
    if (hash != device.next_token_hash) return device.id;
    id = device.id;
  }
  CANOPY_TRY(promote_token(id, hash));
  return id;
}

Result<std::string> Fleet::enrolled_key(const std::string& device_id) {
  std::lock_guard state(state_mutex_);
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return unauthenticated_device();
  return it->second.public_key;
}

Result<std::string> Fleet::rotate_token(const std::string& device_id) {
  const std::string token = new_device_token();
  Locks locks{std::unique_lock(db_mutex_), std::unique_lock(state_mutex_)};
  Device& device = devices_.at(device_id);
  Device updated = device;
  updated.next_token_hash = sha256_hex(token);
  CANOPY_TRY(store_.put_device(updated));
  // A token issued before and never used is replaced: its answer was lost.
  if (!device.next_token_hash.empty()) device_by_token_.erase(device.next_token_hash);
  device.next_token_hash = updated.next_token_hash;
  device_by_token_[device.next_token_hash] = device_id;
  spdlog::info("fleet.device.token_issued device={}", device_id);
  return token;
}

Status Fleet::promote_token(const std::string& device_id, const std::string& hash) {
  Locks locks{std::unique_lock(db_mutex_), std::unique_lock(state_mutex_)};
  Device& device = devices_.at(device_id);
  if (device.next_token_hash != hash) return {};  // promoted by a request in between
  Device updated = device;
  updated.token_hash = hash;
  updated.next_token_hash.clear();
  CANOPY_TRY(store_.put_device(updated));
  device_by_token_.erase(device.token_hash);
  device.token_hash = hash;
  device.next_token_hash.clear();
  spdlog::info("fleet.device.token_rotated device={}", device_id);
  return {};
}

bool Fleet::was_issued(std::string_view token) {
  const std::string hash = sha256_hex(token);
  std::lock_guard state(state_mutex_);
  return device_by_token_.contains(hash);
}

void Fleet::mark_seen_locked(Device& device, std::int64_t now) {
  device.last_seen_ms = now;
  if (now - device.last_seen_saved_ms >= options_.last_seen_write_interval_s * 1000) {
    device.last_seen_saved_ms = now;  // scheduled: the next batch writes it
    last_seen_dirty_.push_back(device.id);
  }
}

void Fleet::mark_seen(const std::string& device_id) {
  const std::int64_t now = clock_.wall_ms();
  {
    std::lock_guard state(state_mutex_);
    auto it = devices_.find(device_id);
    if (it == devices_.end()) return;
    mark_seen_locked(it->second, now);
  }
  flush_last_seen(now);
}

Result<DesiredAnswer> Fleet::desired(const std::string& device_id) {
  const std::int64_t now = clock_.wall_ms();
  std::optional<std::int64_t> due;
  {
    std::lock_guard state(state_mutex_);
    auto it = devices_.find(device_id);
    if (it == devices_.end()) return unauthenticated_device();
    Device& device = it->second;
    mark_seen_locked(device, now);
    if (device.deployment && wake_ms_[*device.deployment] <= now) due = device.deployment;
  }
  if (due) advance_if_due(*due, now);
  api::DesiredState desired;
  {
    std::lock_guard state(state_mutex_);
    const Device& device = devices_.at(device_id);
    desired.device_id = device_id;
    desired.status = device.status;
    desired.poll_interval_s = options_.poll_interval_s;
    desired.key_endorsements = options_.key_endorsements;
    if (device.status == DeviceStatus::kActive && device.deployment) {
      const Deployment& deployment = deployments_.at(*device.deployment);
      auto member = deployment.member_index.find(device_id);
      auto assignment = member == deployment.member_index.end()
                            ? std::nullopt
                            : assignment_for(deployment, deployment.members[member->second]);
      if (assignment)
        desired.assignment = api::Assignment{deployment.id, assignment->action, assignment->package,
                                             api::package_url(assignment->package.model)};
    }
    if (device.status == DeviceStatus::kActive) {
      auto config = field_configs_.find(device_id);
      if (config != field_configs_.end())
        desired.field_config = api::FieldConfigVersion{config->second.version, *config->second.text};
    }
  }
  DesiredAnswer out;
  out.body = desired.to_json().dump(2) + "\n";
  out.etag = "\"" + sha256_hex(out.body).substr(0, 32) + "\"";
  flush_last_seen(now);
  return out;
}

Status Fleet::report(const std::string& device_id, const api::StatusReport& report) {
  const ReportState reported_state = report.state;
  const std::optional<std::int64_t>& deployment_id = report.deployment_id;
  // What a rollback would return the device to, looked up before any lock is taken.
  std::optional<PackageRef> rollback_to;
  if (reported_state == ReportState::kSuccess && report.previous) {
    auto package = catalog_.find(*report.previous);
    if (package.ok()) rollback_to = *package;
  }

  const std::int64_t now = clock_.wall_ms();
  Locks locks{std::unique_lock(db_mutex_), std::unique_lock(state_mutex_)};
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return unauthenticated_device();
  Device& device = it->second;
  if (device.status == DeviceStatus::kRevoked || device.status == DeviceStatus::kDecommissioned)
    return revoked(device_id);
  Device updated = device;
  updated.state = reported_state;
  updated.current = report.current;
  updated.previous = report.previous;
  updated.health = report.health;
  if (!report.error.empty() || api::is_failure(reported_state)) updated.last_error = report.error;
  if (!report.agent_version.empty()) updated.agent_version = report.agent_version;
  updated.last_seen_ms = now;
  updated.last_seen_saved_ms = now;
  ++updated.report_seq;

  CANOPY_ASSIGN_OR_RETURN(Transaction tx, store_.begin());
  CANOPY_TRY(store_.put_device(updated));
  CANOPY_TRY(store_.add_report(device_id, updated.report_seq, report, now));
  UndoLog undo;
  Deployment* deployment = nullptr;
  if (deployment_id && device.deployment == deployment_id) deployment = &deployments_.at(*deployment_id);
  Member* member = deployment ? deployment->member(device_id) : nullptr;
  const auto next_state = member ? state_after_report(*deployment, *member, reported_state,
                                                      report.model ? report.model : report.current)
                                 : std::nullopt;
  if (next_state) {
    undo.add([member, old = *member]() { *member = old; });
    member->state = *next_state;
    member->error = report.error;
    member->updated_ms = now;
    if (*next_state == "success") member->rollback_to = rollback_to;
    CANOPY_TRY(store_.put_member(deployment->id, *member));
    CANOPY_TRY(advance_locked(*deployment, now, undo));
  }
  CANOPY_TRY(tx.commit());
  undo.commit();
  device = std::move(updated);
  // A rollback the server ordered names its deployment; a device that fell
  // back on its own, after its model failed a health check, names none.
  if (reported_state == ReportState::kRolledBack)
    ++(deployment_id ? reported_rollbacks_ : reported_fallbacks_);
  spdlog::debug("fleet.report device={} deployment={} state={}", device_id, deployment_id.value_or(0),
                api::report_state_name(reported_state));
  return {};
}

Status Fleet::check_package_allowed(const std::string& device_id, const ModelRef& model) {
  std::lock_guard state(state_mutex_);
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return unauthenticated_device();
  const Device& device = it->second;
  if ((device.current && *device.current == model) || (device.previous && *device.previous == model))
    return {};
  if (device.status == DeviceStatus::kActive && device.deployment) {
    const Deployment& deployment = deployments_.at(*device.deployment);
    auto member = deployment.member_index.find(device_id);
    if (member != deployment.member_index.end()) {
      auto assignment = assignment_for(deployment, deployment.members[member->second]);
      if (assignment && assignment->package.model == model) return {};
    }
  }
  return make_error(ErrorCode::kNotFound, "no package " + model.name + " version " +
                                              std::to_string(model.version) + " for this device");
}

void Fleet::flush_last_seen(std::int64_t now) {
  std::unique_lock db(db_mutex_, std::try_to_lock);
  if (!db.owns_lock()) return;  // someone is writing; a later poll flushes
  std::vector<std::pair<std::string, std::int64_t>> batch;
  {
    std::lock_guard state(state_mutex_);
    if (last_seen_dirty_.empty() || now - last_seen_flushed_ms_ < kLastSeenBatchMs) return;
    last_seen_flushed_ms_ = now;
    for (const auto& id : last_seen_dirty_) batch.emplace_back(id, devices_.at(id).last_seen_ms);
    last_seen_dirty_.clear();
  }
  Status written = store_.put_last_seen(batch);
  if (!written.ok()) {
    // Not lost for long: the devices are marked again on a later poll.
    spdlog::warn("fleet.last_seen.write_failed devices={} error=\"{}\"", batch.size(),
                 written.error().message);
    std::lock_guard state(state_mutex_);
    for (const auto& [id, ms] : batch) devices_.at(id).last_seen_saved_ms = 0;
  }
}

Status Fleet::save_last_seen() {
  std::lock_guard db(db_mutex_);
  std::vector<std::pair<std::string, std::int64_t>> batch;
  {
    std::lock_guard state(state_mutex_);
    std::set<std::string> pending(last_seen_dirty_.begin(), last_seen_dirty_.end());
    for (auto& [id, device] : devices_) {
      if (device.last_seen_ms == device.last_seen_saved_ms && !pending.count(id)) continue;
      batch.emplace_back(id, device.last_seen_ms);
      device.last_seen_saved_ms = device.last_seen_ms;
    }
    last_seen_dirty_.clear();
  }
  if (batch.empty()) return {};
  return store_.put_last_seen(batch);
}

// ---- membership and rollout steps ----

std::optional<std::int64_t> Fleet::owner_for(const Device& device) {
  if (device.status != DeviceStatus::kActive && device.status != DeviceStatus::kPending)
    return device.deployment;
  const Deployment* current = device.deployment ? &deployments_.at(*device.deployment) : nullptr;
  const bool keep = current && current->owns_devices() && targets(current->target, device);
  const std::int64_t newer_than = keep ? current->id : 0;
  for (auto it = deployments_.rbegin(); it != deployments_.rend() && it->first > newer_than; ++it) {
    const Deployment& candidate = it->second;
    if (!candidate.in_force() || !targets(candidate.target, device)) continue;
    auto member = candidate.member_index.find(device.id);
    // A device a newer deployment took over never falls back to this one.
    if (member != candidate.member_index.end() &&
        candidate.members[member->second].state == kMemberSuperseded)
      continue;
    return candidate.id;
  }
  if (keep) return current->id;
  return std::nullopt;
}

Status Fleet::claim_locked(Device& device, std::optional<std::int64_t> owner, std::int64_t now, UndoLog& undo,
                           std::set<std::int64_t>& touched) {
  if (device.deployment == owner) return {};
  if (device.deployment) {
    Deployment& old = deployments_.at(*device.deployment);
    if (Member* member = old.member(device.id)) {
      undo.add([member, saved = *member]() { *member = saved; });
      member->state = kMemberSuperseded;
      member->updated_ms = now;
      CANOPY_TRY(store_.put_member(old.id, *member));
      touched.insert(old.id);
    }
  }
  if (owner) {
    Deployment& deployment = deployments_.at(*owner);
    if (!deployment.member(device.id)) {
      Deployment* d = &deployment;
      undo.add([d, id = device.id]() {
        d->member_index.erase(id);
        d->members.pop_back();
      });
      deployment.add_member(device.id).updated_ms = now;
    }
    CANOPY_TRY(store_.put_member(deployment.id, *deployment.member(device.id)));
    touched.insert(deployment.id);
  }
  undo.add([&device, old = device.deployment]() { device.deployment = old; });
  device.deployment = owner;
  return {};
}

Status Fleet::advance_locked(Deployment& deployment, std::int64_t now, UndoLog& undo) {
  RolloutPlan plan = plan_rollout(deployment, active_fn(), now);
  undo.add([this, id = deployment.id, old = wake_ms_[deployment.id]]() { wake_ms_[id] = old; });
  wake_ms_[deployment.id] = plan.wake_ms;
  if (!plan.changes(deployment)) return {};
  std::vector<std::pair<std::size_t, Member>> saved;
  for (const auto& [index, stage] : plan.admit) saved.emplace_back(index, deployment.members[index]);
  undo.add([d = &deployment, saved, stage = deployment.stage, started = deployment.stage_started_ms,
            state = deployment.state, reason = deployment.reason, updated = deployment.updated_ms]() {
    for (const auto& [index, member] : saved) d->members[index] = member;
    d->stage = stage;
    d->stage_started_ms = started;
    d->state = state;
    d->reason = reason;
    d->updated_ms = updated;
  });
  const DeploymentState before = deployment.state;
  const int stage_before = deployment.stage;
  apply_plan(deployment, plan, now);
  for (const auto& [index, stage] : plan.admit)
    CANOPY_TRY(store_.put_member(deployment.id, deployment.members[index]));
  CANOPY_TRY(store_.put_deployment(deployment));
  if (deployment.stage != stage_before || deployment.state != before)
    spdlog::info("fleet.deployment.step id={} stage={} state={} admitted_now={} reason=\"{}\"", deployment.id,
                 deployment.strategy.stages[static_cast<std::size_t>(deployment.stage)].name,
                 api::deployment_state_name(deployment.state), plan.admit.size(), deployment.reason);
  return {};
}

void Fleet::advance_if_due(std::int64_t deployment_id, std::int64_t now) {
  {
    // Mostly nothing is due: find that out without waiting for a database write.
    std::lock_guard state(state_mutex_);
    auto wake = wake_ms_.find(deployment_id);
    if (wake == wake_ms_.end() || wake->second > now) return;
  }
  Locks locks{std::unique_lock(db_mutex_), std::unique_lock(state_mutex_)};
  auto it = deployments_.find(deployment_id);
  if (it == deployments_.end() || wake_ms_[deployment_id] > now) return;
  UndoLog undo;
  auto tx = store_.begin();
  Status status = tx.ok() ? advance_locked(it->second, now, undo) : Status(tx.error());
  if (status.ok()) status = tx->commit();
  if (!status.ok()) {
    spdlog::warn("fleet.deployment.advance_failed id={} error=\"{}\"", deployment_id, status.error().message);
    return;
  }
  undo.commit();
}

// ---- devices (admin) ----

namespace {

// A device is stale once it has missed three polls in a row.
std::int64_t stale_after_ms(const FleetOptions& options) { return 3 * options.poll_interval_s * 1000; }

std::vector<const Device*> every_device(const std::unordered_map<std::string, Device>& devices) {
  std::vector<const Device*> all;
  all.reserve(devices.size());
  for (const auto& entry : devices) all.push_back(&entry.second);
  return all;
}

}  // namespace

Fleet::DevicePage Fleet::query_devices(const DeviceQuery& query) {
  const std::int64_t now = clock_.wall_ms();
  std::lock_guard state(state_mutex_);
  DeviceSelection selection = select_devices(every_device(devices_), query, now, stale_after_ms(options_));
  DevicePage page;
  page.total = selection.total;
  page.devices.reserve(selection.page.size());
  for (const Device* device : selection.page) page.devices.push_back(device->info());
  return page;
}

Json Fleet::summarize_devices() {
  const std::int64_t now = clock_.wall_ms();
  std::lock_guard state(state_mutex_);
  return server::summarize_devices(every_device(devices_), now, stale_after_ms(options_));
}

Result<api::DeviceInfo> Fleet::show_device(const std::string& device_id) {
  std::lock_guard db(db_mutex_);
  api::DeviceInfo info;
  {
    std::lock_guard state(state_mutex_);
    auto it = devices_.find(device_id);
    if (it == devices_.end()) return make_error(ErrorCode::kNotFound, "no device with id " + device_id);
    info = it->second.info();
  }
  CANOPY_ASSIGN_OR_RETURN(info.reports, store_.recent_reports(device_id));
  return info;
}

Result<api::FieldConfigRecord> Fleet::set_field_config(const std::string& device_id, std::string text,
                                                       const std::string& by) {
  CANOPY_TRY(api::check_field_config_text(text));
  // field_configs_ changes only under db_mutex_, so the version read here is
  // still the newest when its row is written; polls wait for the change in
  // memory, not for the write.
  std::lock_guard db(db_mutex_);
  api::FieldConfigRecord record;
  {
    std::lock_guard state(state_mutex_);
    auto device = devices_.find(device_id);
    if (device == devices_.end()) return make_error(ErrorCode::kNotFound, "no device with id " + device_id);
    const DeviceStatus status = device->second.status;
    if (status == DeviceStatus::kRevoked || status == DeviceStatus::kDecommissioned)
      return make_error(ErrorCode::kConflict, "device " + device_id + " is " +
                                                  std::string(api::device_status_name(status)) +
                                                  "; it takes no field configuration");
    auto newest = field_configs_.find(device_id);
    // Setting the newest text again (a retried request) is not a change:
    // a new version would make the device reload for nothing.
    if (newest != field_configs_.end() && newest->second.sha256 == sha256_hex(text)) return newest->second;
    record.version = newest == field_configs_.end() ? 1 : newest->second.version + 1;
  }
  record.device_id = device_id;
  record.sha256 = sha256_hex(text);
  record.set_by = by;
  record.set_at = format_utc(clock_.wall_ms());
  record.text = std::move(text);
  CANOPY_ASSIGN_OR_RETURN(Transaction tx, store_.begin());
  CANOPY_TRY(store_.add_field_config(record));
  CANOPY_TRY(tx.commit());
  spdlog::info("fleet.field_config.set device={} version={} sha256={} by=\"{}\"", device_id, record.version,
               record.sha256, by);
  std::lock_guard state(state_mutex_);
  field_configs_[device_id] = record;
  return record;
}

Result<api::FieldConfigRecord> Fleet::field_config(const std::string& device_id,
                                                   std::optional<std::int64_t> version) {
  std::lock_guard db(db_mutex_);
  {
    std::lock_guard state(state_mutex_);
    if (!devices_.count(device_id)) return make_error(ErrorCode::kNotFound, "no device with id " + device_id);
    auto newest = field_configs_.find(device_id);
    if (newest == field_configs_.end())
      return make_error(ErrorCode::kNotFound, "device " + device_id + " has no field configuration set");
    if (!version || *version == newest->second.version) return newest->second;
    if (*version > newest->second.version)
      return make_error(ErrorCode::kNotFound, "device " + device_id + " has no field configuration version " +
                                                  std::to_string(*version) + "; the newest is " +
                                                  std::to_string(newest->second.version));
  }
  CANOPY_ASSIGN_OR_RETURN(auto stored, store_.field_config(device_id, *version));
  if (!stored)
    return make_error(ErrorCode::kNotFound, "device " + device_id + " has no field configuration version " +
                                                std::to_string(*version));
  return std::move(*stored);
}

Result<api::DeviceInfo> Fleet::set_device_status(const std::string& device_id, DeviceStatus status) {
  const std::int64_t now = clock_.wall_ms();
  Locks locks{std::unique_lock(db_mutex_), std::unique_lock(state_mutex_)};
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return make_error(ErrorCode::kNotFound, "no device with id " + device_id);
  Device& device = it->second;
  if (device.status == status) return device.info();
  const bool allowed = status == DeviceStatus::kDecommissioned ||
                       (status == DeviceStatus::kRevoked && device.status != DeviceStatus::kDecommissioned) ||
                       (status == DeviceStatus::kActive && device.status == DeviceStatus::kPending);
  if (!allowed)
    return make_error(ErrorCode::kConflict,
                      "device " + device_id + " is " + std::string(api::device_status_name(device.status)) +
                          "; it cannot become " + std::string(api::device_status_name(status)));
  Device updated = device;
  updated.status = status;
  CANOPY_ASSIGN_OR_RETURN(Transaction tx, store_.begin());
  CANOPY_TRY(store_.put_device(updated));
  UndoLog undo;
  undo.add([&device, old = device.status]() { device.status = old; });
  device.status = status;
  std::set<std::int64_t> touched;
  if (status == DeviceStatus::kActive)
    CANOPY_TRY(claim_locked(device, owner_for(device), now, undo, touched));
  // A device that leaves no longer counts; its deployment's shares change.
  if (device.deployment) touched.insert(*device.deployment);
  for (std::int64_t id : touched) CANOPY_TRY(advance_locked(deployments_.at(id), now, undo));
  CANOPY_TRY(tx.commit());
  undo.commit();
  spdlog::info("fleet.device.status device={} status={}", device_id, api::device_status_name(status));
  return device.info();
}

}  // namespace canopy::server
