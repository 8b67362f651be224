#include "server/retrain/retrain_jobs.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/time.h"
#include "server/storage/migrations.h"

namespace canopy::server {

namespace {

const AreaSchema kSchema{"retrain", {R"sql(
CREATE TABLE retrain_policies (
  model TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  set_at_ms INTEGER NOT NULL,
  label_mark INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE retrain_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  model TEXT NOT NULL,
  state TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  run_id TEXT NOT NULL DEFAULT '',
  body TEXT NOT NULL
);
CREATE INDEX retrain_jobs_by_model ON retrain_jobs(model, id);
CREATE INDEX retrain_jobs_by_state ON retrain_jobs(state, id);
CREATE INDEX retrain_jobs_by_run ON retrain_jobs(run_id);
)sql"}};

constexpr const char* kChallenger = "challenger";
constexpr const char* kProduction = "production";

bool is_open(const std::string& state) { return state == api::kJobQueued || state == api::kJobRunning; }

Result<api::RetrainJob> parse_job(const std::string& body) {
  CANOPY_ASSIGN_OR_RETURN(Json json, parse_json(body, "stored retrain job"));
  return api::RetrainJob::from_json(json);
}

Result<std::vector<api::RetrainJob>> read_jobs(Statement& select) {
  std::vector<api::RetrainJob> jobs;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    CANOPY_ASSIGN_OR_RETURN(api::RetrainJob job, parse_job(select.column_text(0)));
    jobs.push_back(std::move(job));
  }
  return jobs;
}

}  // namespace

Result<std::unique_ptr<RetrainJobs>> RetrainJobs::open(Database db, RetrainLinks& links, Clock& clock,
                                                       RetrainOptions options) {
  CANOPY_TRY(migrate(db, kSchema));
  return std::unique_ptr<RetrainJobs>(new RetrainJobs(std::move(db), links, clock, options));
}

Result<api::RetrainPolicy> RetrainJobs::set_policy(const api::RetrainPolicy& policy) {
  std::lock_guard lock(mutex_);
  // Setting a policy again keeps its label mark: labels already counted stay counted.
  CANOPY_TRY(
      db_.run("INSERT INTO retrain_policies (model, body, set_at_ms) VALUES (?, ?, ?) "
              "ON CONFLICT(model) DO UPDATE SET body = excluded.body, set_at_ms = excluded.set_at_ms",
              {policy.model, policy.to_json().dump(), clock_.wall_ms()}));
  spdlog::info("retrain.policy.set model={} promotion={}", policy.model,
               api::promotion_name(policy.promotion));
  return policy;
}

Result<std::optional<RetrainJobs::PolicyRow>> RetrainJobs::load_policy_locked(const std::string& model) {
  CANOPY_ASSIGN_OR_RETURN(
      Statement select,
      db_.prepare("SELECT body, set_at_ms, label_mark FROM retrain_policies WHERE model = ?"));
  select.bind(1, model);
  CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
  if (!row) return std::optional<PolicyRow>();
  CANOPY_ASSIGN_OR_RETURN(Json body, parse_json(select.column_text(0), "stored retrain policy"));
  CANOPY_ASSIGN_OR_RETURN(api::RetrainPolicy policy, api::RetrainPolicy::from_json(body));
  return std::optional<PolicyRow>(PolicyRow{std::move(policy), select.column_int(1), select.column_int(2)});
}

Result<api::RetrainPolicy> RetrainJobs::policy(const std::string& model) {
  std::lock_guard lock(mutex_);
  CANOPY_ASSIGN_OR_RETURN(std::optional<PolicyRow> row, load_policy_locked(model));
  if (!row) return make_error(ErrorCode::kNotFound, "model '" + model + "' has no retrain policy");
  return row->policy;
}

Result<std::vector<api::RetrainPolicy>> RetrainJobs::policies() {
  std::lock_guard lock(mutex_);
  CANOPY_ASSIGN_OR_RETURN(Statement select, db_.prepare("SELECT body FROM retrain_policies ORDER BY model"));
  std::vector<api::RetrainPolicy> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    CANOPY_ASSIGN_OR_RETURN(Json body, parse_json(select.column_text(0), "stored retrain policy"));
    CANOPY_ASSIGN_OR_RETURN(api::RetrainPolicy policy, api::RetrainPolicy::from_json(body));
    out.push_back(std::move(policy));
  }
  return out;
}

