#include "api/datasets.h"

#include <charconv>
#include <cmath>

#include "api/fields.h"

namespace canopy::api {

namespace {

Result<double> read_fraction(const Json& json, std::string_view field, double fallback) {
  CANOPY_ASSIGN_OR_RETURN(double value, json_get_or<double>(json, field, fallback));
  if (!std::isfinite(value) || value < 0 || value > 0.9) return bad_field(field, "must be from 0 to 0.9");
  return value;
}

using Counts = std::map<std::string, std::int64_t>;

}  // namespace

Json DatasetItem::to_json() const {
  return {{"sample_id", sample_id},   {"image_sha256", image_sha256},  {"width", width},
          {"height", height},         {"boxes", boxes_to_json(boxes)}, {"split", split},
          {"labeled_by", labeled_by}, {"device_id", device_id},        {"field", field}};
}

Result<DatasetItem> DatasetItem::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "dataset item"));
  DatasetItem item;
  CANOPY_ASSIGN_OR_RETURN(item.sample_id, read_string(json, "sample_id", 256));
  CANOPY_ASSIGN_OR_RETURN(item.image_sha256, read_string(json, "image_sha256", 64));
  CANOPY_ASSIGN_OR_RETURN(item.width, json_get<int>(json, "width"));
  CANOPY_ASSIGN_OR_RETURN(item.height, json_get<int>(json, "height"));
  CANOPY_ASSIGN_OR_RETURN(item.boxes, boxes_from_json(json, "boxes"));
  CANOPY_ASSIGN_OR_RETURN(item.split, read_string(json, "split", 8));
  CANOPY_ASSIGN_OR_RETURN(item.labeled_by, read_string(json, "labeled_by", 160, ""));
  CANOPY_ASSIGN_OR_RETURN(item.device_id, read_string(json, "device_id", 128, ""));
  CANOPY_ASSIGN_OR_RETURN(item.field, read_string(json, "field", 64, ""));
  return item;
}

Json DatasetVersionRequest::to_json() const {
  return {{"labels", labels},
          {"bases", bases},
          {"field", field},
          {"reviewed_only", reviewed_only},
          {"val_fraction", val_fraction},
          {"test_fraction", test_fraction}};
}

Result<DatasetVersionRequest> DatasetVersionRequest::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "dataset version request"));
  DatasetVersionRequest r;
  CANOPY_ASSIGN_OR_RETURN(r.labels, read_strings(json, "labels"));
  CANOPY_ASSIGN_OR_RETURN(r.bases, read_strings(json, "bases"));
  for (const std::string& base : r.bases) {
    auto ref = parse_dataset_ref(base);
    if (!ref.ok()) return bad_field("bases", ref.error().message);
  }
  CANOPY_ASSIGN_OR_RETURN(r.field, read_string(json, "field", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(r.reviewed_only, json_get_or<bool>(json, "reviewed_only", false));
  CANOPY_ASSIGN_OR_RETURN(r.val_fraction, read_fraction(json, "val_fraction", 0.2));
  CANOPY_ASSIGN_OR_RETURN(r.test_fraction, read_fraction(json, "test_fraction", 0.1));
  if (r.val_fraction + r.test_fraction > 0.9)
    return bad_field("test_fraction", "and val_fraction add up to more than 0.9");
  return r;
}

Json DatasetVersion::to_json() const {
  Json out = {{"name", name},
              {"version", version},
              {"created_at", created_at},
              {"created_by", created_by},
              {"sha256", sha256},
              {"request", request.to_json()},
              {"labels", labels},
              {"items", items},
              {"boxes_by_class", boxes_by_class},
              {"items_by_split", items_by_split},
              {"items_by_labeler", items_by_labeler},
              {"items_by_device", items_by_device}};
  if (!item_list.empty()) {
    Json rows = Json::array();
    for (const DatasetItem& item : item_list) rows.push_back(item.to_json());
    out["item_list"] = rows;
  }
  return out;
}

Result<DatasetVersion> DatasetVersion::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "dataset version"));
  DatasetVersion v;
  CANOPY_ASSIGN_OR_RETURN(v.name, read_string(json, "name", 128));
  CANOPY_ASSIGN_OR_RETURN(v.version, json_get<std::int64_t>(json, "version"));
  CANOPY_ASSIGN_OR_RETURN(v.created_at, read_string(json, "created_at", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(v.created_by, read_string(json, "created_by", 160, ""));
  CANOPY_ASSIGN_OR_RETURN(v.sha256, read_string(json, "sha256", 64, ""));
  if (const Json* request = optional_member(json, "request")) {
    CANOPY_ASSIGN_OR_RETURN(v.request, DatasetVersionRequest::from_json(*request));
  }
  CANOPY_ASSIGN_OR_RETURN(v.labels, read_strings(json, "labels"));
  CANOPY_ASSIGN_OR_RETURN(v.items, json_get_or<std::int64_t>(json, "items", 0));
  CANOPY_ASSIGN_OR_RETURN(v.boxes_by_class, json_get_or<Counts>(json, "boxes_by_class", {}));
  CANOPY_ASSIGN_OR_RETURN(v.items_by_split, json_get_or<Counts>(json, "items_by_split", {}));
  CANOPY_ASSIGN_OR_RETURN(v.items_by_labeler, json_get_or<Counts>(json, "items_by_labeler", {}));
  CANOPY_ASSIGN_OR_RETURN(v.items_by_device, json_get_or<Counts>(json, "items_by_device", {}));
  if (const Json* rows = optional_member(json, "item_list")) {
    if (!rows->is_array()) return bad_field("item_list", "must be a list");
    for (const Json& row : *rows) {
      CANOPY_ASSIGN_OR_RETURN(DatasetItem item, DatasetItem::from_json(row));
      v.item_list.push_back(std::move(item));
    }
  }
  return v;
}

Result<std::pair<std::string, std::int64_t>> parse_dataset_ref(std::string_view text) {
  const auto colon = text.rfind(':');
  const std::string_view name = colon == std::string_view::npos ? text : text.substr(0, colon);
  const bool plain_name =
      !name.empty() && name.size() <= 128 &&
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
          std::string_view::npos;
  std::int64_t version = 0;
  bool numbered = false;
  if (colon != std::string_view::npos) {
    const std::string_view digits = text.substr(colon + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
    numbered = ec == std::errc() && end == digits.data() + digits.size() && version > 0;
  }
  if (!plain_name || !numbered)
    return make_error(ErrorCode::kInvalidArgument,
                      "dataset version '" + std::string(text) + "' must be NAME:VERSION, e.g. field:3");
  return std::make_pair(std::string(name), version);
}

}  // namespace canopy::api
