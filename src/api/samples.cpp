#include "api/samples.h"

#include <charconv>
#include <cmath>

#include "api/field_data.h"
#include "api/fields.h"
#include "common/text.h"

namespace canopy::api {

namespace {

Result<double> read_unit(const Json& json, std::string_view field) {
  CANOPY_ASSIGN_OR_RETURN(double value, json_get<double>(json, field));
  if (!std::isfinite(value) || value < 0 || value > 1)
    return bad_field(field, "must be a number from 0 to 1");
  return value;
}

Result<std::int64_t> parse_number(const std::string& text, std::string_view name) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0)
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(name) + " '" + text + "' must be a whole number of at least 0");
  return value;
}

}  // namespace

Result<std::vector<SampleBox>> boxes_from_json(const Json& json, std::string_view field) {
  const Json* boxes = optional_member(json, field);
  std::vector<SampleBox> out;
  if (!boxes) return out;
  if (!boxes->is_array()) return bad_field(field, "must be an array of boxes");
  if (boxes->size() > kMaxSampleBoxes)
    return bad_field(field, "holds more than " + std::to_string(kMaxSampleBoxes) + " boxes");
  for (std::size_t i = 0; i < boxes->size(); ++i) {
    auto box = SampleBox::from_json((*boxes)[i]);
    if (!box.ok())
      return make_error(box.error().code,
                        std::string(field) + "[" + std::to_string(i) + "]: " + box.error().message);
    out.push_back(std::move(*box));
  }
  return out;
}

Json boxes_to_json(const std::vector<SampleBox>& boxes) {
  Json out = Json::array();
  for (const SampleBox& box : boxes) out.push_back(box.to_json());
  return out;
}

Json SampleBox::to_json() const {
  return {{"label", label}, {"score", score}, {"x1", x1}, {"y1", y1}, {"x2", x2}, {"y2", y2}};
}

Result<SampleBox> SampleBox::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "box"));
  SampleBox b;
  CANOPY_ASSIGN_OR_RETURN(b.label, read_string(json, "label", 64));
  CANOPY_ASSIGN_OR_RETURN(b.score, read_unit(json, "score"));
  CANOPY_ASSIGN_OR_RETURN(b.x1, read_unit(json, "x1"));
  CANOPY_ASSIGN_OR_RETURN(b.y1, read_unit(json, "y1"));
  CANOPY_ASSIGN_OR_RETURN(b.x2, read_unit(json, "x2"));
  CANOPY_ASSIGN_OR_RETURN(b.y2, read_unit(json, "y2"));
  if (b.label.empty()) return bad_field("label", "must not be empty");
  if (b.x2 < b.x1 || b.y2 < b.y1) return bad_field("x2", "and y2 must not be less than x1 and y1");
  return b;
}

Json SampleReason::to_json() const { return {{"strategy", strategy}, {"score", score}, {"detail", detail}}; }

Result<SampleReason> SampleReason::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "reason"));
  SampleReason r;
  CANOPY_ASSIGN_OR_RETURN(r.strategy, read_string(json, "strategy", 32));
  CANOPY_ASSIGN_OR_RETURN(r.score, read_unit(json, "score"));
  CANOPY_ASSIGN_OR_RETURN(r.detail, read_string(json, "detail", 256, ""));
  if (r.strategy.empty()) return bad_field("strategy", "must not be empty");
  return r;
}

std::string sample_id(std::string_view device_id, std::string_view camera, std::int64_t captured_ms) {
  return std::string(device_id) + "/" + std::string(camera) + "/" + std::to_string(captured_ms);
}

Json Sample::to_json() const {
  Json reasons_json = Json::array();
  for (const SampleReason& reason : reasons) reasons_json.push_back(reason.to_json());
  Json out = {{"id", id},
              {"field", field},
              {"camera", camera},
              {"zone", zone},
              {"captured_ms", captured_ms},
              {"model", model},
              {"predictions", boxes_to_json(predictions)},
              {"sensors", sensors},
              {"reasons", reasons_json},
              {"random", random},
              {"phash", phash},
              {"width", width},
              {"height", height}};
  if (shadow_predictions) {
    out["shadow_predictions"] = boxes_to_json(*shadow_predictions);
    out["shadow_model"] = shadow_model;
  }
  if (!jpeg_base64.empty()) out["jpeg"] = jpeg_base64;
  return out;
}

