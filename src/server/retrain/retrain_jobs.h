// The retrain area (docs/loop.md): each model's retrain policy, the jobs it
// queues, the leases workers run them under, and what becomes of the
// challenger a job publishes.
//
// Jobs, not a training server: `canopy worker` (any number, anywhere
// canopy-train runs) claims the oldest queued job with a lease, renews it
// with heartbeats while it runs the retrain pipeline, and reports the end.
// A lease that runs out unrenewed (the worker died, or lost its network)
// returns the job to the queue, and the next claim resumes it; after
// `max_attempts` leases the job fails. Every change is one transaction, so a
// server killed at any instant restarts with each job queued, leased or
// finished, never half of one.
//
// Policies are evaluated (retrain_policy.h) whenever a worker claims, and
// when someone asks for the loop's state; a job is queued with its dataset
// version made on the spot (the labeled field samples, with the policy's
// bases for replay) and the production version it starts from.
//
// When a job succeeds, the version its pipeline run published becomes the
// model's `challenger`; the policy then promotes it (production moves, and
// the fleet's staged rollout starts), waits for a person, or leaves it. A
// promotion whose rollout fails in the field is undone: production goes back
// to the parent, and the job says so.
//
// The area reaches the labeling queue, the datasets, the registry, the fleet
// and the drift monitor only through RetrainLinks, which the server's
// composition implements.
//
// Thread-safety: every public method may be called from any thread; the
// area's mutex guards its connection. Lock order: this area first, then the
// areas RetrainLinks reaches.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/datasets.h"
#include "api/deployment.h"
#include "api/retrain.h"
#include "common/clock.h"
#include "common/error.h"
#include "server/retrain/retrain_policy.h"
#include "server/storage/sqlite.h"

namespace canopy::server {

// What the retrain area needs of the others.
class RetrainLinks {
 public:
  virtual ~RetrainLinks() = default;
  // Samples of `field` (empty: all) labeled or reviewed (reviewed only).
  virtual Result<std::int64_t> labeled_count(const std::string& field, bool reviewed_only) = 0;
  // Makes the next version of the policy's dataset; answers NAME:VERSION.
  virtual Result<std::string> make_dataset(const api::RetrainPolicy& policy, const std::string& actor) = 0;
  // The version `alias` of `model` names, or nullopt.
  virtual Result<std::optional<std::int64_t>> alias(const std::string& model, const std::string& alias) = 0;
  virtual Status set_alias(const std::string& model, const std::string& alias, std::int64_t version,
                           const std::string& actor) = 0;
  // The version of `model` the pipeline run published, or nullopt.
  virtual Result<std::optional<std::int64_t>> published_by(const std::string& model,
                                                           const std::string& run_id) = 0;
  // Starts a rollout of MODEL:VERSION; answers the deployment's id.
  virtual Result<std::int64_t> start_rollout(const api::RetrainPolicy& policy, std::int64_t version,
                                             const std::string& actor) = 0;
  virtual Result<api::DeploymentState> rollout_state(std::int64_t deployment) = 0;
  // The model's open drift alerts, "FIELD MEASURE VALUE" each.
  virtual Result<std::vector<std::string>> open_drift(const std::string& model) = 0;
  // For lineage: the pipeline run that published MODEL:VERSION ("" when
  // none), a dataset version with its items, the dataset versions holding
  // a sample, and the devices running MODEL:VERSION now.
  virtual Result<std::string> run_of(const std::string& model, std::int64_t version) = 0;
  virtual Result<api::DatasetVersion> dataset(const std::string& ref) = 0;
  virtual Result<std::vector<std::string>> datasets_with_sample(const std::string& sample_id) = 0;
  virtual Result<std::vector<std::string>> devices_running(const std::string& model,
                                                           std::int64_t version) = 0;
};

struct RetrainOptions {
  std::int64_t lease_ms = 60'000;  // a worker heartbeats every third of it
  int max_attempts = 3;
};

struct JobQuery {
  std::string model;  // empty: every model
  std::string state;  // empty: every state
  int limit = 100;
};

class RetrainJobs {
 public:
  static Result<std::unique_ptr<RetrainJobs>> open(Database db, RetrainLinks& links, Clock& clock,
                                                   RetrainOptions options = {});

