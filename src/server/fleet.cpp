#include "server/fleet.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <set>

#include "common/hash.h"
#include "common/keys.h"
#include "common/time.h"

namespace canopy::server {

// In-memory changes made before the transaction commits, undone in reverse
// if it does not, so memory always matches what the database holds.
class UndoLog {
 public:
  UndoLog() = default;
  UndoLog(const UndoLog&) = delete;
  UndoLog& operator=(const UndoLog&) = delete;
  ~UndoLog() {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) (*it)();
  }
  void add(std::function<void()> step) { steps_.push_back(std::move(step)); }
  void commit() { steps_.clear(); }

 private:
  std::vector<std::function<void()>> steps_;
};

namespace {

constexpr std::int64_t kEnrollClockSkewMs = 10 * 60 * 1000;
constexpr std::int64_t kLastSeenBatchMs = 5000;  // at most one last_seen batch write per 5 s
constexpr std::size_t kFailuresShown = 100;

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return to_hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

Error unauthenticated_device() {
  return make_error(ErrorCode::kUnauthenticated,
                    "a valid device token is required (send it as Authorization: Bearer cdt_...)");
}

Error revoked(const std::string& id) { return make_error(ErrorCode::kUnauthenticated, "device " + id + " is revoked"); }

Result<std::string> bounded_string(const Json& object, const std::string& field, std::size_t max_size,
                                   std::optional<std::string> fallback = std::nullopt) {
  auto value = fallback ? json_get_or<std::string>(object, field, *fallback) : json_get<std::string>(object, field);
  if (!value.ok()) return value.error().with_context("request body");
  if (value->size() > max_size)
    return make_error(ErrorCode::kInvalidArgument,
                      "request body: field '" + field + "' is longer than " + std::to_string(max_size) + " characters");
  return value;
}

struct Locks {
  std::unique_lock<std::mutex> db;
  std::unique_lock<std::mutex> state;
};

}  // namespace

Result<std::unique_ptr<Fleet>> Fleet::open(const fs::path& database, Registry& registry, FleetOptions options) {
  CANOPY_ASSIGN_OR_RETURN(Database db, Database::open(database));
  std::unique_ptr<Fleet> fleet(new Fleet(FleetStore(std::move(db)), registry, std::move(options)));
  CANOPY_ASSIGN_OR_RETURN(FleetSnapshot snapshot, fleet->store_.load());
  for (auto& token : snapshot.tokens) fleet->tokens_[token.token_hash] = std::move(token);
  for (auto& device : snapshot.devices) {
    device.last_seen_saved_ms = device.last_seen_ms;
    fleet->device_by_token_[device.token_hash] = device.id;
    fleet->devices_[device.id] = std::move(device);
  }
  const std::int64_t now = now_ms();
  for (auto& deployment : snapshot.deployments) {
    // Oldest first, so the newest deployment a device is still a member of owns it.
    for (const auto& member : deployment.members) {
      auto it = fleet->devices_.find(member.device_id);
      if (it != fleet->devices_.end() && member.state != kMemberSuperseded) it->second.deployment = deployment.id;
    }
    const std::int64_t id = deployment.id;
    fleet->deployments_[id] = std::move(deployment);
  }
  // Soaks that ended while the server was down are due at once.
  for (auto& [id, deployment] : fleet->deployments_)
    fleet->wake_ms_[id] = plan_rollout(deployment, fleet->active_fn(), now).changes(deployment) ? now : kNever;
  spdlog::info("fleet.loaded devices={} deployments={} tokens={}", fleet->devices_.size(), fleet->deployments_.size(),
               fleet->tokens_.size());
  return fleet;
}

bool Fleet::device_active(const std::string& device_id) const {
  auto it = devices_.find(device_id);
  return it != devices_.end() && it->second.status == DeviceStatus::kActive;
}

DeviceActive Fleet::active_fn() const {
  return [this](const std::string& id) { return device_active(id); };
}

// ---- enrollment tokens and enrollment ----

