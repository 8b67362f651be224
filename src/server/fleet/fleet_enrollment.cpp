// Enrollment tokens and device enrollment (docs/fleet.md, "Identities and
// tokens" and POST /api/v1/enroll).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "common/hash.h"
#include "common/keys.h"
#include "common/time.h"
#include "server/fleet/fleet.h"
#include "server/fleet/fleet_internal.h"

namespace canopy::server {

namespace {

constexpr std::int64_t kEnrollClockSkewMs = 10 * 60 * 1000;

}  // namespace

Result<NewEnrollmentToken> Fleet::create_enrollment_token(const api::EnrollmentTokenRequest& request,
                                                          const std::string& created_by) {
  const std::int64_t now = clock_.wall_ms();
  NewEnrollmentToken token;
  token.record.id = random_hex(6);
  token.secret = "cet_" + token.record.id + "_" + random_hex(32);
  token.record.token_hash = sha256_hex(token.secret);
  token.record.group = request.group;
  token.record.approval = request.manual_approval ? Approval::kManual : Approval::kAuto;
  token.record.expires_ms = now + request.expires_in_s * 1000;
  token.record.max_uses = request.max_uses;
  token.record.created_at = format_utc(now);
  token.record.created_by = created_by;
  std::lock_guard db(db_mutex_);
  CANOPY_TRY(store_.put_token(token.record));
  std::lock_guard state(state_mutex_);
  tokens_[token.record.token_hash] = token.record;
  spdlog::info("fleet.enrollment_token.created id={} group={} uses={} manual_approval={}", token.record.id,
               request.group, request.max_uses, request.manual_approval);
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

Result<api::Enrollment> Fleet::enroll(const api::EnrollRequest& request) {
  const std::string& timestamp = request.timestamp;
  CANOPY_ASSIGN_OR_RETURN(PublicKey key, PublicKey::from_text(request.public_key));
  auto signature = base64_decode(request.signature);
  if (!signature.ok() || !verify_detached(key, request.signed_text(), *signature))
    return make_error(
        ErrorCode::kBadSignature,
        "the enrollment signature does not verify with the public key sent; sign "
        "\"canopy-enroll\\n<token>\\n<public_key>\\n<name>\\n<timestamp>\" with the device key");
  CANOPY_ASSIGN_OR_RETURN(std::int64_t signed_at, parse_utc(timestamp));
  const std::int64_t now = clock_.wall_ms();
  if (std::llabs(now - signed_at) > kEnrollClockSkewMs)
    return make_error(ErrorCode::kBadSignature, "the enrollment timestamp " + timestamp +
                                                    " is more than 10 minutes from the server's clock (" +
                                                    format_utc(now) + "); set the device's clock");

  const std::string token_hash = sha256_hex(request.enrollment_token);
  const std::string device_token = new_device_token();
  Locks locks{std::unique_lock(db_mutex_), std::unique_lock(state_mutex_)};
  auto token_it = tokens_.find(token_hash);
  if (token_it == tokens_.end())
    return make_error(ErrorCode::kUnauthenticated, "enrollment token is not valid");
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
    device.enrolled_at = format_utc(now);
  }
  // A device an admin already approved stays approved when it enrolls again.
  if (device.status != DeviceStatus::kActive)
    device.status = token.approval == Approval::kAuto ? DeviceStatus::kActive : DeviceStatus::kPending;
  device.public_key = request.public_key;
  device.name = request.name;
  device.group = token.group;
  device.tags = request.tags;
  device.agent_version = request.agent_version;
  device.token_hash = sha256_hex(device_token);
  device.next_token_hash.clear();
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
      if (!before->next_token_hash.empty()) device_by_token_[before->next_token_hash] = id;
      devices_[id] = *before;
    } else {
      device_by_token_.erase(devices_[id].token_hash);
      devices_.erase(id);
    }
  });
  // The old token stops working: re-enrolling rotates it.
  if (before) {
    device_by_token_.erase(before->token_hash);
    device_by_token_.erase(before->next_token_hash);
  }
  device_by_token_[device.token_hash] = id;
  Device& stored = devices_[id] = std::move(device);
  std::set<std::int64_t> touched;
  CANOPY_TRY(claim_locked(stored, owner_for(stored), now, undo, touched));
  for (std::int64_t deployment_id : touched)
    CANOPY_TRY(advance_locked(deployments_.at(deployment_id), now, undo));
  CANOPY_TRY(tx.commit());
  undo.commit();
  spdlog::info("fleet.enroll device={} name={} group={} status={} again={}", id, stored.name, stored.group,
               api::device_status_name(stored.status), before.has_value());
  return api::Enrollment{
      id, device_token, stored.status, stored.group, options_.poll_interval_s, options_.trusted_keys};
}

}  // namespace canopy::server