  // Sets (or replaces) the policy of `policy.model`.
  Result<api::RetrainPolicy> set_policy(const api::RetrainPolicy& policy);
  Result<api::RetrainPolicy> policy(const std::string& model);
  Result<std::vector<api::RetrainPolicy>> policies();
  Status remove_policy(const std::string& model);

  // What the policy of `model` says now, queueing the job it asks for.
  Result<RetrainDecision> evaluate(const std::string& model);
  // Every policy evaluated, and promotions followed to their rollouts' end.
  Status evaluate_all();
  // Queues a job for `model` now (a person's request): kNotFound without a
  // policy, kConflict while a job is open or the policy is disabled.
  Result<api::RetrainJob> request(const std::string& model, const std::string& actor);

  // The oldest queued job, leased to `worker`; nullopt when none waits.
  // Evaluates the policies first.
  Result<std::optional<api::JobLease>> claim(const std::string& worker);
  // Renews the lease; kConflict when `worker` no longer holds it (it ran
  // out and went to another, or the job was cancelled): stop working on it.
  Result<api::JobLease> heartbeat(std::int64_t id, const std::string& worker, const std::string& progress);
  // The worker's end of the job; kConflict as heartbeat.
  Result<api::RetrainJob> complete(std::int64_t id, const api::JobOutcome& outcome);
  Result<api::RetrainJob> cancel(std::int64_t id, const std::string& actor);

  // A pending promotion approved (production moves, the rollout starts) or declined.
  Result<api::RetrainJob> approve(std::int64_t id, const std::string& actor);
  Result<api::RetrainJob> decline(std::int64_t id, const std::string& actor);

  Result<api::RetrainJob> job(std::int64_t id);
  // Newest first.
  Result<std::vector<api::RetrainJob>> jobs(const JobQuery& query);
  // How many jobs are in each state; one query on the state index, for monitoring.
  Result<std::map<std::string, std::int64_t>> count_by_state();
  // The job whose pipeline run is `run_id`, or nullopt (lineage).
  Result<std::optional<api::RetrainJob>> job_of_run(const std::string& run_id);

  // Lineage, both ways. Of a model version: the run that published it, the
  // job that ran it, the dataset version it trained on, that version's
  // samples and the devices that sent them, and its parent. Of a sample:
  // the dataset versions holding it, the jobs that trained on them, the
  // versions they published, and the devices running those now.
  Result<Json> lineage_of_version(const std::string& model, std::int64_t version);
  Result<Json> lineage_of_sample(const std::string& sample_id);

 private:
  RetrainJobs(Database db, RetrainLinks& links, Clock& clock, RetrainOptions options)
      : db_(std::move(db)), links_(links), clock_(clock), options_(options) {}

  struct PolicyRow {
    api::RetrainPolicy policy;
    std::int64_t set_at_ms = 0;
    std::int64_t label_mark = 0;  // labels counted when the newest job was queued
  };

  // Callers hold mutex_.
  Result<std::optional<PolicyRow>> load_policy_locked(const std::string& model);
  Result<RetrainDecision> evaluate_locked(const PolicyRow& row, const std::string& requested_by,
                                          std::optional<api::RetrainJob>* queued);
  Result<api::RetrainJob> queue_locked(const PolicyRow& row, std::int64_t labels, const std::string& reason,
                                       const std::string& actor);
  // kNotFound for an unknown id; pending_locked also kConflict unless a promotion waits.
  Result<api::RetrainJob> find_locked(std::int64_t id);
  Result<api::RetrainJob> pending_locked(std::int64_t id);
  Status save_locked(const api::RetrainJob& job);
  Status expire_leases_locked();
  Result<api::RetrainJob> leased_locked(std::int64_t id, const std::string& worker);
  // Challenger alias, then the policy's promotion.
  Status after_success_locked(api::RetrainJob& job);
  Status promote_locked(api::RetrainJob& job, const api::RetrainPolicy& policy, const std::string& actor);
  Status follow_promotion_locked(api::RetrainJob& job);

  std::mutex mutex_;  // guards db_
  Database db_;
  RetrainLinks& links_;
  Clock& clock_;
  const RetrainOptions options_;
};

}  // namespace canopy::server
