// The fleet: device enrollment and authentication, the desired state each
// device polls, status reports, and deployments rolled out by the rules in
// rollout.h. docs/fleet.md is the contract. The class is implemented in
// fleet.cpp (devices, polls, reports, membership), fleet_enrollment.cpp and
// fleet_deployments.cpp.
//
// Everything lives in memory, loaded from SQLite at start, so that a poll
// (the hot path: thousands of devices every few seconds) touches no database:
// it finds the device by its token hash, reads its deployment and the newest
// version of its field configuration, and answers. Older versions of field
// configurations stay on disk only.
// Every change is written to SQLite in one transaction before it is applied
// in memory. last_seen is the exception: polls only mark it, and it is
// written in batches, at most every `last_seen_write_interval_s` per device.
//
// The fleet keeps its own tables on its own database connection and reaches
// the registry only through ModelCatalog. Every time it reads comes from the
// Clock it is given, so tests move time (token expiry, soak ends) at will.
//
// Thread-safety: every public method may be called from any HTTP worker.
// Two locks: `db_mutex_` serialises database writes (and is taken first),
// `state_mutex_` guards memory and is held only briefly, so polls never wait
// on a disk flush. The catalog's delete guard takes `state_mutex_` under the
// catalog's lock; the Fleet never calls the catalog while holding a lock.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/json.h"
#include "server/fleet/device_query.h"
#include "server/fleet/fleet_model.h"
#include "server/fleet/fleet_store.h"
#include "server/fleet/model_catalog.h"
#include "server/fleet/rollout.h"

namespace canopy::server {

class UndoLog;

struct FleetOptions {
  std::int64_t poll_interval_s = 30;             // sent to devices with every desired state
  std::int64_t last_seen_write_interval_s = 60;  // a poll writes last_seen at most this often per device
  std::vector<std::string> trusted_keys;         // public key texts devices accept package signatures from
  // The publishing key's rotations, sent with every desired state so that
  // devices enrolled before one come to trust the new key.
  std::vector<api::KeyEndorsement> key_endorsements;
};

struct NewEnrollmentToken {
  EnrollmentToken record;
  std::string secret;  // "cet_<id>_<secret>"; shown once, never stored
};

// The desired state with its wire form, made once per poll: the ETag is a
// hash of exactly the bytes sent.
struct DesiredAnswer {
  std::string body;  // api::DesiredState as JSON
  std::string etag;  // quoted, for ETag / If-None-Match
};

class Fleet {
 public:
  // Migrates the fleet's tables on `db` (a connection of its own), loads the
  // fleet and installs the catalog's delete guard (removed again by the
  // destructor). `catalog` and `clock` must outlive the Fleet.
  static Result<std::unique_ptr<Fleet>> open(Database db, ModelCatalog& catalog, FleetOptions options,
                                             Clock& clock);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Enrollment tokens (admin).
  Result<NewEnrollmentToken> create_enrollment_token(const api::EnrollmentTokenRequest& request,
                                                     const std::string& created_by);
  std::vector<EnrollmentToken> list_enrollment_tokens();

  // POST /api/v1/enroll: checks the token, the proof of possession, and
  // registers (or re-registers) the device with a new device token.
  Result<api::Enrollment> enroll(const api::EnrollRequest& request);

  // The id of the device a device token belongs to; 401 for an unknown token
  // and for a revoked or decommissioned device.
  Result<std::string> authenticate_device(std::string_view token);
  // The public key the device enrolled with ("canopy-ed25519-public
  // <b64>"), to which a server with mutual TLS binds the device's TLS
  // certificate; 401 for an unknown device.
  Result<std::string> enrolled_key(const std::string& device_id);
  // POST /api/v1/device/token (docs/fleet.md, "Rotating the device token"):
  // a new token for the device. Both tokens work until the device first
  // uses the new one, which ends the old; a lost answer costs nothing, and
  // the next rotation replaces the unused token.
  Result<std::string> rotate_token(const std::string& device_id);
  // Whether this token was issued to a device, though the device may be
  // revoked since: one that presents it is out of date, not guessing.
  bool was_issued(std::string_view token);
  Result<DesiredAnswer> desired(const std::string& device_id);
  // The device was heard from (it sent records, say): last_seen as a poll
  // marks it, written in the same batches.
  void mark_seen(const std::string& device_id);
  Status report(const std::string& device_id, const api::StatusReport& report);
  // A device may download what it is told to run and what it reports running
  // or having run before; anything else is 404.
  Status check_package_allowed(const std::string& device_id, const ModelRef& model);