Result<NewEnrollmentToken> Fleet::create_enrollment_token(const Json& request, const std::string& created_by) {
  CANOPY_ASSIGN_OR_RETURN(std::string group, bounded_string(request, "group", 64));
  if (group.empty()) return make_error(ErrorCode::kInvalidArgument, "request body: field 'group' must not be empty");
  auto expires_in = json_get_or<std::int64_t>(request, "expires_in_s", 86400);
  auto max_uses = json_get_or<std::int64_t>(request, "max_uses", 1);
  CANOPY_ASSIGN_OR_RETURN(std::string approval, bounded_string(request, "approval", 16, "auto"));
  if (!expires_in.ok()) return expires_in.error().with_context("request body");
  if (!max_uses.ok()) return max_uses.error().with_context("request body");
  if (*expires_in < 1 || *expires_in > 365 * 86400)
    return make_error(ErrorCode::kInvalidArgument, "expires_in_s must be between 1 and 31536000 (a year)");
  if (*max_uses < 1) return make_error(ErrorCode::kInvalidArgument, "max_uses must be at least 1");
  if (approval != "auto" && approval != "manual")
    return make_error(ErrorCode::kInvalidArgument, "approval '" + approval + "' must be auto or manual");

  NewEnrollmentToken token;
  token.record.id = random_hex(6);
  token.secret = "cet_" + token.record.id + "_" + random_hex(32);
  token.record.token_hash = sha256_hex(token.secret);
  token.record.group = group;
  token.record.approval = approval == "auto" ? Approval::kAuto : Approval::kManual;
  token.record.expires_ms = now_ms() + *expires_in * 1000;
  token.record.max_uses = *max_uses;
  token.record.created_at = now_rfc3339();
  token.record.created_by = created_by;
  std::lock_guard db(db_mutex_);
  CANOPY_TRY(store_.put_token(token.record));
  std::lock_guard state(state_mutex_);
  tokens_[token.record.token_hash] = token.record;
  spdlog::info("fleet.enrollment_token.created id={} group={} uses={} approval={}", token.record.id, group, *max_uses,
               approval);
  return token;
}

std::vector<EnrollmentToken> Fleet::list_enrollment_tokens() {
  std::lock_guard state(state_mutex_);
  std::vector<EnrollmentToken> out;
  for (const auto& [hash, token] : tokens_) out.push_back(token);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
  });
  return out;
}

