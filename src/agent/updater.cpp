#include "agent/updater.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "agent/key_trust.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/time.h"

namespace canopy::agent {

namespace {

// Real time, even under a simulated clock: a transfer takes real time.
constexpr auto kProgressReportInterval = std::chrono::seconds(10);

bool is_network(const Status& status) { return !status.ok() && status.error().code == ErrorCode::kNetwork; }

bool same_version(const std::optional<PackageRef>& have, const PackageRef& want) {
  return have && have->model == want.model;
}

// The report state of an update phase; switching is internal and never reported.
api::ReportState report_state_of(Phase phase) {
  switch (phase) {
    case Phase::kDownloading:
      return api::ReportState::kDownloading;
    case Phase::kVerifying:
      return api::ReportState::kVerifying;
    case Phase::kInstalling:
      return api::ReportState::kInstalling;
    case Phase::kHealthChecking:
      return api::ReportState::kHealthChecking;
    case Phase::kIdle:
    case Phase::kSwitching:
      break;
  }
  return api::ReportState::kIdle;
}

// Removes everything in `dir` whose name makes `doomed` true.
void remove_matching(const std::filesystem::path& dir,
                     const std::function<bool(const std::string&)>& doomed) {
  std::error_code ec;
  std::vector<std::filesystem::path> paths;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (doomed(it->path().filename().string())) paths.push_back(it->path());
  for (const auto& path : paths) {
    spdlog::info("agent.cleanup path={}", path.string());
    std::filesystem::remove_all(path, ec);
  }
  if (!paths.empty()) (void)fsync_dir(dir);
}

}  // namespace

Result<std::unique_ptr<Updater>> Updater::open(UpdaterOptions options, DeviceClient& client,
                                               FaultInjector faults, ActiveModel& active) {
  CANOPY_ASSIGN_OR_RETURN(UpdateState state, StateStore(options.data_dir).load());
  return std::unique_ptr<Updater>(
      new Updater(std::move(options), client, std::move(faults), active, std::move(state)));
}

Updater::Updater(UpdaterOptions options, DeviceClient& client, FaultInjector faults, ActiveModel& active,
                 UpdateState state)
    : options_(std::move(options)),
      client_(client),
      faults_(std::move(faults)),
      active_(active),
      store_(options_.data_dir),
      slots_(options_.data_dir, options_.max_slot_bytes),
      outbox_(options_.data_dir, client),
      state_(std::move(state)) {
  options_.health.trusted_keys = options_.trusted_keys;
}

std::filesystem::path Updater::download_path(const Assignment& target) const {
  return options_.data_dir / "downloads" / (target.package.sha256 + ".zip");
}

package::VerifyOptions Updater::verify_options() const {
  package::VerifyOptions options;
  options.trusted_keys = options_.trusted_keys;
  options.allow_unsigned = false;
  return options;
}

api::StatusReport Updater::report(api::ReportState state, const UpdateState& after,
                                  const std::optional<Assignment>& target, const std::string& error,
                                  double progress) const {
  api::StatusReport out;
  if (target) out.deployment_id = target->deployment_id;
  out.state = state;
  const bool finished = state == api::ReportState::kSuccess || state == api::ReportState::kRolledBack;
  out.progress = finished ? 1.0 : std::clamp(std::isfinite(progress) ? progress : 0.0, 0.0, 1.0);
  if (target) out.model = target->package.model;
  out.current = model_of(after.current());
  out.previous = model_of(after.previous());
  out.error = error;
  out.agent_version = options_.agent_version;
  out.health = active_.get() ? "ok" : "no-model";
  out.reported_at = format_utc(options_.clock->wall_ms());
  return out;
}

void Updater::remove_leftovers() {
  // Temp files of atomic writes that a crash interrupted.
  remove_matching(options_.data_dir, [](const std::string& name) {
    return name.starts_with(".") && name.find(".tmp-") != std::string::npos;
  });
  // Downloads: only the current target's file (or its .part) is worth keeping.
  const bool keep_download =
      state_.target && (state_.phase == Phase::kDownloading || state_.phase == Phase::kVerifying ||
                        state_.phase == Phase::kInstalling);
  const std::string keep = keep_download ? download_path(*state_.target).filename().string() : "";
  remove_matching(options_.data_dir / "downloads", [&](const std::string& name) {
    return keep.empty() || (name != keep && name != keep + ".part");
  });
  // A staged model is worth keeping once it is complete and being checked or promoted.
  const bool keep_staged = state_.phase == Phase::kHealthChecking || state_.phase == Phase::kSwitching;
  slots_.remove_leftovers(keep_staged ? std::optional(state_.inactive_slot()) : std::nullopt);
}

Status Updater::recover() {
  // Counted durably first: a step that kills the process (a model that
  // crashes the engine, a power cut) is counted before it runs again.
  if (state_.phase != Phase::kIdle) {
    ++state_.attempts;
    spdlog::warn("agent.resume phase={} model={} attempt={}", phase_name(state_.phase),
                 state_.target->package.model.label(), state_.attempts);
    CANOPY_TRY(store_.save(state_));
  }
  remove_leftovers();
  if (state_.current() && !active_.get()) {
    auto loaded = check_model(slots_.slot_dir(*state_.active_slot), *state_.current(), options_.health);
    if (loaded.ok()) {
      // With an update in progress the inactive slot is its target.
      if (state_.phase == Phase::kIdle) note_previous(**loaded);
      active_.set(std::shared_ptr<const LoadedModel>(std::move(*loaded)));
    } else {
      spdlog::error("agent.active_model_unhealthy slot={} reason=\"{}\"", slot_name(*state_.active_slot),
                    loaded.error().message);
      // With an update in progress the inactive slot is its target, not a fallback.
      if (state_.phase == Phase::kIdle) CANOPY_TRY(fall_back_to_previous(loaded.error().message));
    }
  }
  if (state_.phase != Phase::kIdle && state_.attempts > options_.max_attempts)
    return fail("gave up after " + std::to_string(options_.max_attempts) +
                " attempts: the update was interrupted in phase " + std::string(phase_name(state_.phase)) +
                " each time (crash or power loss)");
  // Local phases can finish without the network; downloading waits for a poll.
  if (state_.phase != Phase::kIdle && state_.phase != Phase::kDownloading) {
    Status advanced = advance();
    if (!advanced.ok() && !is_network(advanced)) return advanced;
  }
  // A report that a crash kept from being sent goes out now.
  (void)outbox_.flush();
  return {};
}

Status Updater::enter(Phase phase) {
  state_.phase = phase;
  CANOPY_TRY(store_.save(state_));
  spdlog::info("agent.phase phase={} model={} attempt={}", phase_name(phase),
               state_.target->package.model.label(), state_.attempts);
  faults_.reached(phase_name(phase));
  // switching is internal: its outcome (success) is what the server hears.
  if (phase != Phase::kSwitching)
    CANOPY_TRY(outbox_.post(report(report_state_of(phase), state_, state_.target, "")));
  return {};
}

Status Updater::start(const Assignment& target) {
  spdlog::info("agent.update model={} deployment={} action={}", target.package.model.label(),
               target.deployment_id, api::action_name(target.action));
  state_.target = target;
  state_.attempts = 1;
  state_.failed.reset();
  state_.last_error.clear();
  CANOPY_TRY(enter(Phase::kDownloading));
  return advance();
}

Status Updater::abandon() {
  spdlog::info("agent.abandon model={} reason=\"the server desires another model\"",
               state_.target->package.model.label());
  state_.phase = Phase::kIdle;
  state_.target.reset();
  state_.attempts = 0;
  CANOPY_TRY(store_.save(state_));
  staged_.reset();
  remove_leftovers();
  return {};
}

Status Updater::fail(const std::string& reason) {
  const Assignment target = *state_.target;
  const bool slot_touched = state_.phase == Phase::kSwitching;
  spdlog::error("agent.update_failed model={} phase={} reason=\"{}\"", target.package.model.label(),
                phase_name(state_.phase), reason);
  UpdateState next = state_;
  next.phase = Phase::kIdle;
  next.target.reset();
  next.attempts = 0;
  next.failed = target.package;
  next.last_error = reason;
  // A switch cut short may have replaced the inactive slot's model already.
  if (slot_touched) next.slot(next.inactive_slot()).reset();
  // The report is stored before the state that ends the update, so a crash
  // in between repeats the step rather than losing the failure.
  CANOPY_TRY(outbox_.store(report(api::ReportState::kFailed, next, target, reason)));
  CANOPY_TRY(store_.save(next));
  state_ = std::move(next);
  staged_.reset();
  if (slot_touched) CANOPY_TRY(slots_.clear(state_.inactive_slot()));
  remove_leftovers();
  (void)outbox_.flush();
  return {};
}

// The transition table. Each working phase runs one step; success moves to
// the phase the step names (normally the next in order), a failure of the
// step ends the update through fail(), and a network failure leaves the
// phase in place to be resumed. Switching is the commit and has no failure
// exit: once the new model has passed its health check, finishing the switch
// is always possible and always retried.
Status Updater::advance() {
  while (state_.phase != Phase::kIdle) {
    if (state_.phase == Phase::kSwitching) return commit();
    Result<Phase> next = run_step();
    if (!next.ok()) {
      if (next.error().code == ErrorCode::kNetwork) return next.error();
      return fail(next.error().message);
    }
    CANOPY_TRY(enter(*next));
  }
  return {};
}

Result<Phase> Updater::run_step() {
  switch (state_.phase) {
    case Phase::kDownloading:
      return download();
    case Phase::kVerifying:
      return verify();
    case Phase::kInstalling:
      return install();
    case Phase::kHealthChecking:
      return health_check();
    case Phase::kSwitching:
    case Phase::kIdle:
      break;
  }
  return make_error(ErrorCode::kInternal, "no step runs in phase " + std::string(phase_name(state_.phase)));
}

Result<Phase> Updater::download() {
  const Assignment& target = *state_.target;
  const std::filesystem::path file = download_path(target);
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  if (!std::filesystem::exists(file, ec)) {
    auto last_report = std::chrono::steady_clock::now();
    Status fetched = client_.download(target.url, file, [&](std::uint64_t done, std::uint64_t total) {
      faults_.reached("download");
      // Long downloads tell the server how far they are, a few times a minute.
      const auto now = std::chrono::steady_clock::now();
      if (total > 0 && now - last_report >= kProgressReportInterval) {
        last_report = now;
        const double progress = static_cast<double>(done) / static_cast<double>(total);
        spdlog::debug("agent.download model={} bytes={} total={}", target.package.model.label(), done, total);
        (void)outbox_.post(report(api::ReportState::kDownloading, state_, state_.target, "", progress));
      }
    });
    if (!fetched.ok()) return fetched.error();
  }
  const std::uint64_t size = std::filesystem::file_size(file, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot read the downloaded package: " + ec.message());
  if (target.package.size_bytes > 0 && size != target.package.size_bytes) {
    std::filesystem::remove(file, ec);
    return make_error(ErrorCode::kCorrupt,
                      "download is " + std::to_string(size) + " bytes, the server announced " +
                          std::to_string(target.package.size_bytes) + " (truncated or damaged transfer)");
  }
  auto sha256 = sha256_file_hex(file);
  if (!sha256.ok()) return sha256.error();
  if (*sha256 != target.package.sha256) {
    std::filesystem::remove(file, ec);
    return make_error(ErrorCode::kCorrupt, "download's SHA-256 " + sha256->substr(0, 16) +
                                               "... does not match the announced " +
                                               target.package.sha256.substr(0, 16) + "...");
  }
  return Phase::kVerifying;
}

Result<Phase> Updater::verify() {
  const Assignment& target = *state_.target;
  auto info = package::verify_package(download_path(target), verify_options());
  if (!info.ok()) return info.error().with_context("package rejected");
  if (info->manifest.name != target.package.model.name)
    return make_error(ErrorCode::kCorrupt, "package holds model '" + info->manifest.name +
                                               "', the server announced '" + target.package.model.name + "'");
  return Phase::kInstalling;
}

Result<Phase> Updater::install() {
  const Assignment& target = *state_.target;
  package::VerifyOptions options = verify_options();
  options.on_file_extracted = [this](const std::string&) { faults_.reached("unpack"); };
  auto staged = slots_.stage(download_path(target), state_.inactive_slot(), options);
  if (!staged.ok())
    return staged.error().with_context("install into slot " + std::string(slot_name(state_.inactive_slot())));
  faults_.reached("unpacked");
  return Phase::kHealthChecking;
}

Result<Phase> Updater::health_check() {
  const Slot slot = state_.inactive_slot();
  if (!slots_.has_staged(slot))
    return Phase::kInstalling;  // removed as incomplete after a crash: install again
  auto checked = check_model(slots_.staging_dir(slot), state_.target->package, options_.health);
  if (!checked.ok()) return checked.error().with_context("health check");
  staged_ = std::move(*checked);
  return Phase::kSwitching;
}

Status Updater::commit() {
  const Slot slot = state_.inactive_slot();
  const Assignment target = *state_.target;
  CANOPY_TRY(slots_.promote(slot, [&] { faults_.reached("promote"); }));
  faults_.reached("promoted");
  UpdateState next = state_;
  next.slot(slot) = target.package;
  next.active_slot = slot;
  next.phase = Phase::kIdle;
  next.target.reset();
  next.attempts = 0;
  next.failed.reset();
  next.last_error.clear();
  const bool rollback = target.action == api::Action::kRollback;
  const api::ReportState outcome = rollback ? api::ReportState::kRolledBack : api::ReportState::kSuccess;
  const std::string note =
      rollback ? "deployment " + std::to_string(target.deployment_id) + " rolled back" : "";
  CANOPY_TRY(outbox_.store(report(outcome, next, target, note)));
  faults_.reached("report-stored");
  // The commit: one atomic write flips the active slot and ends the update.
  CANOPY_TRY(store_.save(next));
  state_ = std::move(next);
  faults_.reached("committed");
  spdlog::warn("agent.switched model={} slot={}", target.package.model.label(), slot_name(slot));

  if (!staged_) {
    // Restarted after the health check: load the promoted model again.
    auto loaded = check_model(slots_.slot_dir(slot), target.package, options_.health);
    if (!loaded.ok()) return loaded.error().with_context("loading the new model after the switch");
    staged_ = std::move(*loaded);
  }
  staged_->directory = slots_.slot_dir(slot);
  note_previous(*staged_);
  active_.set(std::shared_ptr<const LoadedModel>(std::move(staged_)));
  remove_leftovers();
  (void)outbox_.flush();
  return {};
}

// The model the active one replaced is an older version of the same model
// in the other slot; a newer one there is a version that was rolled back,
// whose opinion is worth nothing in shadow.
void Updater::note_previous(LoadedModel& model) const {
  const std::optional<PackageRef>& other = state_.slot(state_.inactive_slot());
  if (!other || other->model.name != model.ref.model.name || other->model.version >= model.ref.model.version)
    return;
  model.previous = other;
  model.previous_directory = slots_.slot_dir(state_.inactive_slot());
}

Status Updater::roll_back_to_previous(const Assignment& target) {
  const Slot slot = state_.inactive_slot();
  spdlog::info("agent.rollback to={} deployment={}", target.package.model.label(), target.deployment_id);
  auto loaded = check_model(slots_.slot_dir(slot), *state_.slot(slot), options_.health);
  if (!loaded.ok()) {
    // The previous model went bad on disk: install the version afresh.
    spdlog::warn("agent.previous_unhealthy reason=\"{}\"", loaded.error().message);
    return start(target);
  }
  UpdateState next = state_;
  next.active_slot = slot;
  next.failed.reset();
  next.last_error.clear();
  CANOPY_TRY(outbox_.store(report(api::ReportState::kRolledBack, next, target,
                                  "deployment " + std::to_string(target.deployment_id) + " rolled back")));
  CANOPY_TRY(store_.save(next));
  state_ = std::move(next);
  faults_.reached("rolled-back");
  active_.set(std::shared_ptr<const LoadedModel>(std::move(*loaded)));
  (void)outbox_.flush();
  return {};
}

// The active model no longer passes its health check (damaged on disk, or
// the device changed): serve the previous one. The desired state then names
// a version that is not current, so the next poll installs it afresh. When
// the previous model is missing or damaged too, the device serves nothing
// rather than a model it cannot trust, and forgets the active slot's content
// so that the desired version is installed again.
Status Updater::fall_back_to_previous(const std::string& reason) {
  const Slot slot = state_.inactive_slot();
  const std::optional<PackageRef> previous = state_.slot(slot);
  const std::string error = state_.current()->model.label() + " failed its health check" +
                            (active_.get() ? "" : " at start") + ": " + reason;
  Result<std::unique_ptr<LoadedModel>> loaded =
      previous ? check_model(slots_.slot_dir(slot), *previous, options_.health)
               : Result<std::unique_ptr<LoadedModel>>(make_error(ErrorCode::kNotFound, "no previous model"));
  if (!loaded.ok()) {
    spdlog::error("agent.no_intact_model reason=\"{}\" previous=\"{}\"", reason, loaded.error().message);
    UpdateState next = state_;
    next.slot(*next.active_slot).reset();
    if (previous) next.slot(slot).reset();
    next.last_error = error + "; the previous model cannot serve either (" + loaded.error().message + ")";
    active_.set(nullptr);
    CANOPY_TRY(outbox_.store(report(api::ReportState::kFailed, next, std::nullopt, next.last_error)));
    CANOPY_TRY(store_.save(next));
    state_ = std::move(next);
    (void)outbox_.flush();
    return {};
  }
  UpdateState next = state_;
  next.active_slot = slot;
  next.last_error = error;
  CANOPY_TRY(outbox_.store(report(api::ReportState::kRolledBack, next, std::nullopt, error)));
  CANOPY_TRY(store_.save(next));
  state_ = std::move(next);
  spdlog::warn("agent.fell_back to={} slot={}", previous->model.label(), slot_name(slot));
  active_.set(std::shared_ptr<const LoadedModel>(std::move(*loaded)));
  (void)outbox_.flush();
  return {};
}

Status Updater::check_installed_models() {
  // During an update the inactive slot is the update's to change.
  if (state_.phase != Phase::kIdle) return {};
  package::VerifyOptions files = verify_options();
  const Slot inactive = state_.inactive_slot();
  if (const std::optional<PackageRef> previous = state_.slot(inactive)) {
    files.display_name = "slot " + std::string(slot_name(inactive));
    auto intact = package::verify_extracted(slots_.slot_dir(inactive), files);
    if (!intact.ok()) {
      // Nothing to fall back to any more; a rollback to it is installed afresh.
      spdlog::error("agent.integrity_failed slot={} model={} reason=\"{}\"", slot_name(inactive),
                    previous->model.label(), intact.error().message);
      UpdateState next = state_;
      next.slot(inactive).reset();
      next.last_error = "previous model " + previous->model.label() +
                        " removed, damaged on disk: " + intact.error().message;
      CANOPY_TRY(outbox_.store(report(api::ReportState::kIdle, next, std::nullopt, next.last_error)));
      CANOPY_TRY(store_.save(next));
      state_ = std::move(next);
      CANOPY_TRY(slots_.clear(inactive));
      (void)outbox_.flush();
    }
  }
  if (const std::optional<PackageRef> current = state_.current()) {
    files.display_name = "slot " + std::string(slot_name(*state_.active_slot));
    auto intact = package::verify_extracted(slots_.slot_dir(*state_.active_slot), files);
    if (!intact.ok()) {
      spdlog::error("agent.integrity_failed slot={} model={} reason=\"{}\"", slot_name(*state_.active_slot),
                    current->model.label(), intact.error().message);
      return fall_back_to_previous("damaged on disk: " + intact.error().message);
    }
  }
  spdlog::debug("agent.integrity_ok active={} previous={}",
                state_.current() ? state_.current()->model.label() : "-",
                state_.previous() ? state_.previous()->model.label() : "-");
  return {};
}

Status Updater::adopt_keys(const std::vector<api::KeyEndorsement>& endorsements) {
  if (endorsements.empty()) return {};
  KeyAdoption adoption = adopt_endorsed_keys(options_.trusted_keys, endorsements);
  for (const std::string& reason : adoption.refused)
    if (refused_endorsements_.insert(reason).second)
      spdlog::error("agent.key_endorsement_refused reason=\"{}\"", reason);
  if (adoption.adopted.empty()) return {};
  // On disk first: trust that reached a package must survive a crash.
  CANOPY_TRY(save_trusted_keys(options_.data_dir, adoption.trusted));
  for (const PublicKey& key : adoption.adopted)
    spdlog::warn("agent.key_adopted key_id={} reason=\"the server's publishing key was rotated\"",
                 key.key_id());
  options_.trusted_keys = std::move(adoption.trusted);
  options_.health.trusted_keys = options_.trusted_keys;
  return {};
}

Status Updater::reconcile(const api::DesiredState& desired) {
  const std::optional<Assignment>& target = desired.assignment;
  if (state_.phase != Phase::kIdle) {
    if (target && target->package == state_.target->package) return advance();
    CANOPY_TRY(abandon());
  }
  if (!target) return {};
  if (state_.failed && target->package == *state_.failed) return {};  // given up on; wait for another version
  if (same_version(state_.current(), target->package)) return {};
  if (target->action == api::Action::kRollback && same_version(state_.previous(), target->package))
    return roll_back_to_previous(*target);
  return start(*target);
}

Result<CycleOutcome> Updater::cycle() {
  CycleOutcome outcome;
  if (state_.phase != Phase::kIdle && state_.phase != Phase::kDownloading) {
    Status local = advance();
    if (!local.ok() && !is_network(local)) return local.error();
  }
  (void)outbox_.flush();
  auto poll = client_.poll_desired(etag_);
  if (!poll.ok()) {
    if (poll.error().code != ErrorCode::kNetwork)
      spdlog::error("agent.poll_refused reason=\"{}\"", poll.error().message);
    else
      spdlog::info("agent.offline reason=\"{}\"", poll.error().message);
    return outcome;
  }
  outcome.reached_server = true;
  if (!poll->not_modified || !desired_) {
    desired_ = poll->state;
    etag_ = poll->etag;
  }
  outcome.poll_interval_s = desired_->poll_interval_s;
  outcome.field_config = desired_->field_config;
  CANOPY_TRY(adopt_keys(desired_->key_endorsements));
  if (desired_->status != api::DeviceStatus::kActive) return outcome;
  Status acted = reconcile(*desired_);
  if (is_network(acted)) {
    outcome.reached_server = false;
    spdlog::info("agent.offline reason=\"{}\"", acted.error().message);
    return outcome;
  }
  if (!acted.ok()) return acted.error();
  return outcome;
}

}  // namespace canopy::agent
