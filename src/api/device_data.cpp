#include "api/device_data.h"

#include <cmath>

#include "api/fields.h"
#include "api/samples.h"
#include "common/enum_names.h"

namespace canopy::api {

namespace {

constexpr EnumNames<Stream, 7> kStreamNames = {{
    {Stream::kAlerts, "alerts"},
    {Stream::kActuations, "actuations"},
    {Stream::kReadings, "readings"},
    {Stream::kPlants, "plants"},
    {Stream::kTelemetry, "telemetry"},
    {Stream::kImages, "images"},
    {Stream::kSamples, "samples"},
}};

Result<double> read_finite(const Json& json, std::string_view field) {
  CANOPY_ASSIGN_OR_RETURN(double value, json_get<double>(json, field));
  if (!std::isfinite(value)) return bad_field(field, "must be a finite number");
  return value;
}

Result<std::optional<double>> read_optional_finite(const Json& json, std::string_view field) {
  if (!optional_member(json, field)) return std::optional<double>();
  CANOPY_ASSIGN_OR_RETURN(double value, read_finite(json, field));
  return std::optional<double>(value);
}

Result<std::string> read_one_of(const Json& json, std::string_view field,
                                std::initializer_list<std::string_view> allowed) {
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_string(json, field, 32));
  for (std::string_view name : allowed)
    if (text == name) return text;
  std::string list;
  for (std::string_view name : allowed) list += (list.empty() ? "" : ", ") + std::string(name);
  return bad_field(field, "'" + text + "' must be one of " + list);
}

Json optional_json(const std::optional<double>& value) { return value ? Json(*value) : Json(nullptr); }

template <typename Body>
Status parses_as(const Json& json) {
  auto parsed = Body::from_json(json);
  if (!parsed.ok()) return parsed.error();
  return {};
}

Status check_body(Stream stream, const Json& body) {
  switch (stream) {
    case Stream::kAlerts:
      return parses_as<AlertEvent>(body);
    case Stream::kActuations:
      return parses_as<ActuationEvent>(body);
    case Stream::kReadings:
      return parses_as<Reading>(body);
    case Stream::kPlants:
      return parses_as<PlantChangeEvent>(body);
    case Stream::kTelemetry:
      return parses_as<Telemetry>(body);
    case Stream::kImages:
      return parses_as<FrameImage>(body);
    case Stream::kSamples:
      return parses_as<Sample>(body);
  }
  return make_error(ErrorCode::kInvalidArgument, "unknown stream");
}

}  // namespace

std::string_view stream_name(Stream stream) { return enum_name(kStreamNames, stream); }
std::optional<Stream> parse_stream(std::string_view text) { return enum_value(kStreamNames, text); }

Json Reading::to_json() const {
  return {{"sensor", sensor}, {"kind", kind},    {"unit", unit}, {"value", optional_json(value)},
          {"status", status}, {"reason", reason}};
}

Result<Reading> Reading::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "reading"));
  Reading r;
  CANOPY_ASSIGN_OR_RETURN(r.sensor, read_string(json, "sensor", 64));
  CANOPY_ASSIGN_OR_RETURN(r.kind, read_string(json, "kind", 64));
  CANOPY_ASSIGN_OR_RETURN(r.unit, read_string(json, "unit", 16, ""));
  CANOPY_ASSIGN_OR_RETURN(r.value, read_optional_finite(json, "value"));
  CANOPY_ASSIGN_OR_RETURN(r.status, read_string(json, "status", 32, "valid"));
  CANOPY_ASSIGN_OR_RETURN(r.reason, read_string(json, "reason", 512, ""));
  if (r.sensor.empty()) return bad_field("sensor", "must not be empty");
  if (r.status == "valid" && !r.value) return bad_field("value", "must be set on a valid reading");
  return r;
}

Json AlertEvent::to_json() const {
  return {{"zone", zone},         {"condition", condition}, {"subject", subject}, {"raised", raised},
          {"severity", severity}, {"plants", plants},       {"message", message}};
}