Result<Json> Fleet::enroll(const Json& request) {
  CANOPY_ASSIGN_OR_RETURN(std::string token_text, bounded_string(request, "enrollment_token", 256));
  CANOPY_ASSIGN_OR_RETURN(std::string key_text, bounded_string(request, "public_key", 256));
  CANOPY_ASSIGN_OR_RETURN(std::string name, bounded_string(request, "name", 128));
  CANOPY_ASSIGN_OR_RETURN(std::string timestamp, bounded_string(request, "timestamp", 32));
  CANOPY_ASSIGN_OR_RETURN(std::string signature_text, bounded_string(request, "signature", 256));
  CANOPY_ASSIGN_OR_RETURN(std::string agent_version, bounded_string(request, "agent_version", 64, ""));
  std::map<std::string, std::string> tags;
  if (request.contains("tags") && !request["tags"].is_null()) {
    CANOPY_ASSIGN_OR_RETURN(tags, parse_tags(request["tags"], "tags"));
  }
  CANOPY_ASSIGN_OR_RETURN(PublicKey key, PublicKey::from_text(key_text));
  auto signature = base64_decode(signature_text);
  const std::string signed_text = "canopy-enroll\n" + token_text + "\n" + key_text + "\n" + name + "\n" + timestamp;
  if (!signature.ok() || !verify_detached(key, signed_text, *signature))
    return make_error(ErrorCode::kBadSignature,
                      "the enrollment signature does not verify with the public key sent; sign "
                      "\"canopy-enroll\\n<token>\\n<public_key>\\n<name>\\n<timestamp>\" with the device key");
  CANOPY_ASSIGN_OR_RETURN(std::int64_t signed_at, parse_utc(timestamp));
  const std::int64_t now = now_ms();
  if (std::llabs(now - signed_at) > kEnrollClockSkewMs)
    return make_error(ErrorCode::kBadSignature, "the enrollment timestamp " + timestamp +
                                                    " is more than 10 minutes from the server's clock (" +
                                                    format_utc(now) + "); set the device's clock");

  const std::string token_hash = sha256_hex(token_text);
  const std::string device_token = "cdt_" + random_hex(6) + "_" + random_hex(32);
  Locks locks{std::unique_lock(db_mutex_), std::unique_lock(state_mutex_)};
  auto token_it = tokens_.find(token_hash);
  if (token_it == tokens_.end()) return make_error(ErrorCode::kUnauthenticated, "enrollment token is not valid");
  EnrollmentToken& token = token_it->second;
  if (now >= token.expires_ms) return make_error(ErrorCode::kUnauthenticated, "enrollment token is expired");
  if (token.uses >= token.max_uses)
    return make_error(ErrorCode::kUnauthenticated, "enrollment token has no uses left");

  const std::string id = key.key_id();
  auto existing = devices_.find(id);
  if (existing != devices_.end() && (existing->second.status == DeviceStatus::kRevoked ||
                                     existing->second.status == DeviceStatus::kDecommissioned))
    return revoked(id);
  Device device;
  if (existing != devices_.end()) {
    device = existing->second;
  } else {
    device.id = id;
    device.enrolled_at = now_rfc3339();
  }
  // A device an admin already approved stays approved when it enrolls again.
  if (device.status != DeviceStatus::kActive)
    device.status = token.approval == Approval::kAuto ? DeviceStatus::kActive : DeviceStatus::kPending;
  device.public_key = key_text;
  device.name = name;
  device.group = token.group;
  device.tags = tags;
  device.agent_version = agent_version;
  device.token_hash = sha256_hex(device_token);
  device.last_seen_ms = now;
  device.last_seen_saved_ms = now;

  EnrollmentToken used = token;
  ++used.uses;
  CANOPY_ASSIGN_OR_RETURN(Transaction tx, store_.begin());
  CANOPY_TRY(store_.put_token(used));
  CANOPY_TRY(store_.put_device(device));
  UndoLog undo;
  std::optional<Device> before = existing != devices_.end() ? std::optional(existing->second) : std::nullopt;
  undo.add([this, token_hash, old = token]() { tokens_[token_hash] = old; });
  token = used;
  undo.add([this, id, before]() {
    if (before) {
      device_by_token_.erase(devices_[id].token_hash);
      device_by_token_[before->token_hash] = id;
      devices_[id] = *before;
    } else {
      device_by_token_.erase(devices_[id].token_hash);
      devices_.erase(id);
    }
  });
  // The old token stops working: re-enrolling rotates it.
  if (before) device_by_token_.erase(before->token_hash);
  device_by_token_[device.token_hash] = id;
  Device& stored = devices_[id] = std::move(device);
  std::set<std::int64_t> touched;
  CANOPY_TRY(claim_locked(stored, owner_for(stored), now, undo, touched));
  for (std::int64_t deployment_id : touched) CANOPY_TRY(advance_locked(deployments_.at(deployment_id), now, undo));
  CANOPY_TRY(tx.commit());
  undo.commit();
  spdlog::info("fleet.enroll device={} name={} group={} status={} again={}", id, stored.name, stored.group,
               device_status_name(stored.status), before.has_value());
  Json trusted = Json::array();
  for (const auto& text : options_.trusted_keys) trusted.push_back(text);
  return Json{{"device_id", id},
              {"device_token", device_token},
              {"status", device_status_name(stored.status)},
              {"group", stored.group},
              {"poll_interval_s", options_.poll_interval_s},
              {"trusted_keys", trusted}};
}

