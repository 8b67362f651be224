// The update state machine. One update moves through
//
//   idle → downloading → verifying → installing → health-checking → switching → idle (committed)
//
// and any step except switching may end it early: → idle with the version
// recorded as failed, the previous model still active, and the reason
// reported. A server-ordered rollback to the previous model is a single
// atomic flip of the active slot. Each phase is recorded durably in
// state.json before it acts, and each report is stored durably before the
// state it describes is committed; docs/agent.md gives the crash-safety
// argument. After a restart, recover() resumes the recorded phase; a
// re-entry counter gives a version up after `max_attempts` interrupted tries.
// Thread-safety: one thread drives an Updater; ActiveModel is the only part
// shared with other threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/active_model.h"
#include "agent/device_client.h"
#include "agent/fault_injection.h"
#include "agent/health_check.h"
#include "agent/report_outbox.h"
#include "agent/slots.h"
#include "agent/update_state.h"
#include "common/clock.h"
#include "common/keys.h"

namespace canopy::agent {

struct UpdaterOptions {
  std::filesystem::path data_dir;
  int max_attempts = 3;              // tries per target version, counting restarts mid-update
  std::uint64_t max_slot_bytes = 0;  // 0: limited by free disk space only
  HealthOptions health;
  std::string agent_version;
  std::vector<PublicKey> trusted_keys;  // from enrollment: who may sign packages
  Clock* clock = &system_clock();       // stamps the reports (reported_at)
};

// What one poll cycle learned, for the caller's scheduling.
struct CycleOutcome {
  bool reached_server = false;
  std::int64_t poll_interval_s = 30;
  std::optional<api::FieldConfigVersion> field_config;  // what the desired state asks the field loop to run
};

class Updater {
 public:
  // Loads state.json (a missing one is a fresh device).
  static Result<std::unique_ptr<Updater>> open(UpdaterOptions options, DeviceClient& client,
                                               FaultInjector faults, ActiveModel& active);

  // After a start: counts the interrupted attempt (giving the version up
  // beyond the limit), removes leftovers of interrupted work, finishes local
  // phases, and loads the active model. Needs no network.
  Status recover();

  // One cycle: finish local work, send a pending report, poll the desired
  // state, and carry out what it asks (install, rollback, nothing).
  // Network failures are not errors: reached_server tells the caller to back off.
  Result<CycleOutcome> cycle();

  // Verifies the files of the active and the previous model against their
  // signed manifests (the periodic check; recover() does the same through
  // the health check at every start). A damaged active model falls back to
  // the previous one, or to serving nothing when that is damaged too; a
  // damaged previous model is removed. Each outcome is reported, and the
  // desired version is then installed again from the server. Needs no network.
  Status check_installed_models();

  const UpdateState& state() const { return state_; }

 private:
  Updater(UpdaterOptions options, DeviceClient& client, FaultInjector faults, ActiveModel& active,
          UpdateState state);

  // Drives the update in state_.target from its phase to the end. Returns a
  // kNetwork error when it has to wait for the network; any other failure
  // of a step ends the update through fail().
  Status advance();
  Result<Phase> run_step();
  Status enter(Phase phase);
  Status start(const Assignment& target);
  Status abandon();
  Status fail(const std::string& reason);
  Status commit();
  void note_previous(LoadedModel& model) const;
  Status roll_back_to_previous(const Assignment& target);
  Status fall_back_to_previous(const std::string& reason);
  Status reconcile(const api::DesiredState& desired);
  // Trusts the publishing keys the desired state's endorsements vouch for.
  Status adopt_keys(const std::vector<api::KeyEndorsement>& endorsements);
  void remove_leftovers();

  // The steps: each returns the phase to enter next.
  Result<Phase> download();
  Result<Phase> verify();
  Result<Phase> install();
  Result<Phase> health_check();

  std::filesystem::path download_path(const Assignment& target) const;
  package::VerifyOptions verify_options() const;
  // A status report of fleet.md; `progress` defaults to 1 for the end states.
  api::StatusReport report(api::ReportState state, const UpdateState& after,
                           const std::optional<Assignment>& target, const std::string& error,
                           double progress = 0.0) const;

  UpdaterOptions options_;
  DeviceClient& client_;
  FaultInjector faults_;
  ActiveModel& active_;
  StateStore store_;
  SlotStore slots_;
  ReportOutbox outbox_;
  UpdateState state_;
  std::unique_ptr<LoadedModel> staged_;       // the health-checked model, until it goes live
  std::optional<api::DesiredState> desired_;  // the last desired state, reused on 304
  std::string etag_;
  std::set<std::string> refused_endorsements_;  // logged once each, not at every poll
};

}  // namespace canopy::agent