Status RetrainJobs::remove_policy(const std::string& model) {
  std::lock_guard lock(mutex_);
  CANOPY_TRY(db_.run("DELETE FROM retrain_policies WHERE model = ?", {model}));
  if (db_.changes() == 0)
    return make_error(ErrorCode::kNotFound, "model '" + model + "' has no retrain policy");
  return {};
}

Result<RetrainDecision> RetrainJobs::evaluate_locked(const PolicyRow& row, const std::string& requested_by,
                                                     std::optional<api::RetrainJob>* queued) {
  const api::RetrainPolicy& policy = row.policy;
  RetrainState state;
  state.policy_set_at_ms = row.set_at_ms;
  state.requested_by = requested_by;
  {
    CANOPY_ASSIGN_OR_RETURN(
        Statement select,
        db_.prepare("SELECT created_ms, state FROM retrain_jobs WHERE model = ? ORDER BY id DESC"));
    select.bind(1, policy.model);
    while (true) {
      CANOPY_ASSIGN_OR_RETURN(bool found, select.step());
      if (!found) break;
      if (!state.last_job_at_ms) state.last_job_at_ms = select.column_int(0);
      if (is_open(select.column_text(1))) state.job_open = true;
    }
  }
  std::int64_t labels = 0;
  if (policy.enabled && !state.job_open) {
    CANOPY_ASSIGN_OR_RETURN(labels, links_.labeled_count(policy.field, policy.reviewed_only));
    state.new_labels = labels - row.label_mark;
    if (policy.on_drift) {
      CANOPY_ASSIGN_OR_RETURN(state.open_drift, links_.open_drift(policy.model));
    }
  }
  RetrainDecision decision = decide_retrain(policy, state, clock_.wall_ms());
  if (decision.queue) {
    const std::string actor = requested_by.empty() ? "retrain policy" : requested_by;
    CANOPY_ASSIGN_OR_RETURN(api::RetrainJob job, queue_locked(row, labels, decision.reason, actor));
    if (queued) *queued = std::move(job);
  }
  return decision;
}

Result<api::RetrainJob> RetrainJobs::queue_locked(const PolicyRow& row, std::int64_t labels,
                                                  const std::string& reason, const std::string& actor) {
  const api::RetrainPolicy& policy = row.policy;
  // The other areas first, outside this area's transaction: SQLite has one
  // writer per file, and their writes would wait for ours.
  CANOPY_ASSIGN_OR_RETURN(std::string dataset, links_.make_dataset(policy, actor));
  CANOPY_ASSIGN_OR_RETURN(std::optional<std::int64_t> parent, links_.alias(policy.model, kProduction));

  api::RetrainJob job;
  job.model = policy.model;
  job.reason = reason;
  job.dataset = dataset;
  job.parent_version = parent.value_or(0);
  const std::int64_t now = clock_.wall_ms();
  job.created_at = format_utc(now);
  job.parameters = policy.parameters;
  job.parameters["model"] = policy.model;
  job.parameters["dataset"] = dataset;
  job.parameters["parent"] = parent ? policy.model + ":" + std::to_string(*parent) : "";

  CANOPY_ASSIGN_OR_RETURN(Transaction transaction, Transaction::begin(db_));
  CANOPY_TRY(db_.run("INSERT INTO retrain_jobs (model, state, created_ms, body) VALUES (?, ?, ?, '{}')",
                     {job.model, job.state, now}));
  CANOPY_ASSIGN_OR_RETURN(Statement last, db_.prepare("SELECT last_insert_rowid()"));
  CANOPY_TRY(last.step());
  job.id = last.column_int(0);
  job.parameters["job"] = job.id;
  CANOPY_TRY(save_locked(job));
  CANOPY_TRY(db_.run("UPDATE retrain_policies SET label_mark = ? WHERE model = ?", {labels, policy.model}));
  CANOPY_TRY(transaction.commit());
  spdlog::info("retrain.job.queued id={} model={} dataset={} parent={} reason=\"{}\"", job.id, job.model,
               dataset, job.parent_version, reason);
  return job;
}

Status RetrainJobs::save_locked(const api::RetrainJob& job) {
  return db_.run("UPDATE retrain_jobs SET state = ?, run_id = ?, body = ? WHERE id = ?",
                 {job.state, job.run_id, job.to_json().dump(), job.id});
}

