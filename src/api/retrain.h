// The closed loop's messages (docs/loop.md): a model's retrain policy, the
// retrain jobs the server queues and workers run, and what a worker reports
// while it runs one. Each type has one JSON form: to_json() writes it,
// from_json() reads it and names the field it gets wrong.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/deployment.h"
#include "common/error.h"
#include "common/json.h"

namespace canopy::api {

// What happens once a challenger passed its gates.
enum class Promotion {
  kAutomatic,  // production moves to it and a staged rollout starts
  kApproval,   // the same, once a person approves (canopy retrain approve JOB)
  kManual      // it stays the challenger; nothing moves
};
std::string_view promotion_name(Promotion promotion);

struct RetrainPolicy {
  std::string model;
  bool enabled = true;
  // Triggers; 0 (or false) turns one off.
  std::int64_t min_new_labels = 100;  // samples labeled since the last job
  bool reviewed_only = false;         // count and train on reviewed labels only
  bool on_drift = true;               // an open drift alert on the model
  std::int64_t every_s = 0;           // a schedule
  std::int64_t min_interval_s = 6 * 3600;
  // What a job trains on: the labeled samples of `field` (empty: every
  // field) as the next version of `dataset` (empty: MODEL-field), with the
  // items of `bases` (the data the model was first trained on: replay).
  std::string field;
  std::string dataset;
  std::vector<std::string> bases;
  Json parameters = Json::object();  // pipeline parameters (NAME: value) the worker passes on
  Promotion promotion = Promotion::kAutomatic;
  DeploymentTarget target;   // the rollout of a promoted version
  RolloutStrategy strategy;  // its stages; none: one wave of every device

  std::string dataset_name() const { return dataset.empty() ? model + "-field" : dataset; }
  bool has_target() const { return !target.group.empty() || !target.tags.empty() || !target.devices.empty(); }
  Json to_json() const;
  // Checks every setting; the error names it. A policy that promotes needs a target.
  static Result<RetrainPolicy> from_json(const Json& json);
};

// Job states. queued -> running (leased to a worker; back to queued when
// the lease ends unrenewed) -> succeeded (a challenger was published),
// rejected (the pipeline's gates refused the challenger), failed (the
// pipeline failed otherwise, or the job ran out of attempts), cancelled.
inline constexpr const char* kJobQueued = "queued";
inline constexpr const char* kJobRunning = "running";
inline constexpr const char* kJobSucceeded = "succeeded";
inline constexpr const char* kJobRejected = "rejected";
inline constexpr const char* kJobFailed = "failed";
inline constexpr const char* kJobCancelled = "cancelled";

// What became of a succeeded job's challenger. pending: waiting for
// approval; promoted: production moved and its rollout runs; completed: the
// rollout finished; rolled_back: the rollout failed in the field and
// production went back to the parent; declined: a person said no, or the
// policy promotes by hand.
inline constexpr const char* kPromotionPending = "pending";
inline constexpr const char* kPromotionPromoted = "promoted";
inline constexpr const char* kPromotionCompleted = "completed";
inline constexpr const char* kPromotionRolledBack = "rolled_back";
inline constexpr const char* kPromotionDeclined = "declined";

struct RetrainJob {
  std::int64_t id = 0;
  std::string model;
  std::string reason;  // the trigger: "120 new labels", "drift: north psi 0.31", "schedule", "requested by X"
  std::string state = kJobQueued;
  std::string dataset;               // the dataset version it trains on, NAME:VERSION
  std::int64_t parent_version = 0;   // production when it was queued (0: none)
  Json parameters = Json::object();  // the pipeline parameters, with dataset, parent and job filled in
  std::string worker;                // the worker holding (or last holding) the lease
  std::int64_t lease_expires_ms = 0;
  int attempts = 0;      // leases granted
  std::string progress;  // the worker's last heartbeat line
  std::string created_at, started_at, finished_at;
  std::string run_id;           // the pipeline run that ran it (the last attempt's)
  std::int64_t version = 0;     // the challenger it published (0: none)
  std::string message;          // why it failed or was rejected, from the run
  std::string promotion;        // empty until succeeded; then one of kPromotion*
  std::int64_t deployment = 0;  // the rollout of a promotion
  std::string promotion_note;

  Json to_json() const;
  static Result<RetrainJob> from_json(const Json& json);
};

// A worker's claim and its lease: the job, and how long the lease lasts
// unless renewed by a heartbeat.
struct JobLease {
  RetrainJob job;
  std::int64_t lease_s = 0;

  Json to_json() const;
  static Result<JobLease> from_json(const Json& json);
};

// The end of a worker's run of a job.
struct JobOutcome {
  std::string worker;
  std::string run_id;
  int exit_code = 0;  // the pipeline's: 0 published; 1 a gate refused (with gate_failed); other: failed
  bool gate_failed = false;
  std::string message;  // the failed step or gate, one line
  // The runs earlier attempts of the job left in its workspace: one killed
  // after publishing may have published the version this run found uploaded.
  std::vector<std::string> earlier_runs;

  Json to_json() const;
  static Result<JobOutcome> from_json(const Json& json);
};

}  // namespace canopy::api