Result<AlertEvent> AlertEvent::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "alert"));
  AlertEvent a;
  CANOPY_ASSIGN_OR_RETURN(a.zone, read_string(json, "zone", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(a.condition,
                          read_one_of(json, "condition", {"diseased", "water-stressed", "sensor", "config"}));
  CANOPY_ASSIGN_OR_RETURN(a.subject, read_string(json, "subject", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(a.raised, json_get<bool>(json, "raised"));
  CANOPY_ASSIGN_OR_RETURN(a.severity, read_one_of(json, "severity", {"critical", "warning", "info"}));
  CANOPY_ASSIGN_OR_RETURN(a.plants, json_get_or<int>(json, "plants", 0));
  CANOPY_ASSIGN_OR_RETURN(a.message, read_string(json, "message", 512, ""));
  const bool device_alert = a.condition == "sensor" || a.condition == "config";
  if (device_alert && a.subject.empty())
    return bad_field("subject", "must name what a " + a.condition + " alert is about");
  if (!device_alert && a.zone.empty()) return bad_field("zone", "must name the zone of a plant alert");
  if (a.plants < 0) return bad_field("plants", "must not be negative");
  return a;
}

Json ActuationEvent::to_json() const {
  return {{"zone", zone}, {"open", open}, {"reason", reason}, {"theta", optional_json(theta)}};
}

Result<ActuationEvent> ActuationEvent::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "actuation"));
  ActuationEvent a;
  CANOPY_ASSIGN_OR_RETURN(a.zone, read_string(json, "zone", 64));
  CANOPY_ASSIGN_OR_RETURN(a.open, json_get<bool>(json, "open"));
  CANOPY_ASSIGN_OR_RETURN(a.reason, read_string(json, "reason", 512, ""));
  CANOPY_ASSIGN_OR_RETURN(a.theta, read_optional_finite(json, "theta"));
  if (a.zone.empty()) return bad_field("zone", "must not be empty");
  return a;
}

Json PlantChangeEvent::to_json() const {
  return {{"camera", camera}, {"zone", zone}, {"plant_id", plant_id}, {"cx", cx}, {"cy", cy},
          {"from", from},     {"to", to}};
}

Result<PlantChangeEvent> PlantChangeEvent::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "plant change"));
  PlantChangeEvent p;
  CANOPY_ASSIGN_OR_RETURN(p.camera, read_string(json, "camera", 64));
  CANOPY_ASSIGN_OR_RETURN(p.zone, read_string(json, "zone", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(p.plant_id, json_get<int>(json, "plant_id"));
  CANOPY_ASSIGN_OR_RETURN(p.cx, read_finite(json, "cx"));
  CANOPY_ASSIGN_OR_RETURN(p.cy, read_finite(json, "cy"));
  const std::initializer_list<std::string_view> states = {"healthy", "diseased", "water-stressed"};
  CANOPY_ASSIGN_OR_RETURN(p.from, read_one_of(json, "from", states));
  CANOPY_ASSIGN_OR_RETURN(p.to, read_one_of(json, "to", states));
  return p;
}

Json Telemetry::to_json() const {
  Json out = {{"period_s", period_s}, {"values", values}, {"confidence_histogram", confidence_histogram}};
  if (!model.empty()) out["model"] = model;
  if (!field.empty()) out["field"] = field;
  return out;
}

Result<Telemetry> Telemetry::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "telemetry"));
  Telemetry t;
  CANOPY_ASSIGN_OR_RETURN(t.period_s, json_get<std::int64_t>(json, "period_s"));
  CANOPY_ASSIGN_OR_RETURN(Json values, json_get<Json>(json, "values"));
  if (!values.is_object() || values.size() > 512)
    return bad_field("values", "must be an object of at most 512 names to numbers");
  for (const auto& [name, value] : values.items()) {
    if (name.empty() || name.size() > 128 || !value.is_number() || !std::isfinite(value.get<double>()))
      return bad_field("values", "'" + name.substr(0, 128) + "' must be a finite number with a short name");
    t.values[name] = value.get<double>();
  }
  auto histogram = json_get<std::vector<std::int64_t>>(json, "confidence_histogram");
  if (!histogram.ok() || histogram->size() != t.confidence_histogram.size())
    return bad_field("confidence_histogram", "must be 10 counts");
  for (std::size_t i = 0; i < histogram->size(); ++i) {
    if ((*histogram)[i] < 0) return bad_field("confidence_histogram", "counts must not be negative");
    t.confidence_histogram[i] = (*histogram)[i];
  }
  if (t.period_s < 0) return bad_field("period_s", "must not be negative");
  CANOPY_ASSIGN_OR_RETURN(t.model, read_string(json, "model", 160, ""));
  CANOPY_ASSIGN_OR_RETURN(t.field, read_string(json, "field", 64, ""));
  return t;
}

