// JSON helpers over nlohmann::json that turn its exceptions into Results with
// messages naming the offending field. Thread-safety: stateless.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/error.h"

namespace canopy {

using Json = nlohmann::json;

Result<Json> parse_json(std::string_view text, std::string_view what = "JSON");

// Reads a required member of `object` as T; the error names `field`.
template <typename T>
Result<T> json_get(const Json& object, std::string_view field) {
  auto it = object.find(field);
  if (it == object.end())
    return make_error(ErrorCode::kInvalidArgument, "missing field '" + std::string(field) + "'");
  try {
    return it->template get<T>();
  } catch (const Json::exception&) {
    return make_error(ErrorCode::kInvalidArgument,
                      "field '" + std::string(field) + "' has the wrong type");
  }
}

// Like json_get but returns `fallback` when the member is absent.
template <typename T>
Result<T> json_get_or(const Json& object, std::string_view field, T fallback) {
  if (!object.contains(field)) return fallback;
  return json_get<T>(object, field);
}

}  // namespace canopy
