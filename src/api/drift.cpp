#include "api/drift.h"

#include <cstdio>

#include "api/fields.h"

namespace canopy::api {

namespace {

Result<ConfidenceHistogram> read_histogram(const Json& json, std::string_view field) {
  auto counts = json_get<std::vector<std::int64_t>>(json, field);
  ConfidenceHistogram out{};
  if (!counts.ok() || counts->size() != out.size()) return bad_field(field, "must be 10 counts");
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = (*counts)[i];
  return out;
}

}  // namespace

Json DriftMeasure::to_json() const {
  return {{"name", name},
          {"value", value ? Json(*value) : Json()},
          {"threshold", threshold},
          {"drifted", drifted},
          {"note", note}};
}

Result<DriftMeasure> DriftMeasure::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "drift measure"));
  DriftMeasure m;
  CANOPY_ASSIGN_OR_RETURN(m.name, read_string(json, "name", 32));
  if (const Json* value = optional_member(json, "value")) {
    if (!value->is_number()) return bad_field("value", "must be a number or null");
    m.value = value->get<double>();
  }
  CANOPY_ASSIGN_OR_RETURN(m.threshold, json_get<double>(json, "threshold"));
  CANOPY_ASSIGN_OR_RETURN(m.drifted, json_get<bool>(json, "drifted"));
  CANOPY_ASSIGN_OR_RETURN(m.note, read_string(json, "note", 1024, ""));
  return m;
}

bool DriftReport::drifted() const {
  for (const DriftMeasure& m : measures)
    if (m.drifted) return true;
  return false;
}

Json DriftReport::to_json() const {
  Json list = Json::array();
  for (const DriftMeasure& m : measures) list.push_back(m.to_json());
  return {{"model", model},
          {"field", field},
          {"reference_from", reference_from},
          {"reference_to", reference_to},
          {"current_from", current_from},
          {"current_to", current_to},
          {"reference", reference},
          {"current", current},
          {"drifted", drifted()},
          {"measures", list}};
}

Result<DriftReport> DriftReport::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "drift report"));
  DriftReport r;
  CANOPY_ASSIGN_OR_RETURN(r.model, read_string(json, "model", 160));
  CANOPY_ASSIGN_OR_RETURN(r.field, read_string(json, "field", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(r.reference_from, read_string(json, "reference_from", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(r.reference_to, read_string(json, "reference_to", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(r.current_from, read_string(json, "current_from", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(r.current_to, read_string(json, "current_to", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(r.reference, read_histogram(json, "reference"));
  CANOPY_ASSIGN_OR_RETURN(r.current, read_histogram(json, "current"));
  const Json* measures = optional_member(json, "measures");
  if (measures && !measures->is_array()) return bad_field("measures", "must be a list");
  if (measures)
    for (const Json& m : *measures) {
      CANOPY_ASSIGN_OR_RETURN(DriftMeasure measure, DriftMeasure::from_json(m));
      r.measures.push_back(std::move(measure));
    }
  return r;
}

std::string DriftAlert::describe() const {
  char numbers[64];
  std::snprintf(numbers, sizeof numbers, " %.2f (threshold %.2f)", value, threshold);
  return (field.empty() ? std::string("every field") : field) + " " + measure + numbers;
}

Json DriftAlert::to_json() const {
  return {{"id", id},
          {"model", model},
          {"field", field},
          {"measure", measure},
          {"value", value},
          {"threshold", threshold},
          {"state", state},
          {"raised_at", raised_at},
          {"cleared_at", cleared_at},
          {"description", describe()}};
}

Result<DriftAlert> DriftAlert::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "drift alert"));
  DriftAlert a;
  CANOPY_ASSIGN_OR_RETURN(a.id, json_get<std::int64_t>(json, "id"));
  CANOPY_ASSIGN_OR_RETURN(a.model, read_string(json, "model", 160));
  CANOPY_ASSIGN_OR_RETURN(a.field, read_string(json, "field", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(a.measure, read_string(json, "measure", 32));
  CANOPY_ASSIGN_OR_RETURN(a.value, json_get<double>(json, "value"));
  CANOPY_ASSIGN_OR_RETURN(a.threshold, json_get<double>(json, "threshold"));
  CANOPY_ASSIGN_OR_RETURN(a.state, read_string(json, "state", 16));
  CANOPY_ASSIGN_OR_RETURN(a.raised_at, read_string(json, "raised_at", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(a.cleared_at, read_string(json, "cleared_at", 64, ""));
  return a;
}

}  // namespace canopy::api
