#include "api/labeling.h"

#include <cmath>

#include "api/fields.h"

namespace canopy::api {

namespace {

Result<std::int64_t> read_count(const Json& json, std::string_view field) {
  CANOPY_ASSIGN_OR_RETURN(std::int64_t value, json_get_or<std::int64_t>(json, field, 0));
  if (value < 0) return bad_field(field, "must not be negative");
  return value;
}

Result<double> read_threshold(const Json& json) {
  CANOPY_ASSIGN_OR_RETURN(double value, json_get_or<double>(json, "threshold", 0.5));
  if (!std::isfinite(value) || value < 0 || value > 1) return bad_field("threshold", "must be from 0 to 1");
  return value;
}

double share(std::int64_t part, std::int64_t whole) {
  return whole == 0 ? 1.0 : static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

Corrections& Corrections::operator+=(const Corrections& other) {
  accepted += other.accepted;
  moved += other.moved;
  relabeled += other.relabeled;
  deleted += other.deleted;
  added += other.added;
  return *this;
}

Json Corrections::to_json() const {
  return {{"accepted", accepted},
          {"moved", moved},
          {"relabeled", relabeled},
          {"deleted", deleted},
          {"added", added}};
}

Result<Corrections> Corrections::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "corrections"));
  Corrections c;
  CANOPY_ASSIGN_OR_RETURN(c.accepted, read_count(json, "accepted"));
  CANOPY_ASSIGN_OR_RETURN(c.moved, read_count(json, "moved"));
  CANOPY_ASSIGN_OR_RETURN(c.relabeled, read_count(json, "relabeled"));
  CANOPY_ASSIGN_OR_RETURN(c.deleted, read_count(json, "deleted"));
  CANOPY_ASSIGN_OR_RETURN(c.added, read_count(json, "added"));
  return c;
}

Json LabelSubmission::to_json() const {
  return {{"boxes", boxes_to_json(boxes)},
          {"started_from", started_from},
          {"threshold", threshold},
          {"spent_ms", spent_ms}};
}

Result<LabelSubmission> LabelSubmission::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "submission"));
  LabelSubmission s;
  if (!optional_member(json, "boxes")) return bad_field("boxes", "is required (an empty list for no boxes)");
  CANOPY_ASSIGN_OR_RETURN(s.boxes, boxes_from_json(json, "boxes"));
  CANOPY_ASSIGN_OR_RETURN(s.started_from, read_string(json, "started_from", 160, "prelabels"));
  CANOPY_ASSIGN_OR_RETURN(s.threshold, read_threshold(json));
  CANOPY_ASSIGN_OR_RETURN(s.spent_ms, read_count(json, "spent_ms"));
  for (SampleBox& box : s.boxes) box.score = 1;
  return s;
}

Json LabelRevision::to_json() const {
  return {{"revision", revision},
          {"kind", kind},
          {"actor", actor},
          {"at", at},
          {"started_from", started_from},
          {"threshold", threshold},
          {"boxes", boxes_to_json(boxes)},
          {"corrections", corrections.to_json()},
          {"spent_ms", spent_ms},
          {"note", note}};
}