Result<api::RetrainJob> RetrainJobs::find_locked(std::int64_t id) {
  CANOPY_ASSIGN_OR_RETURN(Statement select, db_.prepare("SELECT body FROM retrain_jobs WHERE id = ?"));
  select.bind(1, id);
  CANOPY_ASSIGN_OR_RETURN(std::vector<api::RetrainJob> found, read_jobs(select));
  if (found.empty())
    return make_error(ErrorCode::kNotFound, "retrain job " + std::to_string(id) + " does not exist");
  return std::move(found.front());
}

Result<api::RetrainJob> RetrainJobs::pending_locked(std::int64_t id) {
  CANOPY_ASSIGN_OR_RETURN(api::RetrainJob job, find_locked(id));
  if (job.promotion != api::kPromotionPending)
    return make_error(ErrorCode::kConflict,
                      "retrain job " + std::to_string(id) + " has no promotion waiting");
  return job;
}

Result<RetrainDecision> RetrainJobs::evaluate(const std::string& model) {
  std::lock_guard lock(mutex_);
  CANOPY_ASSIGN_OR_RETURN(std::optional<PolicyRow> row, load_policy_locked(model));
  if (!row) return make_error(ErrorCode::kNotFound, "model '" + model + "' has no retrain policy");
  return evaluate_locked(*row, "", nullptr);
}

Status RetrainJobs::evaluate_all() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> models;
  {
    CANOPY_ASSIGN_OR_RETURN(Statement select,
                            db_.prepare("SELECT model FROM retrain_policies ORDER BY model"));
    while (true) {
      CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
      if (!row) break;
      models.push_back(select.column_text(0));
    }
  }
  for (const std::string& model : models) {
    CANOPY_ASSIGN_OR_RETURN(std::optional<PolicyRow> row, load_policy_locked(model));
    if (!row) continue;
    // One model's trouble (no labels yet to make a dataset of) holds up no other.
    auto decision = evaluate_locked(*row, "", nullptr);
    if (!decision.ok())
      spdlog::warn("retrain.policy.not_evaluated model={} error=\"{}\"", model, decision.error().message);
  }
  CANOPY_ASSIGN_OR_RETURN(Statement select,
                          db_.prepare("SELECT body FROM retrain_jobs WHERE state = ? ORDER BY id"));
  select.bind(1, std::string(api::kJobSucceeded));
  CANOPY_ASSIGN_OR_RETURN(std::vector<api::RetrainJob> succeeded, read_jobs(select));
  for (api::RetrainJob& job : succeeded)
    if (job.promotion == api::kPromotionPromoted) CANOPY_TRY(follow_promotion_locked(job));
  return {};
}

Result<api::RetrainJob> RetrainJobs::request(const std::string& model, const std::string& actor) {
  std::lock_guard lock(mutex_);
  CANOPY_ASSIGN_OR_RETURN(std::optional<PolicyRow> row, load_policy_locked(model));
  if (!row) return make_error(ErrorCode::kNotFound, "model '" + model + "' has no retrain policy");
  std::optional<api::RetrainJob> queued;
  CANOPY_ASSIGN_OR_RETURN(RetrainDecision decision, evaluate_locked(*row, actor, &queued));
  if (queued) return *queued;
  if (!row->policy.enabled)
    return make_error(ErrorCode::kConflict, "the retrain policy of '" + model + "' is disabled");
  return make_error(ErrorCode::kConflict, "no job queued for '" + model + "': " + decision.reason);
}

Status RetrainJobs::expire_leases_locked() {
  CANOPY_ASSIGN_OR_RETURN(Statement select, db_.prepare("SELECT body FROM retrain_jobs WHERE state = ?"));
  select.bind(1, std::string(api::kJobRunning));
  CANOPY_ASSIGN_OR_RETURN(std::vector<api::RetrainJob> running, read_jobs(select));
  const std::int64_t now = clock_.wall_ms();
  for (api::RetrainJob& job : running) {
    if (job.lease_expires_ms > now) continue;
    if (job.attempts >= options_.max_attempts) {
      job.state = api::kJobFailed;
      job.finished_at = format_utc(now);
      job.message =
          "the lease ran out " + std::to_string(job.attempts) + " times (last held by " + job.worker + ")";
    } else {
      job.state = api::kJobQueued;
      job.progress = "the lease of " + job.worker + " ran out; queued again";
    }
    spdlog::warn("retrain.job.lease_lost id={} worker={} state={}", job.id, job.worker, job.state);
    CANOPY_TRY(save_locked(job));
  }
  return {};
}

