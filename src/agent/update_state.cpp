#include "agent/update_state.h"

#include <array>
#include <utility>

#include "common/files.h"

namespace canopy::agent {

namespace {

constexpr std::array<std::pair<Phase, std::string_view>, 6> kPhaseNames = {{
    {Phase::kIdle, "idle"},
    {Phase::kDownloading, "downloading"},
    {Phase::kVerifying, "verifying"},
    {Phase::kInstalling, "installing"},
    {Phase::kHealthChecking, "health-checking"},
    {Phase::kSwitching, "switching"},
}};

Error corrupt(const std::string& message) {
  return make_error(ErrorCode::kCorrupt, "state.json: " + message);
}

Result<std::optional<ModelRef>> model_ref_from_json(const Json& json) {
  if (json.is_null()) return std::optional<ModelRef>{};
  if (!json.is_object()) return corrupt("a model must be an object or null");
  ModelRef ref;
  CANOPY_ASSIGN_OR_RETURN(ref.name, json_get<std::string>(json, "name"));
  CANOPY_ASSIGN_OR_RETURN(ref.version, json_get<std::int64_t>(json, "version"));
  CANOPY_ASSIGN_OR_RETURN(ref.sha256, json_get_or<std::string>(json, "sha256", ""));
  return std::optional<ModelRef>(std::move(ref));
}

Json target_to_json(const std::optional<Target>& target) {
  if (!target) return nullptr;
  return {{"deployment_id", target->deployment_id},
          {"action", target->action},
          {"model", model_ref_to_json(target->model)},
          {"size", target->size_bytes},
          {"url", target->url}};
}

Result<std::optional<Target>> target_from_json(const Json& json) {
  if (json.is_null()) return std::optional<Target>{};
  if (!json.is_object()) return corrupt("'target' must be an object or null");
  Target target;
  CANOPY_ASSIGN_OR_RETURN(target.deployment_id, json_get<std::int64_t>(json, "deployment_id"));
  CANOPY_ASSIGN_OR_RETURN(target.action, json_get<std::string>(json, "action"));
  CANOPY_ASSIGN_OR_RETURN(target.size_bytes, json_get<std::uint64_t>(json, "size"));
  CANOPY_ASSIGN_OR_RETURN(target.url, json_get<std::string>(json, "url"));
  CANOPY_ASSIGN_OR_RETURN(std::optional<ModelRef> model, model_ref_from_json(json.value("model", Json())));
  if (!model) return corrupt("'target' has no model");
  target.model = std::move(*model);
  return std::optional<Target>(std::move(target));
}

}  // namespace

std::string_view phase_name(Phase phase) {
  for (const auto& [value, name] : kPhaseNames)
    if (value == phase) return name;
  return "unknown";
}

Result<Phase> parse_phase(std::string_view name) {
  for (const auto& [value, known] : kPhaseNames)
    if (known == name) return value;
  return corrupt("unknown phase '" + std::string(name) + "'");
}

std::optional<ModelRef> UpdateState::current() const {
  if (active_slot.empty()) return std::nullopt;
  return slot(active_slot);
}

std::optional<ModelRef> UpdateState::previous() const {
  if (active_slot.empty()) return std::nullopt;
  return slot(inactive_slot());
}

Json model_ref_to_json(const std::optional<ModelRef>& ref) {
  if (!ref) return nullptr;
  return {{"name", ref->name}, {"version", ref->version}, {"sha256", ref->sha256}};
}

Json state_to_json(const UpdateState& state) {
  return {{"format", 1},
          {"phase", phase_name(state.phase)},
          {"active_slot", state.active_slot},
          {"slots", {{"a", model_ref_to_json(state.slot_a)}, {"b", model_ref_to_json(state.slot_b)}}},
          {"target", target_to_json(state.target)},
          {"attempts", state.attempts},
          {"failed", model_ref_to_json(state.failed)},
          {"last_error", state.last_error}};
}

Result<UpdateState> state_from_json(const Json& json) {
  if (!json.is_object()) return corrupt("must be a JSON object");
  UpdateState state;
  CANOPY_ASSIGN_OR_RETURN(std::string phase, json_get<std::string>(json, "phase"));
  CANOPY_ASSIGN_OR_RETURN(state.phase, parse_phase(phase));
  CANOPY_ASSIGN_OR_RETURN(state.active_slot, json_get<std::string>(json, "active_slot"));
  if (state.active_slot != "" && state.active_slot != "a" && state.active_slot != "b")
    return corrupt("'active_slot' must be \"a\", \"b\" or empty");
  const Json slots = json.value("slots", Json::object());
  if (!slots.is_object()) return corrupt("'slots' must be an object");
  CANOPY_ASSIGN_OR_RETURN(state.slot_a, model_ref_from_json(slots.value("a", Json())));
  CANOPY_ASSIGN_OR_RETURN(state.slot_b, model_ref_from_json(slots.value("b", Json())));
  CANOPY_ASSIGN_OR_RETURN(state.target, target_from_json(json.value("target", Json())));
  if (state.phase != Phase::kIdle && !state.target)
    return corrupt("an update is in progress but has no target");
  CANOPY_ASSIGN_OR_RETURN(state.attempts, json_get_or<int>(json, "attempts", 0));
  CANOPY_ASSIGN_OR_RETURN(state.failed, model_ref_from_json(json.value("failed", Json())));
  CANOPY_ASSIGN_OR_RETURN(state.last_error, json_get_or<std::string>(json, "last_error", ""));
  return state;
}

StateStore::StateStore(fs::path data_dir, Env& env) : path_(std::move(data_dir) / "state.json"), env_(&env) {}

Result<UpdateState> StateStore::load() const {
  std::error_code ec;
  if (!fs::exists(path_, ec)) return UpdateState{};
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(path_));
  CANOPY_ASSIGN_OR_RETURN(Json json, parse_json(text, "state.json"));
  return state_from_json(json);
}

Status StateStore::save(const UpdateState& state) const {
  return write_file_atomic(path_, state_to_json(state).dump(2) + "\n", 0600, *env_);
}

}  // namespace canopy::agent
