#include "api/fields.h"

namespace canopy::api {

Error bad_field(std::string_view field, std::string_view what) {
  return make_error(ErrorCode::kInvalidArgument, "field '" + std::string(field) + "' " + std::string(what));
}

Result<std::string> read_string(const Json& object, std::string_view field, std::size_t max_size,
                                std::optional<std::string> fallback) {
  auto value =
      fallback ? json_get_or<std::string>(object, field, *fallback) : json_get<std::string>(object, field);
  if (!value.ok()) return value.error().with_context("request body");
  if (value->size() > max_size)
    return make_error(ErrorCode::kInvalidArgument, "request body: field '" + std::string(field) +
                                                       "' is longer than " + std::to_string(max_size) +
                                                       " characters");
  return value;
}

Result<std::vector<std::string>> read_strings(const Json& json, std::string_view field) {
  const Json* list = optional_member(json, field);
  std::vector<std::string> out;
  if (!list) return out;
  if (!list->is_array()) return bad_field(field, "must be a list of strings");
  for (const Json& item : *list) {
    if (!item.is_string() || item.get<std::string>().empty() || item.get<std::string>().size() > 128)
      return bad_field(field, "must hold strings of 1-128 characters");
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<std::map<std::string, std::string>> read_tags(const Json& json, std::string_view field) {
  if (!json.is_object()) return bad_field(field, "must be an object of strings");
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : json.items()) {
    if (!value.is_string() || key.empty() || key.size() > 64 || value.get<std::string>().size() > 128)
      return bad_field(field, "must map names of 1-64 characters to strings of at most 128");
    out[key] = value.get<std::string>();
  }
  return out;
}

Status require_object(const Json& json, std::string_view what) {
  if (json.is_object()) return {};
  return make_error(ErrorCode::kInvalidArgument, std::string(what) + " must be a JSON object");
}

const Json* optional_member(const Json& object, std::string_view field) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(field);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

}  // namespace canopy::api
