#include "api/field_data.h"

#include "api/fields.h"
#include "common/enum_names.h"

namespace canopy::api {

namespace {

constexpr EnumNames<AlertState, 3> kAlertStateNames = {{
    {AlertState::kOpen, "open"},
    {AlertState::kAcked, "acked"},
    {AlertState::kCleared, "cleared"},
}};

}  // namespace

template <typename Body>
Json StoredRecord<Body>::to_json() const {
  Json out = body.to_json();
  out["seq"] = seq;
  out["at_ms"] = at_ms;
  out["received_at"] = received_at;
  return out;
}

template <typename Body>
Result<StoredRecord<Body>> StoredRecord<Body>::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "stored record"));
  StoredRecord record;
  CANOPY_ASSIGN_OR_RETURN(record.seq, json_get<std::int64_t>(json, "seq"));
  CANOPY_ASSIGN_OR_RETURN(record.at_ms, json_get<std::int64_t>(json, "at_ms"));
  CANOPY_ASSIGN_OR_RETURN(record.received_at, read_string(json, "received_at", 32));
  CANOPY_ASSIGN_OR_RETURN(record.body, Body::from_json(json));
  return record;
}

template struct StoredRecord<Reading>;
template struct StoredRecord<Telemetry>;
template struct StoredRecord<ActuationEvent>;
template struct StoredRecord<PlantChangeEvent>;

std::string_view alert_state_name(AlertState state) { return enum_name(kAlertStateNames, state); }
std::optional<AlertState> parse_alert_state(std::string_view text) {
  return enum_value(kAlertStateNames, text);
}

Json Alert::to_json() const {
  return {{"id", id},
          {"device_id", device_id},
          {"zone", zone},
          {"condition", condition},
          {"subject", subject},
          {"severity", severity},
          {"plants", plants},
          {"message", message},
          {"state", alert_state_name(state)},
          {"raised_at_ms", raised_at_ms},
          {"cleared_at_ms", cleared_at_ms ? Json(*cleared_at_ms) : Json(nullptr)},
          {"acked_by", acked_by},
          {"acked_at", acked_at}};
}

Result<Alert> Alert::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "alert"));
  Alert a;
  CANOPY_ASSIGN_OR_RETURN(a.id, json_get<std::int64_t>(json, "id"));
  CANOPY_ASSIGN_OR_RETURN(a.device_id, read_string(json, "device_id", 64));
  CANOPY_ASSIGN_OR_RETURN(a.zone, read_string(json, "zone", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(a.condition, read_string(json, "condition", 32));
  CANOPY_ASSIGN_OR_RETURN(a.subject, read_string(json, "subject", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(a.severity, read_string(json, "severity", 32));
  CANOPY_ASSIGN_OR_RETURN(a.plants, json_get_or<int>(json, "plants", 0));
  CANOPY_ASSIGN_OR_RETURN(a.message, read_string(json, "message", 512, ""));
  CANOPY_ASSIGN_OR_RETURN(std::string state, read_string(json, "state", 32));
  auto parsed = parse_alert_state(state);
  if (!parsed) return bad_field("state", "'" + state + "' must be open, acked or cleared");
  a.state = *parsed;
  CANOPY_ASSIGN_OR_RETURN(a.raised_at_ms, json_get<std::int64_t>(json, "raised_at_ms"));
  if (optional_member(json, "cleared_at_ms")) {
    CANOPY_ASSIGN_OR_RETURN(a.cleared_at_ms, json_get<std::int64_t>(json, "cleared_at_ms"));
  }
  CANOPY_ASSIGN_OR_RETURN(a.acked_by, read_string(json, "acked_by", 128, ""));
  CANOPY_ASSIGN_OR_RETURN(a.acked_at, read_string(json, "acked_at", 32, ""));
  return a;
}

}  // namespace canopy::api