Result<std::optional<api::JobLease>> RetrainJobs::claim(const std::string& worker) {
  // Policies first: a worker's poll is what moves the loop on.
  CANOPY_TRY(evaluate_all());
  std::lock_guard lock(mutex_);
  CANOPY_TRY(expire_leases_locked());
  CANOPY_ASSIGN_OR_RETURN(Statement select,
                          db_.prepare("SELECT body FROM retrain_jobs WHERE state = ? ORDER BY id LIMIT 1"));
  select.bind(1, std::string(api::kJobQueued));
  CANOPY_ASSIGN_OR_RETURN(std::vector<api::RetrainJob> queued, read_jobs(select));
  if (queued.empty()) return std::optional<api::JobLease>();
  api::RetrainJob job = std::move(queued.front());
  const std::int64_t now = clock_.wall_ms();
  job.state = api::kJobRunning;
  job.worker = worker;
  job.lease_expires_ms = now + options_.lease_ms;
  job.attempts += 1;
  if (job.started_at.empty()) job.started_at = format_utc(now);
  job.progress = "claimed by " + worker;
  CANOPY_TRY(save_locked(job));
  spdlog::info("retrain.job.claimed id={} worker={} attempt={}", job.id, worker, job.attempts);
  return std::optional<api::JobLease>(api::JobLease{std::move(job), options_.lease_ms / 1000});
}

Result<api::RetrainJob> RetrainJobs::leased_locked(std::int64_t id, const std::string& worker) {
  CANOPY_ASSIGN_OR_RETURN(api::RetrainJob job, find_locked(id));
  if (job.state != api::kJobRunning || job.worker != worker)
    return make_error(ErrorCode::kConflict, "retrain job " + std::to_string(id) + " is not leased to " +
                                                worker + " (it is " + job.state + "); stop working on it");
  return job;
}

Result<api::JobLease> RetrainJobs::heartbeat(std::int64_t id, const std::string& worker,
                                             const std::string& progress) {
  std::lock_guard lock(mutex_);
  CANOPY_ASSIGN_OR_RETURN(api::RetrainJob job, leased_locked(id, worker));
  job.lease_expires_ms = clock_.wall_ms() + options_.lease_ms;
  if (!progress.empty()) job.progress = progress.substr(0, 1024);
  CANOPY_TRY(save_locked(job));
  return api::JobLease{std::move(job), options_.lease_ms / 1000};
}

Result<api::RetrainJob> RetrainJobs::complete(std::int64_t id, const api::JobOutcome& outcome) {
  std::lock_guard lock(mutex_);
  CANOPY_ASSIGN_OR_RETURN(api::RetrainJob job, leased_locked(id, outcome.worker));
  job.finished_at = format_utc(clock_.wall_ms());
  job.run_id = outcome.run_id;
  job.message = outcome.message.substr(0, 4096);
  if (outcome.exit_code == 0) {
    CANOPY_ASSIGN_OR_RETURN(std::optional<std::int64_t> version,
                            links_.published_by(job.model, outcome.run_id));
    // An attempt killed after its upload: this run uploaded the same bytes
    // again, and the registry kept the version under the earlier run.
    for (auto run = outcome.earlier_runs.rbegin(); !version && run != outcome.earlier_runs.rend(); ++run) {
      CANOPY_ASSIGN_OR_RETURN(version, links_.published_by(job.model, *run));
      if (version) job.run_id = *run;
    }
    if (version) {
      job.state = api::kJobSucceeded;
      job.version = *version;
      job.message.clear();
      CANOPY_TRY(after_success_locked(job));
    } else {
      job.state = api::kJobFailed;
      job.message =
          "pipeline run '" + outcome.run_id + "' succeeded but published no version of " + job.model;
    }
  } else {
    job.state = outcome.gate_failed ? api::kJobRejected : api::kJobFailed;
  }
  CANOPY_TRY(save_locked(job));
  spdlog::info("retrain.job.finished id={} state={} run={} version={} message=\"{}\"", job.id, job.state,
               job.run_id, job.version, job.message);
  return job;
}