// ---- device API ----

Result<std::string> Fleet::authenticate_device(std::string_view token) {
  if (token.size() < 8 || token.size() > 256) return unauthenticated_device();
  const std::string hash = sha256_hex(token);
  std::lock_guard state(state_mutex_);
  auto it = device_by_token_.find(hash);
  if (it == device_by_token_.end()) return unauthenticated_device();
  const Device& device = devices_.at(it->second);
  if (device.status == DeviceStatus::kRevoked || device.status == DeviceStatus::kDecommissioned)
    return revoked(device.id);
  return device.id;
}

Result<DesiredState> Fleet::desired(const std::string& device_id) {
  const std::int64_t now = now_ms();
  std::optional<std::int64_t> due;
  {
    std::lock_guard state(state_mutex_);
    auto it = devices_.find(device_id);
    if (it == devices_.end()) return unauthenticated_device();
    Device& device = it->second;
    device.last_seen_ms = now;
    if (now - device.last_seen_saved_ms >= options_.last_seen_write_interval_s * 1000) {
      device.last_seen_saved_ms = now;  // scheduled: the next batch writes it
      last_seen_dirty_.push_back(device_id);
    }
    if (device.deployment && wake_ms_[*device.deployment] <= now) due = device.deployment;
  }
  if (due) advance_if_due(*due, now);
  DesiredState out;
  {
    std::lock_guard state(state_mutex_);
    const Device& device = devices_.at(device_id);
    Json body = {{"device_id", device_id},
                 {"status", device_status_name(device.status)},
                 {"poll_interval_s", options_.poll_interval_s},
                 {"deployment", nullptr},
                 {"model", nullptr}};
    if (device.status == DeviceStatus::kActive && device.deployment) {
      const Deployment& deployment = deployments_.at(*device.deployment);
      auto member = deployment.member_index.find(device_id);
      auto assignment = member == deployment.member_index.end()
                            ? std::nullopt
                            : assignment_for(deployment, deployment.members[member->second]);
      if (assignment) {
        const PackageRef& package = assignment->package;
        body["deployment"] = {{"id", deployment.id},
                              {"action", assignment->action == Action::kInstall ? "install" : "rollback"}};
        body["model"] = {{"name", package.model.name},
                         {"version", package.model.version},
                         {"sha256", package.sha256},
                         {"size", package.size_bytes},
                         {"url", "/api/v1/device/packages/" + package.model.name + "/" +
                                     std::to_string(package.model.version)}};
      }
    }
    out.body = body.dump(2) + "\n";
  }
  out.etag = "\"" + sha256_hex(out.body).substr(0, 32) + "\"";
  flush_last_seen(now);
  return out;
}

