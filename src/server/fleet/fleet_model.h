// The fleet's values: devices, enrollment tokens, deployments with their
// members. Their wire forms (targets, strategies, reports, statuses) are the
// api library's types (api/device.h, api/deployment.h, docs/fleet.md).
// Times are wall-clock milliseconds since the Unix epoch (stored, so they must
// survive restarts; a steady clock would not).
// Thread-safety: plain values; the Fleet guards the ones it shares.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/deployment.h"
#include "api/device.h"
#include "api/model_ref.h"
#include "common/error.h"
#include "common/json.h"

namespace canopy::server {

using api::DeploymentState;
using api::DeploymentTarget;
using api::DeviceStatus;
using api::ModelRef;
using api::PackageRef;
using api::ReportState;
using api::RolloutStage;
using api::RolloutStrategy;

struct Device {
  std::string id;          // key id of the device's public key
  std::string public_key;  // "canopy-ed25519-public <b64>"
  std::string name;
  std::string group;
  std::map<std::string, std::string> tags;
  DeviceStatus status = DeviceStatus::kPending;
  std::string token_hash;  // SHA-256 of the current device token
  // SHA-256 of the token a rotation issued, until the device first uses it
  // (then it becomes token_hash); "" when none is pending.
  std::string next_token_hash;
  std::string agent_version;
  std::optional<ModelRef> current;
  std::optional<ModelRef> previous;
  ReportState state = ReportState::kIdle;  // the last reported state
  std::string health;
  std::string last_error;
  std::int64_t last_seen_ms = 0;
  std::string enrolled_at;
  std::int64_t report_seq = 0;             // numbers this device's status reports
  std::int64_t last_seen_saved_ms = 0;     // last_seen as last written to the database
  std::optional<std::int64_t> deployment;  // the one deployment that owns the device, if any

  api::DeviceInfo info() const;  // the inventory row of docs/fleet.md
};

enum class Approval { kAuto, kManual };

struct EnrollmentToken {
  std::string id;
  std::string token_hash;
  std::string group;
  Approval approval = Approval::kAuto;
  std::int64_t expires_ms = 0;
  std::int64_t max_uses = 1;
  std::int64_t uses = 0;
  std::string created_at;
  std::string created_by;
  Json to_json() const;  // no secret, no hash
};

// True when `target` names `device`.
bool targets(const DeploymentTarget& target, const Device& device);

// Member states besides the reported ones: not admitted yet, admitted with no
// report yet, and taken over by a newer deployment.
inline constexpr const char* kMemberWaiting = "waiting";
inline constexpr const char* kMemberPending = "pending";
inline constexpr const char* kMemberSuperseded = "superseded";
// Back on its previous model after the deployment was rolled back.
inline constexpr const char* kMemberReverted = "reverted";

// The start of the reason of a deployment a person rolled back (the rest
// names them); a rollback by the failure threshold gives its counts instead.
inline constexpr std::string_view kRolledBackByPrefix = "rolled back by ";

// A member state that counts as a failure: a reported failure or rollback.
bool is_failure_state(std::string_view state);

struct Member {
  std::string device_id;
  std::int64_t seq = 0;               // join order: earlier members are admitted first
  std::optional<int> admitted_stage;  // set once admitted; never unset
  std::string state = kMemberWaiting;
  std::string error;
  std::int64_t updated_ms = 0;
  std::optional<PackageRef> rollback_to;  // the device's previous model when it reported success
};

struct Deployment {
  std::int64_t id = 0;
  PackageRef package;
  DeploymentTarget target;
  RolloutStrategy strategy;
  DeploymentState state = DeploymentState::kRunning;
  int stage = 0;
  std::int64_t stage_started_ms = 0;
  std::string reason;                 // why it paused, rolled back or was aborted
  std::int64_t failure_baseline = 0;  // failures acknowledged by a resume
  std::string created_at;
  std::string created_by;
  std::int64_t updated_ms = 0;
  std::vector<Member> members;
  std::unordered_map<std::string, std::size_t> member_index;

  // Running, paused or completed: it still hands out its model and takes in
  // devices that join its target. A rolled-back one only sends rollbacks.
  bool in_force() const {
    return state == DeploymentState::kRunning || state == DeploymentState::kPaused ||
           state == DeploymentState::kCompleted;
  }
  // In force or rolled back: it still owns its devices.
  bool owns_devices() const { return in_force() || state == DeploymentState::kRolledBack; }
  Member* member(const std::string& device_id);
  Member& add_member(const std::string& device_id);
};

}  // namespace canopy::server
