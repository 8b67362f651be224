// The labeling queue (docs/labeling.md): every sample the devices kept is a
// task a person labels, starting from the model's boxes (the pre-labels).
// A task moves unlabeled -> in_progress (leased to one person) -> labeled
// -> reviewed, or to skipped or rejected (not usable: blurred, not a field);
// a reviewer may send a labeled task back to unlabeled. Every change is a
// revision that is never rewritten. Each type has one JSON form: to_json()
// writes it, from_json() reads it and names the field it gets wrong.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/samples.h"
#include "common/error.h"
#include "common/json.h"

namespace canopy::api {

// Task states, as stored and sent.
inline constexpr const char* kTaskUnlabeled = "unlabeled";
inline constexpr const char* kTaskInProgress = "in_progress";
inline constexpr const char* kTaskLabeled = "labeled";
inline constexpr const char* kTaskReviewed = "reviewed";
inline constexpr const char* kTaskSkipped = "skipped";
inline constexpr const char* kTaskRejected = "rejected";

// How a person's final boxes differ from what the model proposed (its boxes
// at or above the threshold the person labeled with): kept as proposed
// (IoU >= 0.9, same class), moved (IoU 0.5-0.9, same class), given another
// class (IoU >= 0.5), deleted (no final box matched) and added (no proposal
// matched). The deployed model's live accuracy is read off these.
struct Corrections {
  std::int64_t accepted = 0, moved = 0, relabeled = 0, deleted = 0, added = 0;

  std::int64_t proposed() const { return accepted + moved + relabeled + deleted; }
  std::int64_t final_boxes() const { return accepted + moved + relabeled + added; }
  Corrections& operator+=(const Corrections& other);
  Json to_json() const;
  static Result<Corrections> from_json(const Json& json);
};

// What a person sends when they finish a task.
struct LabelSubmission {
  std::vector<SampleBox> boxes;            // score is ignored (a person's box is certain)
  std::string started_from = "prelabels";  // "prelabels", "copy:SAMPLE_ID", "revision:N", "empty"
  double threshold = 0.5;                  // the pre-labels shown were those scored at least this
  std::int64_t spent_ms = 0;               // time on the task

  Json to_json() const;
  static Result<LabelSubmission> from_json(const Json& json);
};

// One change to a task, never rewritten.
struct LabelRevision {
  std::int64_t revision = 0;  // 1, 2, ... per task
  std::string kind;           // submit, skip, reject, review_accept, review_return
  std::string actor;          // the user or API key
  std::string at;             // UTC
  std::string started_from;   // submit only
  double threshold = 0.5;     // submit only
  std::vector<SampleBox> boxes;
  Corrections corrections;
  std::int64_t spent_ms = 0;
  std::string note;  // why a task was rejected or sent back

  Json to_json() const;
  static Result<LabelRevision> from_json(const Json& json);
};

// A task as the labeling page and the CLI see it.
struct LabelTask {
  std::string sample_id;
  std::string state = kTaskUnlabeled;
  std::string leased_by;          // in_progress only
  std::string lease_expires_at;   // in_progress only, UTC
  std::int64_t revision = 0;      // the latest revision; 0: never changed
  std::vector<SampleBox> labels;  // the latest submitted boxes
  std::string labeled_by;
  StoredSample sample;  // with the pre-labels (sample.predictions) and why it was kept
  // The camera's previous labeled image, for copying its boxes.
  std::string previous_sample_id;
  std::vector<SampleBox> previous_labels;

  Json to_json() const;
  static Result<LabelTask> from_json(const Json& json);
};

// Which tasks `next` may hand out; empty strings do not filter.
struct TaskFilter {
  std::string field;
  std::string device_id;
  std::string strategy;
  std::string predicted_class;  // the sample's top pre-label

  Json to_json() const;
  static Result<TaskFilter> from_json(const Json& json);
};

// The corrections of one model version in one field: its live accuracy.
struct ModelAccuracy {
  std::string model;  // NAME:VERSION, "" for frames judged by none
  std::string field;
  std::int64_t samples = 0;
  Corrections corrections;

  // Of the boxes proposed, the share a person kept (with its class); of the
  // final boxes, the share the model had proposed. 1 when there were none.
  double precision() const;
  double recall() const;
  Json to_json() const;
  static Result<ModelAccuracy> from_json(const Json& json);
};

struct LabelingStats {
  std::map<std::string, std::int64_t> by_state;
  std::map<std::string, std::int64_t> boxes_by_class;  // in the latest labels of labeled and reviewed tasks
  std::vector<ModelAccuracy> accuracy;
  std::int64_t median_spent_ms = 0;  // per submitted task

  Json to_json() const;
  static Result<LabelingStats> from_json(const Json& json);
};

}  // namespace canopy::api