Status Fleet::report(const std::string& device_id, const Json& request) {
  if (!request.is_object()) return make_error(ErrorCode::kInvalidArgument, "request body must be a JSON object");
  CANOPY_ASSIGN_OR_RETURN(std::string state_name, bounded_string(request, "state", 32));
  if (!is_report_state(state_name))
    return make_error(ErrorCode::kInvalidArgument,
                      "state '" + state_name + "' must be one of idle, downloading, verifying, installing, "
                                               "health-checking, success, failed, rolled-back");
  std::optional<std::int64_t> deployment_id;
  if (request.contains("deployment_id") && !request["deployment_id"].is_null()) {
    CANOPY_ASSIGN_OR_RETURN(deployment_id, json_get<std::int64_t>(request, "deployment_id"));
  }
  CANOPY_ASSIGN_OR_RETURN(auto model, parse_model_version(request, "model"));
  CANOPY_ASSIGN_OR_RETURN(auto current, parse_model_version(request, "current"));
  CANOPY_ASSIGN_OR_RETURN(auto previous, parse_model_version(request, "previous"));
  CANOPY_ASSIGN_OR_RETURN(std::string error_text, bounded_string(request, "error", 1024, ""));
  CANOPY_ASSIGN_OR_RETURN(std::string agent_version, bounded_string(request, "agent_version", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(std::string health, bounded_string(request, "health", 64, ""));
  // What a rollback would return the device to, looked up before any lock is taken.
  std::optional<PackageRef> rollback_to;
  if (state_name == "success" && previous) {
    auto record = registry_.get_version(previous->name, previous->version);
    if (record.ok()) rollback_to = PackageRef{*previous, record->blob_sha256, record->size_bytes};
  }

  const std::int64_t now = now_ms();
  Locks locks{std::unique_lock(db_mutex_), std::unique_lock(state_mutex_)};
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return unauthenticated_device();
  Device& device = it->second;
  if (device.status == DeviceStatus::kRevoked || device.status == DeviceStatus::kDecommissioned)
    return revoked(device_id);
  Device updated = device;
  updated.state = state_name;
  updated.current = current;
  updated.previous = previous;
  updated.health = health;
  if (!error_text.empty() || is_failure_state(state_name)) updated.last_error = error_text;
  if (!agent_version.empty()) updated.agent_version = agent_version;
  updated.last_seen_ms = now;
  updated.last_seen_saved_ms = now;
  ++updated.report_seq;

  CANOPY_ASSIGN_OR_RETURN(Transaction tx, store_.begin());
  CANOPY_TRY(store_.put_device(updated));
  CANOPY_TRY(store_.add_report(device_id, updated.report_seq, request, now));
  UndoLog undo;
  Deployment* deployment = nullptr;
  if (deployment_id && device.deployment == deployment_id) deployment = &deployments_.at(*deployment_id);
  Member* member = deployment ? deployment->member(device_id) : nullptr;
  const auto next_state = member ? state_after_report(*deployment, *member, state_name, model ? model : current)
                                 : std::nullopt;
  if (next_state) {
    undo.add([member, old = *member]() { *member = old; });
    member->state = *next_state;
    member->error = error_text;
    member->updated_ms = now;
    if (*next_state == "success") member->rollback_to = rollback_to;
    CANOPY_TRY(store_.put_member(deployment->id, *member));
    CANOPY_TRY(advance_locked(*deployment, now, undo));
  }
  CANOPY_TRY(tx.commit());
  undo.commit();
  device = std::move(updated);
  spdlog::debug("fleet.report device={} deployment={} state={}", device_id, deployment_id.value_or(0), state_name);
  return {};
}

Status Fleet::check_package_allowed(const std::string& device_id, const ModelVersion& model) {
  std::lock_guard state(state_mutex_);
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return unauthenticated_device();
  const Device& device = it->second;
  if ((device.current && *device.current == model) || (device.previous && *device.previous == model)) return {};
  if (device.status == DeviceStatus::kActive && device.deployment) {
    const Deployment& deployment = deployments_.at(*device.deployment);
    auto member = deployment.member_index.find(device_id);
    if (member != deployment.member_index.end()) {
      auto assignment = assignment_for(deployment, deployment.members[member->second]);
      if (assignment && assignment->package.model == model) return {};
    }
  }
  return make_error(ErrorCode::kNotFound, "no package " + model.name + " version " + std::to_string(model.version) +
                                              " for this device");
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
    spdlog::warn("fleet.last_seen.write_failed devices={} error=\"{}\"", batch.size(), written.error().message);
    std::lock_guard state(state_mutex_);
    for (const auto& [id, ms] : batch) devices_.at(id).last_seen_saved_ms = 0;
  }
}

// ---- membership and rollout steps ----

std::optional<std::int64_t> Fleet::owner_for(const Device& device) {
  if (device.status != DeviceStatus::kActive && device.status != DeviceStatus::kPending) return device.deployment;
  const Deployment* current = device.deployment ? &deployments_.at(*device.deployment) : nullptr;
  const bool keep = current && current->owns_devices() && current->target.matches(device);
  const std::int64_t newer_than = keep ? current->id : 0;
  for (auto it = deployments_.rbegin(); it != deployments_.rend() && it->first > newer_than; ++it) {
    const Deployment& candidate = it->second;
    if (!candidate.in_force() || !candidate.target.matches(device)) continue;
    auto member = candidate.member_index.find(device.id);
    // A device a newer deployment took over never falls back to this one.
    if (member != candidate.member_index.end() && candidate.members[member->second].state == kMemberSuperseded)
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
  for (const auto& [index, stage] : plan.admit) CANOPY_TRY(store_.put_member(deployment.id, deployment.members[index]));
  CANOPY_TRY(store_.put_deployment(deployment));
  if (deployment.stage != stage_before || deployment.state != before)
    spdlog::info("fleet.deployment.step id={} stage={} state={} admitted_now={} reason=\"{}\"", deployment.id,
                 deployment.strategy.stages[static_cast<std::size_t>(deployment.stage)].name,
                 deployment_state_name(deployment.state), plan.admit.size(), deployment.reason);
  return {};
}

void Fleet::advance_if_due(std::int64_t deployment_id, std::int64_t now) {
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

Json Fleet::list_devices(const std::string& group, const std::string& tag, const std::string& status) {
  std::string tag_key = tag, tag_value;
  if (auto colon = tag.find(':'); colon != std::string::npos) {
    tag_key = tag.substr(0, colon);
    tag_value = tag.substr(colon + 1);
  }
  std::lock_guard state(state_mutex_);
  std::vector<const Device*> rows;
  for (const auto& [id, device] : devices_) {
    if (!group.empty() && device.group != group) continue;
    if (!status.empty() && device_status_name(device.status) != status) continue;
    if (!tag.empty()) {
      auto it = device.tags.find(tag_key);
      if (it == device.tags.end() || (tag.find(':') != std::string::npos && it->second != tag_value)) continue;
    }
    rows.push_back(&device);
  }
  std::sort(rows.begin(), rows.end(), [](const Device* a, const Device* b) { return a->id < b->id; });
  Json list = Json::array();
  for (const Device* device : rows) list.push_back(device->to_json());
  return Json{{"devices", list}};
}

Result<Json> Fleet::show_device(const std::string& device_id) {
  std::lock_guard db(db_mutex_);
  Json row;
  {
    std::lock_guard state(state_mutex_);
    auto it = devices_.find(device_id);
    if (it == devices_.end()) return make_error(ErrorCode::kNotFound, "no device with id " + device_id);
    row = it->second.to_json();
  }
  CANOPY_ASSIGN_OR_RETURN(row["reports"], store_.recent_reports(device_id));
  return row;
}

Result<Json> Fleet::set_device_status(const std::string& device_id, DeviceStatus status) {
  const std::int64_t now = now_ms();
  Locks locks{std::unique_lock(db_mutex_), std::unique_lock(state_mutex_)};
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return make_error(ErrorCode::kNotFound, "no device with id " + device_id);
  Device& device = it->second;
  if (device.status == status) return device.to_json();
  const bool allowed = status == DeviceStatus::kDecommissioned ||
                       (status == DeviceStatus::kRevoked && device.status != DeviceStatus::kDecommissioned) ||
                       (status == DeviceStatus::kActive && device.status == DeviceStatus::kPending);
  if (!allowed)
    return make_error(ErrorCode::kConflict, "device " + device_id + " is " +
                                                std::string(device_status_name(device.status)) + "; it cannot become " +
                                                std::string(device_status_name(status)));
  Device updated = device;
  updated.status = status;
  CANOPY_ASSIGN_OR_RETURN(Transaction tx, store_.begin());
  CANOPY_TRY(store_.put_device(updated));
  UndoLog undo;
  undo.add([&device, old = device.status]() { device.status = old; });
  device.status = status;
  std::set<std::int64_t> touched;
  if (status == DeviceStatus::kActive) CANOPY_TRY(claim_locked(device, owner_for(device), now, undo, touched));
  // A device that leaves no longer counts; its deployment's shares change.
  if (device.deployment) touched.insert(*device.deployment);
  for (std::int64_t id : touched) CANOPY_TRY(advance_locked(deployments_.at(id), now, undo));
  CANOPY_TRY(tx.commit());
  undo.commit();
  spdlog::info("fleet.device.status device={} status={}", device_id, device_status_name(status));
  return device.to_json();
}

// ---- deployments ----

Result<Json> Fleet::create_deployment(const Json& request, const std::string& created_by) {
  if (!request.is_object()) return make_error(ErrorCode::kInvalidArgument, "request body must be a JSON object");
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
  if (!request.contains("target")) return make_error(ErrorCode::kInvalidArgument, "request body: missing field 'target'");
  CANOPY_ASSIGN_OR_RETURN(Target target, Target::parse(request["target"]));
  CANOPY_ASSIGN_OR_RETURN(Strategy strategy, Strategy::parse(request.value("strategy", Json())));
  // Resolved once: an alias that moves later does not move the deployment.
  CANOPY_ASSIGN_OR_RETURN(VersionRecord version, registry_.resolve(model, reference));

  const std::int64_t now = now_ms();
  Deployment created;
  created.package = {{version.model, version.version}, version.blob_sha256, version.size_bytes};
  created.target = std::move(target);
  created.strategy = std::move(strategy);
  created.stage_started_ms = now;
  created.created_at = now_rfc3339();
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
    for (std::int64_t touched_id : touched) CANOPY_TRY(advance_locked(deployments_.at(touched_id), now, undo));
    CANOPY_TRY(tx.commit());
    undo.commit();
    spdlog::info("fleet.deployment.created id={} model={} version={} devices={} by={}", id, version.model,
                 version.version, joining.size(), created_by);
  }
  // A delete of the version may have run between resolve and the insert;
  // the registry's guard saw the deployment only if it ran after it.
  if (!registry_.get_version(version.model, version.version).ok()) {
    (void)control_deployment(id, "abort", created_by);
    return make_error(ErrorCode::kNotFound, "model '" + version.model + "' version " +
                                                std::to_string(version.version) + " was deleted meanwhile");
  }
  CANOPY_ASSIGN_OR_RETURN(Json status, deployment_status(id));
  return status;
}

Json Fleet::list_deployments() {
  const std::int64_t now = now_ms();
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
  advance_if_due(id, now_ms());
  std::lock_guard state(state_mutex_);
  auto it = deployments_.find(id);
  if (it == deployments_.end()) return make_error(ErrorCode::kNotFound, "no deployment " + std::to_string(id));
  return deployment_json(it->second, true);
}

Result<Json> Fleet::control_deployment(std::int64_t id, const std::string& operation, const std::string& by) {
  const std::int64_t now = now_ms();
  {
    Locks locks{std::unique_lock(db_mutex_), std::unique_lock(state_mutex_)};
    auto it = deployments_.find(id);
    if (it == deployments_.end()) return make_error(ErrorCode::kNotFound, "no deployment " + std::to_string(id));
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
                      {"status", i < index ? "done" : i == index ? "current" : "waiting"}});
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

Status Fleet::check_version_unreferenced(const std::string& model, std::int64_t version) {
  const ModelVersion wanted{model, version};
  const std::string what = "version " + std::to_string(version) + " of '" + model + "'";
  std::lock_guard state(state_mutex_);
  for (const auto& [id, deployment] : deployments_) {
    if (deployment.in_force() && deployment.package.model == wanted)
      return make_error(ErrorCode::kConflict, what + " is rolled out by deployment " + std::to_string(id) +
                                                  "; abort it or let a newer deployment supersede it first");
    if (deployment.state != DeploymentState::kRolledBack) continue;
    for (const auto& member : deployment.members)
      if (member.rollback_to && member.rollback_to->model == wanted)
        return make_error(ErrorCode::kConflict, what + " is where deployment " + std::to_string(id) +
                                                    " rolls devices back to");
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
