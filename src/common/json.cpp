#include "common/json.h"

namespace canopy {

Result<Json> parse_json(std::string_view text, std::string_view what) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(what) + " is not valid JSON (at byte " + std::to_string(e.byte) + ")");
  } catch (const Json::out_of_range&) {
    // A number too large for a double ("1e999"): nlohmann throws this, not a parse_error.
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(what) + " is not valid JSON (a number out of range)");
  }
}

}  // namespace canopy