Result<Sample> Sample::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "sample"));
  Sample s;
  CANOPY_ASSIGN_OR_RETURN(s.id, read_string(json, "id", 256));
  CANOPY_ASSIGN_OR_RETURN(s.field, read_string(json, "field", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(s.camera, read_string(json, "camera", 64));
  CANOPY_ASSIGN_OR_RETURN(s.zone, read_string(json, "zone", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(s.captured_ms, json_get<std::int64_t>(json, "captured_ms"));
  CANOPY_ASSIGN_OR_RETURN(s.model, read_string(json, "model", 256, ""));
  CANOPY_ASSIGN_OR_RETURN(s.predictions, boxes_from_json(json, "predictions"));
  if (optional_member(json, "shadow_predictions")) {
    CANOPY_ASSIGN_OR_RETURN(s.shadow_predictions, boxes_from_json(json, "shadow_predictions"));
    CANOPY_ASSIGN_OR_RETURN(s.shadow_model, read_string(json, "shadow_model", 256, ""));
  }
  if (const Json* sensors = optional_member(json, "sensors")) {
    if (!sensors->is_object() || sensors->size() > 64)
      return bad_field("sensors", "must be an object of at most 64 sensor names to numbers");
    for (const auto& [name, value] : sensors->items()) {
      if (name.empty() || name.size() > 64 || !value.is_number() || !std::isfinite(value.get<double>()))
        return bad_field("sensors",
                         "'" + name + "' must be a sensor name of 1-64 characters with a finite number");
      s.sensors[name] = value.get<double>();
    }
  }
  const Json* reasons = optional_member(json, "reasons");
  if (!reasons || !reasons->is_array() || reasons->empty() || reasons->size() > 16)
    return bad_field("reasons", "must be an array of 1-16 reasons");
  for (const Json& reason : *reasons) {
    CANOPY_ASSIGN_OR_RETURN(SampleReason parsed, SampleReason::from_json(reason));
    s.reasons.push_back(std::move(parsed));
  }
  CANOPY_ASSIGN_OR_RETURN(s.random, json_get<bool>(json, "random"));
  CANOPY_ASSIGN_OR_RETURN(s.phash, read_string(json, "phash", 16, ""));
  CANOPY_ASSIGN_OR_RETURN(s.width, json_get<int>(json, "width"));
  CANOPY_ASSIGN_OR_RETURN(s.height, json_get<int>(json, "height"));
  CANOPY_ASSIGN_OR_RETURN(s.jpeg_base64, read_string(json, "jpeg", kMaxSampleJpegBase64, ""));
  if (s.id.empty() || s.camera.empty()) return bad_field("id", "and camera must not be empty");
  // A camera's name as the device's field configuration allows it: the
  // sample id, and so the URL path that names it, then needs no escaping.
  if (!is_plain_name(s.camera, 64, "_-", "_"))
    return bad_field("camera", "must be letters, digits, '-' and '_' (at most 64)");
  if (s.captured_ms < 0) return bad_field("captured_ms", "must not be negative");
  if (s.width <= 0 || s.height <= 0 || s.width > 8192 || s.height > 8192)
    return bad_field("width", "and height must be between 1 and 8192");
  return s;
}

Json StoredSample::to_json() const {
  Json out = sample.to_json();
  out.erase("jpeg");
  out["device_id"] = device_id;
  out["image_sha256"] = image_sha256;
  out["image_bytes"] = image_bytes;
  out["received_at"] = received_at;
  out["label_state"] = label_state;
  return out;
}

Result<StoredSample> StoredSample::from_json(const Json& json) {
  StoredSample s;
  CANOPY_ASSIGN_OR_RETURN(s.sample, Sample::from_json(json));
  CANOPY_ASSIGN_OR_RETURN(s.device_id, read_string(json, "device_id", 128));
  CANOPY_ASSIGN_OR_RETURN(s.image_sha256, read_string(json, "image_sha256", 64));
  CANOPY_ASSIGN_OR_RETURN(s.image_bytes, json_get<std::int64_t>(json, "image_bytes"));
  CANOPY_ASSIGN_OR_RETURN(s.received_at, read_string(json, "received_at", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(s.label_state, read_string(json, "label_state", 32, "unlabeled"));
  return s;
}

Result<SampleQuery> SampleQuery::from_params(const std::map<std::string, std::string>& params) {
  SampleQuery q;
  for (const auto& [name, value] : params) {
    if (name == "device")
      q.device_id = value;
    else if (name == "field")
      q.field = value;
    else if (name == "camera")
      q.camera = value;
    else if (name == "strategy")
      q.strategy = value;
    else if (name == "model")
      q.model = value;
    else if (name == "class")
      q.predicted_class = value;
    else if (name == "before")
      q.before = value;
    else if (name == "min_score") {
      char* end = nullptr;
      q.min_score = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(q.min_score >= 0 && q.min_score <= 1))
        return make_error(ErrorCode::kInvalidArgument,
                          "min_score '" + value + "' must be a number from 0 to 1");
    } else if (name == "random") {
      if (value != "true" && value != "false")
        return make_error(ErrorCode::kInvalidArgument, "random '" + value + "' must be true or false");
      q.random = value == "true";
    } else if (name == "since_ms") {
      CANOPY_ASSIGN_OR_RETURN(q.since_ms, parse_number(value, "since_ms"));
    } else if (name == "until_ms") {
      CANOPY_ASSIGN_OR_RETURN(q.until_ms, parse_number(value, "until_ms"));
    } else if (name == "limit") {
      CANOPY_ASSIGN_OR_RETURN(std::int64_t limit, parse_number(value, "limit"));
      if (limit < 1 || limit > kMaxRowsPerRead)
        return make_error(ErrorCode::kInvalidArgument,
                          "limit '" + value + "' must be from 1 to " + std::to_string(kMaxRowsPerRead));
      q.limit = static_cast<int>(limit);
    } else {
      return make_error(ErrorCode::kInvalidArgument,
                        "unknown query parameter '" + name +
                            "': device, field, camera, strategy, model, class, min_score, random, since_ms, "
                            "until_ms, before and limit are known");
    }
  }
  return q;
}

std::map<std::string, std::string> SampleQuery::to_params() const {
  std::map<std::string, std::string> p;
  auto put = [&](const char* name, const std::string& value) {
    if (!value.empty()) p[name] = value;
  };
  put("device", device_id);
  put("field", field);
  put("camera", camera);
  put("strategy", strategy);
  put("model", model);
  put("class", predicted_class);
  put("before", before);
  if (min_score > 0) p["min_score"] = std::to_string(min_score);
  if (random) p["random"] = *random ? "true" : "false";
  if (since_ms > 0) p["since_ms"] = std::to_string(since_ms);
  if (until_ms) p["until_ms"] = std::to_string(*until_ms);
  if (limit != 100) p["limit"] = std::to_string(limit);
  return p;
}

Json SampleStats::to_json() const {
  return {{"samples", samples},
          {"bytes", bytes},
          {"random", random},
          {"by_strategy", by_strategy},
          {"by_device", by_device},
          {"by_predicted_class", by_predicted_class},
          {"shadow_agreement", shadow_agreement}};
}

Result<SampleStats> SampleStats::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "sample stats"));
  SampleStats s;
  try {
    s.samples = json.at("samples").get<std::int64_t>();
    s.bytes = json.at("bytes").get<std::int64_t>();
    s.random = json.at("random").get<std::int64_t>();
    s.by_strategy = json.at("by_strategy").get<std::map<std::string, std::int64_t>>();
    s.by_device = json.at("by_device").get<std::map<std::string, std::int64_t>>();
    s.by_predicted_class = json.at("by_predicted_class").get<std::map<std::string, std::int64_t>>();
    s.shadow_agreement = json.at("shadow_agreement").get<std::map<std::string, double>>();
  } catch (const Json::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, std::string("sample stats: ") + e.what());
  }
  return s;
}

}  // namespace canopy::api
