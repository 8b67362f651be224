// The labeling queue (docs/labeling.md): every sample in the sample store is
// a task; people take the next one, confirm or correct the model's boxes,
// and a reviewer accepts or sends back. Two people never hold the same task:
// `next` leases it to one caller for `lease_ms`, and a lease left to expire
// (a closed browser) returns the task to the queue. Every change is a
// revision kept for good, with who, when, what it started from and how the
// boxes changed; the corrections of the latest labels, by model version and
// field, are the deployed models' live accuracy.
//
// Order: the sample's highest selection score, plus a boost for samples
// whose top pre-label is a class the labels so far show little of (class
// balance), oldest first among equals.
//
// The queue reads the sample store through SampleSource (it never touches
// the store's tables): new samples become tasks when the queue is next
// asked, read forward from the last sample it saw.
//
// Thread-safety: every public method may be called from any thread; the
// area's mutex guards its connection. Lock order: this area, then the
// sample store.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/labeling.h"
#include "common/clock.h"
#include "common/error.h"
#include "server/storage/sqlite.h"

namespace canopy::server {

// What the queue needs of the sample store.
class SampleSource {
 public:
  struct Sequenced {
    std::int64_t sequence = 0;
    api::StoredSample sample;
  };
  virtual ~SampleSource() = default;
  // At most `limit` samples stored after `sequence`, in order of arrival.
  virtual Result<std::vector<Sequenced>> stored_after(std::int64_t sequence, int limit) = 0;
  // kNotFound for a sample retention removed.
  virtual Result<api::StoredSample> sample(const std::string& id) = 0;
  // Tells the store a sample's labeling state (labeled samples are kept).
  virtual Status set_label_state(const std::string& id, const std::string& state) = 0;
};

// A task's latest labels, for dataset versions.
struct LabeledTask {
  std::string sample_id;
  std::string state;  // labeled or reviewed
  std::vector<api::SampleBox> labels;
  std::string labeled_by;
  std::string device_id;
  std::string field;
};

struct LabelQueueOptions {
  std::int64_t lease_ms = 15 * 60'000;
};

class LabelQueue {
 public:
  // Migrates the area's tables on `db`; `source` and `clock` must outlive it.
  static Result<std::unique_ptr<LabelQueue>> open(Database db, SampleSource& source, Clock& clock,
                                                  LabelQueueOptions options = {});

  // The task `actor` holds, if any; otherwise the first open task that
  // passes `filter`, leased to `actor`. nullopt when none is left.
  Result<std::optional<api::LabelTask>> next(const std::string& actor, const api::TaskFilter& filter);
  // kNotFound for an unknown sample.
  Result<api::LabelTask> task(const std::string& sample_id);
  // Stores the person's boxes as a new revision; the task becomes labeled.
  // kConflict while another person holds the task's lease.
  Result<api::LabelTask> submit(const std::string& sample_id, const std::string& actor,
                                const api::LabelSubmission& submission);
  // Skip: not now (leaves the queue until someone opens it again). Reject:
  // unusable (blurred, not a field), with why. Release: give the lease back.
  Result<api::LabelTask> skip(const std::string& sample_id, const std::string& actor);
  Result<api::LabelTask> reject(const std::string& sample_id, const std::string& actor,
                                const std::string& why);
  Result<api::LabelTask> release(const std::string& sample_id, const std::string& actor);
  // Accepts a labeled task (reviewed) or sends it back to the queue with
  // `note`. A labeler's own labels are reviewed by someone else
  // (kPermissionDenied); only labeled tasks are reviewed (kConflict).
  Result<api::LabelTask> review(const std::string& sample_id, const std::string& actor, bool accept,
                                const std::string& note);
  Result<std::vector<api::LabelRevision>> revisions(const std::string& sample_id);
  Result<api::LabelingStats> stats();
  // How many tasks are in each state, a lease that ran out counting as
  // unlabeled (as stats() does); one query on the state index, after the
  // samples stored since the last look are taken in, for monitoring.
  Result<std::map<std::string, std::int64_t>> count_by_state();
  // Every labeled (and reviewed) task, or only reviewed ones; of `field`
  // unless empty. In sample id order.
  Result<std::vector<LabeledTask>> labeled(const std::string& field, bool reviewed_only);
  // How many tasks labeled() would answer.
  Result<std::int64_t> labeled_count(const std::string& field, bool reviewed_only);

 private:
  LabelQueue(Database db, SampleSource& source, Clock& clock, LabelQueueOptions options)
      : db_(std::move(db)), source_(source), clock_(clock), options_(options) {}
  // Caller holds mutex_: makes tasks of the samples stored since the last call.
  Status sync_locked();
  // Tasks by the state people see. Caller holds mutex_.
  Result<std::map<std::string, std::int64_t>> count_by_state_locked();
  Result<api::LabelTask> task_locked(const std::string& sample_id);
  // Caller holds mutex_: the open task `next` hands out, if any.
  Result<std::optional<std::string>> best_open_locked(const api::TaskFilter& filter);
  // Caller holds mutex_ and has just read `before`: appends `revision` (its
  // number set here), moves the task to `state` and gives up its lease, in
  // one transaction.
  Result<api::LabelTask> change_locked(const api::LabelTask& before, api::LabelRevision revision,
                                       const std::string& state);
  // Caller holds mutex_: kConflict when someone other than `actor` holds the lease.
  Status check_not_held_by_other_locked(const api::LabelTask& task, const std::string& actor);

  std::mutex mutex_;  // guards db_
  Database db_;
  SampleSource& source_;
  Clock& clock_;
  const LabelQueueOptions options_;
  std::set<std::string> top_classes_;  // every task's top pre-label class, for the walk per class
};

}  // namespace canopy::server