Status RetrainJobs::after_success_locked(api::RetrainJob& job) {
  const std::string actor = "retrain job " + std::to_string(job.id);
  CANOPY_TRY(links_.set_alias(job.model, kChallenger, job.version, actor));
  CANOPY_ASSIGN_OR_RETURN(std::optional<PolicyRow> row, load_policy_locked(job.model));
  if (!row) {
    job.promotion = api::kPromotionDeclined;
    job.promotion_note = "the model has no retrain policy any more; the challenger stays";
    return {};
  }
  switch (row->policy.promotion) {
    case api::Promotion::kAutomatic:
      return promote_locked(job, row->policy, actor);
    case api::Promotion::kApproval:
      job.promotion = api::kPromotionPending;
      job.promotion_note = "waiting for approval: canopy retrain approve " + std::to_string(job.id);
      return {};
    case api::Promotion::kManual:
      job.promotion = api::kPromotionDeclined;
      job.promotion_note = "the policy promotes by hand: canopy model alias set " + job.model + " " +
                           std::to_string(job.version) + " production";
      return {};
  }
  return {};
}

Status RetrainJobs::promote_locked(api::RetrainJob& job, const api::RetrainPolicy& policy,
                                   const std::string& actor) {
  CANOPY_TRY(links_.set_alias(job.model, kProduction, job.version, actor));
  auto deployment = links_.start_rollout(policy, job.version, actor);
  if (!deployment.ok()) {
    // Production must not name a version no device was given.
    if (job.parent_version > 0)
      CANOPY_TRY(links_.set_alias(job.model, kProduction, job.parent_version, actor));
    job.promotion = api::kPromotionRolledBack;
    job.promotion_note = "the rollout could not start: " + deployment.error().message;
    return {};
  }
  job.promotion = api::kPromotionPromoted;
  job.deployment = *deployment;
  job.promotion_note = "production is " + job.model + ":" + std::to_string(job.version) +
                       ", rolling out as deployment " + std::to_string(*deployment);
  spdlog::info("retrain.promoted job={} model={} version={} deployment={}", job.id, job.model, job.version,
               *deployment);
  return {};
}

Status RetrainJobs::follow_promotion_locked(api::RetrainJob& job) {
  CANOPY_ASSIGN_OR_RETURN(api::DeploymentState state, links_.rollout_state(job.deployment));
  if (state == api::DeploymentState::kCompleted) {
    job.promotion = api::kPromotionCompleted;
    job.promotion_note = "deployment " + std::to_string(job.deployment) + " completed";
  } else if (state == api::DeploymentState::kRolledBack || state == api::DeploymentState::kAborted) {
    const std::string actor = "retrain job " + std::to_string(job.id);
    CANOPY_ASSIGN_OR_RETURN(std::optional<std::int64_t> production, links_.alias(job.model, kProduction));
    if (production == job.version && job.parent_version > 0)
      CANOPY_TRY(links_.set_alias(job.model, kProduction, job.parent_version, actor));
    job.promotion = api::kPromotionRolledBack;
    job.promotion_note = "deployment " + std::to_string(job.deployment) + " was " +
                         std::string(api::deployment_state_name(state)) + "; production is back on " +
                         job.model + ":" + std::to_string(job.parent_version);
    spdlog::warn("retrain.promotion.rolled_back job={} version={}", job.id, job.version);
  } else {
    return {};
  }
  return save_locked(job);
}

Result<api::RetrainJob> RetrainJobs::cancel(std::int64_t id, const std::string& actor) {
  std::lock_guard lock(mutex_);
  CANOPY_ASSIGN_OR_RETURN(api::RetrainJob job, find_locked(id));
  if (!is_open(job.state))
    return make_error(ErrorCode::kConflict, "retrain job " + std::to_string(id) + " is " + job.state);
  job.state = api::kJobCancelled;
  job.finished_at = format_utc(clock_.wall_ms());
  job.message = "cancelled by " + actor;
  CANOPY_TRY(save_locked(job));
  return job;
}

Result<api::RetrainJob> RetrainJobs::approve(std::int64_t id, const std::string& actor) {
  std::lock_guard lock(mutex_);
  CANOPY_ASSIGN_OR_RETURN(api::RetrainJob job, pending_locked(id));
  CANOPY_ASSIGN_OR_RETURN(std::optional<PolicyRow> row, load_policy_locked(job.model));
  if (!row) return make_error(ErrorCode::kConflict, "model '" + job.model + "' has no retrain policy");
  CANOPY_TRY(promote_locked(job, row->policy, actor));
  job.promotion_note += " (approved by " + actor + ")";
  CANOPY_TRY(save_locked(job));
  return job;
}

Result<api::RetrainJob> RetrainJobs::decline(std::int64_t id, const std::string& actor) {
  std::lock_guard lock(mutex_);
  CANOPY_ASSIGN_OR_RETURN(api::RetrainJob job, pending_locked(id));
  job.promotion = api::kPromotionDeclined;
  job.promotion_note = "declined by " + actor;
  CANOPY_TRY(save_locked(job));
  return job;
}

