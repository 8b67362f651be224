// What a device and the server say to each other (docs/fleet.md): the
// enrollment request and its answer, the desired state a device polls, and
// the status reports it sends; and the inventory row an operator reads.
// Each type has one JSON form: to_json() writes it, from_json() reads it and
// names the field a body gets wrong.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/model_ref.h"
#include "common/error.h"
#include "common/json.h"

namespace canopy::api {

enum class DeviceStatus { kPending, kActive, kRevoked, kDecommissioned };
std::string_view device_status_name(DeviceStatus status);
std::optional<DeviceStatus> parse_device_status(std::string_view text);

// POST /api/v1/enrollment-tokens (admin): a token devices enroll with.
struct EnrollmentTokenRequest {
  std::string group;
  bool manual_approval = false;  // devices wait as pending until an admin approves them
  std::int64_t expires_in_s = 86400;
  std::int64_t max_uses = 1;

  Json to_json() const;
  static Result<EnrollmentTokenRequest> from_json(const Json& json);
};

// POST /api/v1/enroll. The signature, by the device key, covers signed_text().
struct EnrollRequest {
  std::string enrollment_token;  // cet_...
  std::string public_key;        // "canopy-ed25519-public <b64>", without a newline
  std::string name;
  std::map<std::string, std::string> tags;
  std::string agent_version;
  std::string timestamp;  // RFC 3339 UTC; the server refuses one far from its clock
  std::string signature;  // base64

  std::string signed_text() const;
  Json to_json() const;
  static Result<EnrollRequest> from_json(const Json& json);
};

// The answer to an enrollment; the agent keeps it as DATA/enrollment.json.
struct Enrollment {
  std::string device_id;
  std::string device_token;  // cdt_...; a secret
  DeviceStatus status = DeviceStatus::kActive;
  std::string group;
  std::int64_t poll_interval_s = 30;
  std::vector<std::string> trusted_keys;  // "canopy-ed25519-public <b64>" lines

  Json to_json() const;
  static Result<Enrollment> from_json(const Json& json);
};

enum class Action { kInstall, kRollback };
std::string_view action_name(Action action);

// A publishing key the server rotated to, endorsed by the key it replaced
// (docs/security.md, "Rotating the publishing key"): a device that trusts
// `endorsed_by` comes to trust `key` for package signatures.
struct KeyEndorsement {
  std::string key;          // "canopy-ed25519-public <b64>", without a newline
  std::string endorsed_by;  // the endorsing key, in the same form
  std::string signature;    // base64 ed25519 by endorsed_by over signed_text()

  std::string signed_text() const;
  Json to_json() const;
  static Result<KeyEndorsement> from_json(const Json& json);
};

// What a device is told to run, and by which deployment.
struct Assignment {
  std::int64_t deployment_id = 0;
  Action action = Action::kInstall;
  PackageRef package;
  std::string url;  // a path on the server, see package_url()
};

// Where a device downloads a package it is assigned.
std::string package_url(const ModelRef& model);

// A field configuration an operator set for the device (docs/field.md):
// the YAML text as given, and its version, which only grows per device.
struct FieldConfigVersion {
  std::int64_t version = 0;
  std::string text;
};

// The largest field configuration the server takes and a device reads.
inline constexpr std::size_t kMaxFieldConfigBytes = 64 * 1024;

// What the server takes as a field configuration: 1 byte to
// kMaxFieldConfigBytes (kTooLarge above) of UTF-8 text without NUL
// (kInvalidArgument, naming the byte). The YAML itself is the device's to check.
Status check_field_config_text(std::string_view text);

// A version of a device's field configuration as the server keeps it:
// answered by PUT /api/v1/devices/ID/field-config (without the text) and
// GET (with it).
struct FieldConfigRecord {
  std::string device_id;
  std::int64_t version = 0;
  std::string sha256;  // of the text
  std::string set_by;  // the API key's name
  std::string set_at;
  std::optional<std::string> text;

  Json to_json() const;
  static Result<FieldConfigRecord> from_json(const Json& json);
};

// GET /api/v1/device/desired.
struct DesiredState {
  std::string device_id;
  DeviceStatus status = DeviceStatus::kActive;
  std::int64_t poll_interval_s = 30;
  std::optional<Assignment> assignment;  // nothing desired when empty
  // The field configuration to run; none set: the device's own file.
  std::optional<FieldConfigVersion> field_config;
  // Every rotation of the publishing key, oldest first; a device adopts
  // those endorsed by a key it trusts before it acts on the assignment.
  std::vector<KeyEndorsement> key_endorsements;

  Json to_json() const;
  // Checks what a device relies on: the hash names a file on its disk, so it
  // must be hex; the url must be a path on the same server.
  static Result<DesiredState> from_json(const Json& json);
};

// The states a device reports, in the order an update passes them.
enum class ReportState {
  kIdle,
  kDownloading,
  kVerifying,
  kInstalling,
  kHealthChecking,
  kSuccess,
  kFailed,
  kRolledBack
};
std::string_view report_state_name(ReportState state);
std::optional<ReportState> parse_report_state(std::string_view text);
inline bool is_failure(ReportState state) {
  return state == ReportState::kFailed || state == ReportState::kRolledBack;
}

// POST /api/v1/device/status.
struct StatusReport {
  std::optional<std::int64_t> deployment_id;
  ReportState state = ReportState::kIdle;
  double progress = 0;               // 0..1 of the current step
  std::optional<ModelRef> model;     // what the update is about
  std::optional<ModelRef> current;   // what the device runs
  std::optional<ModelRef> previous;  // what it would fall back to
  std::string error;
  std::string agent_version;
  std::string health;  // ok or no-model
  std::string reported_at;

  Json to_json() const;
  static Result<StatusReport> from_json(const Json& json);
};

// A row of GET /api/v1/devices; GET /api/v1/devices/ID adds the recent reports.
struct DeviceInfo {
  std::string id;
  std::string name;
  std::string group;
  DeviceStatus status = DeviceStatus::kPending;
  std::map<std::string, std::string> tags;
  std::string agent_version;
  std::optional<ModelRef> current, previous;
  ReportState state = ReportState::kIdle;
  std::string health;
  std::string last_error;
  std::string last_seen;  // empty: never
  std::string enrolled_at;
  std::optional<std::int64_t> deployment;
  struct ReceivedReport {
    StatusReport report;
    std::string received_at;
  };
  std::optional<std::vector<ReceivedReport>> reports;  // newest first; only in a single device's answer

  Json to_json() const;
  static Result<DeviceInfo> from_json(const Json& json);
};

}  // namespace canopy::api
