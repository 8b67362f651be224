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

Result<NewEnrollmentToken> Fleet::create_enrollment_token(const Json& request,
                                                          const std::string& created_by) {
  CANOPY_ASSIGN_OR_RETURN(std::string group, bounded_string(request, "group", 64));
  if (group.empty())
    return make_error(ErrorCode::kInvalidArgument, "request body: field 'group' must not be empty");
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

  const std::int64_t now = clock_.wall_ms();
  NewEnrollmentToken token;
  token.record.id = random_hex(6);
  token.secret = "cet_" + token.record.id + "_" + random_hex(32);
  token.record.token_hash = sha256_hex(token.secret);
  token.record.group = group;
  token.record.approval = approval == "auto" ? Approval::kAuto : Approval::kManual;
  token.record.expires_ms = now + *expires_in * 1000;
  token.record.max_uses = *max_uses;
  token.record.created_at = format_utc(now);
  token.record.created_by = created_by;
  std::lock_guard db(db_mutex_);
  CANOPY_TRY(store_.put_token(token.record));
  std::lock_guard state(state_mutex_);
  tokens_[token.record.token_hash] = token.record;
  spdlog::info("fleet.enrollment_token.created id={} group={} uses={} approval={}", token.record.id, group,
               *max_uses, approval);
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
  const std::string signed_text =
      "canopy-enroll\n" + token_text + "\n" + key_text + "\n" + name + "\n" + timestamp;
  if (!signature.ok() || !verify_detached(key, signed_text, *signature))
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

  const std::string token_hash = sha256_hex(token_text);
  const std::string device_token = "cdt_" + random_hex(6) + "_" + random_hex(32);
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
  for (std::int64_t deployment_id : touched)
    CANOPY_TRY(advance_locked(deployments_.at(deployment_id), now, undo));
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

}  // namespace canopy::server