Json FrameImage::to_json() const {
  return {
      {"camera", camera}, {"reason", reason}, {"width", width}, {"height", height}, {"jpeg", jpeg_base64}};
}

Result<FrameImage> FrameImage::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "image"));
  FrameImage f;
  CANOPY_ASSIGN_OR_RETURN(f.camera, read_string(json, "camera", 64));
  CANOPY_ASSIGN_OR_RETURN(f.reason, read_string(json, "reason", 256, ""));
  CANOPY_ASSIGN_OR_RETURN(f.width, json_get<int>(json, "width"));
  CANOPY_ASSIGN_OR_RETURN(f.height, json_get<int>(json, "height"));
  CANOPY_ASSIGN_OR_RETURN(f.jpeg_base64, read_string(json, "jpeg", kMaxImageBase64));
  if (f.width <= 0 || f.height <= 0 || f.width > 8192 || f.height > 8192)
    return bad_field("width", "and height must be between 1 and 8192");
  if (f.jpeg_base64.empty()) return bad_field("jpeg", "must not be empty");
  return f;
}

Json DeviceRecord::to_json() const {
  return {{"stream", stream_name(stream)}, {"seq", seq}, {"at_ms", at_ms}, {"body", body}};
}

Result<DeviceRecord> DeviceRecord::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "record"));
  DeviceRecord r;
  CANOPY_ASSIGN_OR_RETURN(std::string stream, read_string(json, "stream", 32));
  auto parsed = parse_stream(stream);
  if (!parsed)
    return bad_field(
        "stream",
        "'" + stream + "' must be alerts, actuations, readings, plants, telemetry, images or samples");
  r.stream = *parsed;
  CANOPY_ASSIGN_OR_RETURN(r.seq, json_get<std::int64_t>(json, "seq"));
  CANOPY_ASSIGN_OR_RETURN(r.at_ms, json_get<std::int64_t>(json, "at_ms"));
  CANOPY_ASSIGN_OR_RETURN(r.body, json_get<Json>(json, "body"));
  if (r.seq < 1) return bad_field("seq", "must be at least 1");
  if (r.at_ms < 0) return bad_field("at_ms", "must not be negative");
  Status body = check_body(r.stream, r.body);
  if (!body.ok()) return body.error().with_context(stream + " record " + std::to_string(r.seq));
  return r;
}

Json RecordBatch::to_json() const {
  Json list = Json::array();
  for (const DeviceRecord& record : records) list.push_back(record.to_json());
  return {{"records", std::move(list)}};
}

Result<RecordBatch> RecordBatch::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "request body"));
  CANOPY_ASSIGN_OR_RETURN(Json list, json_get<Json>(json, "records"));
  if (!list.is_array()) return bad_field("records", "must be an array");
  if (list.size() > kMaxRecordsPerBatch)
    return bad_field("records", "holds more than " + std::to_string(kMaxRecordsPerBatch) + " records");
  RecordBatch batch;
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto record = DeviceRecord::from_json(list[i]);
    if (!record.ok()) return record.error().with_context("records[" + std::to_string(i) + "]");
    batch.records.push_back(std::move(*record));
  }
  return batch;
}

Json RecordAck::to_json() const {
  Json out = Json::object();
  for (const auto& [stream, seq] : acked) out[std::string(stream_name(stream))] = seq;
  return {{"acked", std::move(out)}};
}

Result<RecordAck> RecordAck::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "record acknowledgement"));
  CANOPY_ASSIGN_OR_RETURN(Json acked, json_get<Json>(json, "acked"));
  if (!acked.is_object()) return bad_field("acked", "must be an object of streams to sequence numbers");
  RecordAck ack;
  for (const auto& [name, seq] : acked.items()) {
    auto stream = parse_stream(name);
    if (!stream || !seq.is_number_integer())
      return bad_field("acked", "names an unknown stream '" + name + "'");
    ack.acked[*stream] = seq.get<std::int64_t>();
  }
  return ack;
}

}  // namespace canopy::api
