// Readers for the members of a JSON body that name the member in every error,
// so a client learns which field it got wrong. The wire types build on them.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json.h"

namespace canopy::api {

// "field 'F' WHAT", kInvalidArgument.
Error bad_field(std::string_view field, std::string_view what);

// A string member of at most `max_size` characters; required unless a
// fallback is given. Errors read "request body: ...".
Result<std::string> read_string(const Json& object, std::string_view field, std::size_t max_size,
                                std::optional<std::string> fallback = std::nullopt);

// A list of 1-128 character strings; absent: empty.
Result<std::vector<std::string>> read_strings(const Json& json, std::string_view field);

// Tags: an object of 1-64 character names to strings of at most 128.
Result<std::map<std::string, std::string>> read_tags(const Json& json, std::string_view field);

// An error "WHAT must be a JSON object" unless `json` is one.
Status require_object(const Json& json, std::string_view what);

// `object[field]` when present and not null.
const Json* optional_member(const Json& object, std::string_view field);

}  // namespace canopy::api
