#include "api/model_ref.h"

#include "api/fields.h"

namespace canopy::api {

Json to_json(const std::optional<ModelRef>& model) { return model ? model->to_json() : Json(nullptr); }

Result<std::optional<ModelRef>> read_model_ref(const Json& object, std::string_view field) {
  const Json* member = optional_member(object, field);
  if (!member) return std::optional<ModelRef>();
  auto invalid = [&] { return bad_field(field, "must be {\"name\": ..., \"version\": N} or null"); };
  if (!member->is_object()) return invalid();
  auto name = json_get<std::string>(*member, "name");
  auto version = json_get<std::int64_t>(*member, "version");
  if (!name.ok() || !version.ok() || name->empty() || *version <= 0) return invalid();
  return std::optional<ModelRef>(ModelRef{*name, *version});
}

Result<ModelSelector> ModelSelector::parse(std::string_view text) {
  ModelSelector selector;
  const auto at = text.find('@');
  const auto colon = text.find(':');
  if (at != std::string_view::npos) {
    selector.name = text.substr(0, at);
    selector.reference = "@" + std::string(text.substr(at + 1));
  } else if (colon != std::string_view::npos) {
    selector.name = text.substr(0, colon);
    selector.reference = text.substr(colon + 1);
  } else {
    selector.name = text;
  }
  if (selector.name.empty() || selector.reference.empty() || selector.reference == "@")
    return make_error(ErrorCode::kInvalidArgument, "model reference '" + std::string(text) +
                                                       "' must look like NAME, NAME:VERSION or NAME@ALIAS");
  return selector;
}

std::string ModelSelector::text() const {
  if (reference == "latest") return name;
  return is_alias() ? name + reference : name + ":" + reference;
}

}  // namespace canopy::api
