// The fleet's values: devices, enrollment tokens, deployments with their
// targets and rollout strategies, and their JSON forms (docs/fleet.md).
// Parsing validates everything a request can get wrong and names the field.
// Times are wall-clock milliseconds since the Unix epoch (stored, so they must
// survive restarts; a steady clock would not).
// Thread-safety: plain values; the Fleet guards the ones it shares.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "common/json.h"

namespace canopy::server {

struct ModelVersion {
  std::string name;
  std::int64_t version = 0;
  bool operator==(const ModelVersion&) const = default;
  Json to_json() const { return {{"name", name}, {"version", version}}; }
};

// `{"name": ..., "version": N}` or null; anything else is an error naming `field`.
Result<std::optional<ModelVersion>> parse_model_version(const Json& object, const std::string& field);
Json to_json(const std::optional<ModelVersion>& model);

// Tags: an object of 1-64 character names to strings of at most 128.
Result<std::map<std::string, std::string>> parse_tags(const Json& json, const std::string& field);

// A model version with what a device needs to fetch and check it.
struct PackageRef {
  ModelVersion model;
  std::string sha256;
  std::uint64_t size_bytes = 0;
};

enum class DeviceStatus { kPending, kActive, kRevoked, kDecommissioned };
std::string_view device_status_name(DeviceStatus status);
std::optional<DeviceStatus> parse_device_status(std::string_view text);

struct Device {
  std::string id;          // key id of the device's public key
  std::string public_key;  // "canopy-ed25519-public <b64>"
  std::string name;
  std::string group;
  std::map<std::string, std::string> tags;
  DeviceStatus status = DeviceStatus::kPending;
  std::string token_hash;  // SHA-256 of the current device token
  std::string agent_version;
  std::optional<ModelVersion> current;
  std::optional<ModelVersion> previous;
  std::string state = "idle";  // the last reported state
  std::string health;
  std::string last_error;
  std::int64_t last_seen_ms = 0;
  std::string enrolled_at;
  std::int64_t report_seq = 0;             // numbers this device's status reports
  std::int64_t last_seen_saved_ms = 0;     // last_seen as last written to the database
  std::optional<std::int64_t> deployment;  // the one deployment that owns the device, if any

  Json to_json() const;  // the inventory row of docs/fleet.md
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

// Which devices a deployment is for: exactly one of the three is set.
struct Target {
  std::string group;
  std::map<std::string, std::string> tags;  // every pair must match
  std::set<std::string> devices;

  bool matches(const Device& device) const;
  Json to_json() const;
  static Result<Target> parse(const Json& json);
};

// One rollout stage: the canary or a wave. A wave's size is a cumulative
// share of the target; the canary's is a count or a share.
struct Stage {
  std::string name;  // "canary", "wave 1", ...
  std::optional<std::int64_t> count;
  double percent = 0;
  std::int64_t soak_s = 0;
  double success_ratio = 0.9;
  // How many devices this stage admits, cumulatively, out of `eligible`.
  std::size_t size_for(std::size_t eligible) const;
};

struct Strategy {
  std::vector<Stage> stages;  // the canary (if any) first, then the waves; the last one is 100%
  double max_failure_ratio = 0.2;
  std::int64_t min_failures = 2;
  bool auto_rollback = true;

  Json to_json() const;
  // Fills defaults: no canary, one wave of 100%, success_ratio 0.9.
  static Result<Strategy> parse(const Json& json);
};

enum class DeploymentState { kRunning, kPaused, kRolledBack, kAborted, kCompleted };
std::string_view deployment_state_name(DeploymentState state);
std::optional<DeploymentState> parse_deployment_state(std::string_view text);

// Member states besides the reported ones: not admitted yet, admitted with no
// report yet, and taken over by a newer deployment.
inline constexpr const char* kMemberWaiting = "waiting";
inline constexpr const char* kMemberPending = "pending";
inline constexpr const char* kMemberSuperseded = "superseded";
// Back on its previous model after the deployment was rolled back.
inline constexpr const char* kMemberReverted = "reverted";

// Status report states, docs/fleet.md.
bool is_report_state(std::string_view state);
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
  Target target;
  Strategy strategy;
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