  // Devices (reader / operator): a page of those `query` selects, with how
  // many it selects in all (device_query.h).
  struct DevicePage {
    std::vector<api::DeviceInfo> devices;
    std::size_t total = 0;
  };
  DevicePage query_devices(const DeviceQuery& query);
  // The dashboard's counts (summarize_devices).
  Json summarize_devices();
  // For monitoring (docs/monitoring.md): deployments by state, the rolled-back
  // ones by what rolled them back (never undone, so these only grow), and the
  // rollbacks devices reported since the server started, by why.
  struct DeploymentCounts {
    std::map<DeploymentState, std::int64_t> by_state;
    std::int64_t rolled_back_by_failures = 0;  // the failure threshold, with auto_rollback
    std::int64_t rolled_back_by_operator = 0;
    std::int64_t device_rollbacks_ordered = 0;  // a rolled-back deployment returned the device
    std::int64_t device_fallbacks = 0;          // the device's model failed its health check
  };
  DeploymentCounts deployment_counts();
  // With its recent reports.
  Result<api::DeviceInfo> show_device(const std::string& device_id);
  Result<api::DeviceInfo> set_device_status(const std::string& device_id, DeviceStatus status);

  // A device's field configuration (publisher / reader; docs/field.md). A set
  // stores `text` as the device's next version (the first is 1), which its
  // desired state carries from then on while the device is active. `text`
  // must pass api::check_field_config_text; the YAML is the device's to
  // check. The newest text set again returns the newest version unchanged.
  // kNotFound for an unknown device, kConflict for a revoked or
  // decommissioned one.
  Result<api::FieldConfigRecord> set_field_config(const std::string& device_id, std::string text,
                                                  const std::string& by);
  // The newest version, or `version`, with its text; kNotFound when the
  // device is unknown or has no such version.
  Result<api::FieldConfigRecord> field_config(const std::string& device_id,
                                              std::optional<std::int64_t> version);

  // Deployments (publisher / reader). `by` names who asked, for the record.
  Result<api::DeploymentStatus> create_deployment(const api::DeploymentRequest& request,
                                                  const std::string& by);
  std::vector<api::DeploymentStatus> list_deployments();
  Result<api::DeploymentStatus> deployment_status(std::int64_t id);
  // `operation` is pause, resume, abort or rollback.
  Result<api::DeploymentStatus> control_deployment(std::int64_t id, const std::string& operation,
                                                   const std::string& by);

  // Writes every last_seen that polls have not written yet; for shutdown.
  Status save_last_seen();

  // The catalog's delete guard: a conflict when a device reports the
  // version as current or previous, or a deployment still hands it out.
  Status check_version_unreferenced(const ModelRef& version);

 private:
  Fleet(FleetStore store, ModelCatalog& catalog, FleetOptions options, Clock& clock)
      : store_(std::move(store)), catalog_(catalog), options_(std::move(options)), clock_(clock) {}

  bool device_active(const std::string& device_id) const;
  // Sets last_seen and schedules its write. Caller holds state_mutex_.
  // Makes the rotated token `hash` the device's only one (its first use).
  Status promote_token(const std::string& device_id, const std::string& hash);
  void mark_seen_locked(Device& device, std::int64_t now);
  DeviceActive active_fn() const;
  // The deployment that should own `device` now (newest in force whose
  // target matches), or the one it has, or none. Caller holds state_mutex_.
  std::optional<std::int64_t> owner_for(const Device& device);
  // Moves `device` into deployment `owner` (or out of all) and writes the
  // member rows. Caller holds both locks and an open transaction; `touched`
  // collects the deployments whose shares changed, for advance_locked.
  Status claim_locked(Device& device, std::optional<std::int64_t> owner, std::int64_t now, UndoLog& undo,
                      std::set<std::int64_t>& touched);
  // Plans `deployment` at `now`, writes the plan, applies it. Caller holds
  // both locks and an open transaction.
  Status advance_locked(Deployment& deployment, std::int64_t now, UndoLog& undo);
  // Runs advance_locked if the clock alone may have moved the deployment on.
  void advance_if_due(std::int64_t deployment_id, std::int64_t now);
  api::DeploymentStatus deployment_status_locked(const Deployment& deployment, bool detail);
  void flush_last_seen(std::int64_t now);

  std::mutex db_mutex_;  // taken before state_mutex_
  std::mutex state_mutex_;
  FleetStore store_;
  ModelCatalog& catalog_;
  FleetOptions options_;
  Clock& clock_;
  std::unordered_map<std::string, EnrollmentToken> tokens_;       // by token hash
  std::unordered_map<std::string, Device> devices_;               // by id
  std::unordered_map<std::string, std::string> device_by_token_;  // token hash -> device id
  std::map<std::int64_t, Deployment> deployments_;                // by id, oldest first
  std::map<std::int64_t, std::int64_t> wake_ms_;                  // deployment id -> RolloutPlan::wake_ms
  std::unordered_map<std::string, api::FieldConfigRecord> field_configs_;  // device id -> newest, with text
  std::vector<std::string> last_seen_dirty_;
  std::int64_t reported_rollbacks_ = 0, reported_fallbacks_ = 0;  // rolled-back reports since the start
  std::int64_t last_seen_flushed_ms_ = 0;
};

}  // namespace canopy::server