Result<api::RetrainJob> RetrainJobs::job(std::int64_t id) {
  std::lock_guard lock(mutex_);
  return find_locked(id);
}

Result<std::vector<api::RetrainJob>> RetrainJobs::jobs(const JobQuery& query) {
  std::lock_guard lock(mutex_);
  CANOPY_ASSIGN_OR_RETURN(Statement select,
                          db_.prepare("SELECT body FROM retrain_jobs WHERE (?1 = '' OR model = ?1) "
                                      "AND (?2 = '' OR state = ?2) ORDER BY id DESC LIMIT ?3"));
  select.bind(1, query.model).bind(2, query.state).bind(3, std::int64_t{query.limit});
  return read_jobs(select);
}

Result<std::map<std::string, std::int64_t>> RetrainJobs::count_by_state() {
  std::lock_guard lock(mutex_);
  CANOPY_ASSIGN_OR_RETURN(Statement select,
                          db_.prepare("SELECT state, COUNT(*) FROM retrain_jobs GROUP BY state"));
  std::map<std::string, std::int64_t> counts;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) return counts;
    counts[select.column_text(0)] = select.column_int(1);
  }
}

Result<std::optional<api::RetrainJob>> RetrainJobs::job_of_run(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  CANOPY_ASSIGN_OR_RETURN(
      Statement select,
      db_.prepare("SELECT body FROM retrain_jobs WHERE run_id = ? ORDER BY id DESC LIMIT 1"));
  select.bind(1, run_id);
  CANOPY_ASSIGN_OR_RETURN(std::vector<api::RetrainJob> found, read_jobs(select));
  if (found.empty()) return std::optional<api::RetrainJob>();
  return std::optional<api::RetrainJob>(std::move(found.front()));
}

Result<Json> RetrainJobs::lineage_of_version(const std::string& model, std::int64_t version) {
  CANOPY_ASSIGN_OR_RETURN(std::string run, links_.run_of(model, version));
  Json out = {{"model", model}, {"version", version}, {"run", run}, {"job", nullptr}};
  if (run.empty()) return out;
  CANOPY_ASSIGN_OR_RETURN(std::optional<api::RetrainJob> job, job_of_run(run));
  if (!job) return out;
  out["job"] = job->id;
  out["reason"] = job->reason;
  out["parent"] = job->parent_version > 0 ? Json(model + ":" + std::to_string(job->parent_version)) : Json();
  out["dataset"] = job->dataset;
  CANOPY_ASSIGN_OR_RETURN(api::DatasetVersion dataset, links_.dataset(job->dataset));
  Json samples = Json::array();
  for (const api::DatasetItem& item : dataset.item_list)
    samples.push_back({{"sample_id", item.sample_id}, {"device_id", item.device_id}, {"split", item.split}});
  out["samples"] = std::move(samples);
  out["devices"] = dataset.items_by_device;
  out["labelers"] = dataset.items_by_labeler;
  return out;
}

Result<Json> RetrainJobs::lineage_of_sample(const std::string& sample_id) {
  CANOPY_ASSIGN_OR_RETURN(std::vector<std::string> datasets, links_.datasets_with_sample(sample_id));
  std::vector<api::RetrainJob> trained;
  {
    std::lock_guard lock(mutex_);
    CANOPY_ASSIGN_OR_RETURN(Statement select,
                            db_.prepare("SELECT body FROM retrain_jobs WHERE state = ? ORDER BY id"));
    select.bind(1, std::string(api::kJobSucceeded));
    CANOPY_ASSIGN_OR_RETURN(std::vector<api::RetrainJob> succeeded, read_jobs(select));
    for (api::RetrainJob& job : succeeded)
      if (std::find(datasets.begin(), datasets.end(), job.dataset) != datasets.end())
        trained.push_back(std::move(job));
  }
  Json models = Json::array();
  for (const api::RetrainJob& job : trained) {
    CANOPY_ASSIGN_OR_RETURN(std::vector<std::string> devices, links_.devices_running(job.model, job.version));
    models.push_back({{"model", job.model},
                      {"version", job.version},
                      {"job", job.id},
                      {"dataset", job.dataset},
                      {"devices_running", devices}});
  }
  return Json{{"sample_id", sample_id}, {"datasets", datasets}, {"models", models}};
}

}  // namespace canopy::server