Result<LabelRevision> LabelRevision::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "revision"));
  LabelRevision r;
  CANOPY_ASSIGN_OR_RETURN(r.revision, read_count(json, "revision"));
  CANOPY_ASSIGN_OR_RETURN(r.kind, read_string(json, "kind", 32));
  CANOPY_ASSIGN_OR_RETURN(r.actor, read_string(json, "actor", 160, ""));
  CANOPY_ASSIGN_OR_RETURN(r.at, read_string(json, "at", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(r.started_from, read_string(json, "started_from", 160, ""));
  CANOPY_ASSIGN_OR_RETURN(r.threshold, read_threshold(json));
  CANOPY_ASSIGN_OR_RETURN(r.boxes, boxes_from_json(json, "boxes"));
  if (const Json* corrections = optional_member(json, "corrections")) {
    CANOPY_ASSIGN_OR_RETURN(r.corrections, Corrections::from_json(*corrections));
  }
  CANOPY_ASSIGN_OR_RETURN(r.spent_ms, read_count(json, "spent_ms"));
  CANOPY_ASSIGN_OR_RETURN(r.note, read_string(json, "note", 1024, ""));
  return r;
}

Json LabelTask::to_json() const {
  return {{"sample_id", sample_id},
          {"state", state},
          {"leased_by", leased_by},
          {"lease_expires_at", lease_expires_at},
          {"revision", revision},
          {"labels", boxes_to_json(labels)},
          {"labeled_by", labeled_by},
          {"sample", sample.to_json()},
          {"previous_sample_id", previous_sample_id},
          {"previous_labels", boxes_to_json(previous_labels)}};
}

Result<LabelTask> LabelTask::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "task"));
  LabelTask t;
  CANOPY_ASSIGN_OR_RETURN(t.sample_id, read_string(json, "sample_id", 256));
  CANOPY_ASSIGN_OR_RETURN(t.state, read_string(json, "state", 32));
  CANOPY_ASSIGN_OR_RETURN(t.leased_by, read_string(json, "leased_by", 160, ""));
  CANOPY_ASSIGN_OR_RETURN(t.lease_expires_at, read_string(json, "lease_expires_at", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(t.revision, read_count(json, "revision"));
  CANOPY_ASSIGN_OR_RETURN(t.labels, boxes_from_json(json, "labels"));
  CANOPY_ASSIGN_OR_RETURN(t.labeled_by, read_string(json, "labeled_by", 160, ""));
  const Json* sample = optional_member(json, "sample");
  if (!sample) return bad_field("sample", "is required");
  CANOPY_ASSIGN_OR_RETURN(t.sample, StoredSample::from_json(*sample));
  CANOPY_ASSIGN_OR_RETURN(t.previous_sample_id, read_string(json, "previous_sample_id", 256, ""));
  CANOPY_ASSIGN_OR_RETURN(t.previous_labels, boxes_from_json(json, "previous_labels"));
  return t;
}

Json TaskFilter::to_json() const {
  Json out = Json::object();
  if (!field.empty()) out["field"] = field;
  if (!device_id.empty()) out["device"] = device_id;
  if (!strategy.empty()) out["strategy"] = strategy;
  if (!predicted_class.empty()) out["class"] = predicted_class;
  return out;
}

Result<TaskFilter> TaskFilter::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "filter"));
  TaskFilter f;
  CANOPY_ASSIGN_OR_RETURN(f.field, read_string(json, "field", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(f.device_id, read_string(json, "device", 128, ""));
  CANOPY_ASSIGN_OR_RETURN(f.strategy, read_string(json, "strategy", 32, ""));
  CANOPY_ASSIGN_OR_RETURN(f.predicted_class, read_string(json, "class", 64, ""));
  return f;
}

double ModelAccuracy::precision() const {
  return share(corrections.accepted + corrections.moved, corrections.proposed());
}

double ModelAccuracy::recall() const {
  return share(corrections.accepted + corrections.moved, corrections.final_boxes());
}

Json ModelAccuracy::to_json() const {
  return {{"model", model},           {"field", field},
          {"samples", samples},       {"corrections", corrections.to_json()},
          {"precision", precision()}, {"recall", recall()}};
}

Result<ModelAccuracy> ModelAccuracy::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "accuracy"));
  ModelAccuracy a;
  CANOPY_ASSIGN_OR_RETURN(a.model, read_string(json, "model", 160, ""));
  CANOPY_ASSIGN_OR_RETURN(a.field, read_string(json, "field", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(a.samples, read_count(json, "samples"));
  const Json* corrections = optional_member(json, "corrections");
  if (!corrections) return bad_field("corrections", "is required");
  CANOPY_ASSIGN_OR_RETURN(a.corrections, Corrections::from_json(*corrections));
  return a;
}

Json LabelingStats::to_json() const {
  Json accuracy_json = Json::array();
  for (const ModelAccuracy& a : accuracy) accuracy_json.push_back(a.to_json());
  return {{"by_state", by_state},
          {"boxes_by_class", boxes_by_class},
          {"accuracy", accuracy_json},
          {"median_spent_ms", median_spent_ms}};
}

Result<LabelingStats> LabelingStats::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "labeling stats"));
  LabelingStats s;
  CANOPY_ASSIGN_OR_RETURN(s.by_state,
                          (json_get_or<std::map<std::string, std::int64_t>>(json, "by_state", {})));
  CANOPY_ASSIGN_OR_RETURN(s.boxes_by_class,
                          (json_get_or<std::map<std::string, std::int64_t>>(json, "boxes_by_class", {})));
  if (const Json* accuracy = optional_member(json, "accuracy")) {
    if (!accuracy->is_array()) return bad_field("accuracy", "must be an array");
    for (const Json& item : *accuracy) {
      CANOPY_ASSIGN_OR_RETURN(ModelAccuracy a, ModelAccuracy::from_json(item));
      s.accuracy.push_back(std::move(a));
    }
  }
  CANOPY_ASSIGN_OR_RETURN(s.median_spent_ms, read_count(json, "median_spent_ms"));
  return s;
}

}  // namespace canopy::api
