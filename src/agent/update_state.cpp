#include "agent/update_state.h"

#include "common/enum_names.h"
#include "common/files.h"

namespace canopy::agent {

namespace {

constexpr EnumNames<Phase, 6> kPhaseNames = {{
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

// A package as state.json has always written it: {"name", "version", "sha256"}.
Json package_to_json(const std::optional<PackageRef>& package) {
  if (!package) return nullptr;
  return {{"name", package->model.name}, {"version", package->model.version}, {"sha256", package->sha256}};
}

Result<std::optional<PackageRef>> package_from_json(const Json& json) {
  if (json.is_null()) return std::optional<PackageRef>{};
  if (!json.is_object()) return corrupt("a model must be an object or null");
  PackageRef package;
  CANOPY_ASSIGN_OR_RETURN(package.model.name, json_get<std::string>(json, "name"));
  CANOPY_ASSIGN_OR_RETURN(package.model.version, json_get<std::int64_t>(json, "version"));
  CANOPY_ASSIGN_OR_RETURN(package.sha256, json_get_or<std::string>(json, "sha256", ""));
  return std::optional<PackageRef>(std::move(package));
}

Json target_to_json(const std::optional<Assignment>& target) {
  if (!target) return nullptr;
  return {{"deployment_id", target->deployment_id},
          {"action", api::action_name(target->action)},
          {"model", package_to_json(target->package)},
          {"size", target->package.size_bytes},
          {"url", target->url}};
}

Result<std::optional<Assignment>> target_from_json(const Json& json) {
  if (json.is_null()) return std::optional<Assignment>{};
  if (!json.is_object()) return corrupt("'target' must be an object or null");
  Assignment target;
  CANOPY_ASSIGN_OR_RETURN(target.deployment_id, json_get<std::int64_t>(json, "deployment_id"));
  CANOPY_ASSIGN_OR_RETURN(std::string action, json_get<std::string>(json, "action"));
  if (action != "install" && action != "rollback") return corrupt("unknown action '" + action + "'");
  target.action = action == "install" ? api::Action::kInstall : api::Action::kRollback;
  CANOPY_ASSIGN_OR_RETURN(target.url, json_get<std::string>(json, "url"));
  CANOPY_ASSIGN_OR_RETURN(std::optional<PackageRef> package, package_from_json(json.value("model", Json())));
  if (!package) return corrupt("'target' has no model");
  target.package = std::move(*package);
  CANOPY_ASSIGN_OR_RETURN(target.package.size_bytes, json_get<std::uint64_t>(json, "size"));
  return std::optional<Assignment>(std::move(target));
}

}  // namespace

std::string_view phase_name(Phase phase) { return enum_name(kPhaseNames, phase); }

Result<Phase> parse_phase(std::string_view name) {
  if (auto phase = enum_value(kPhaseNames, name)) return *phase;
  return corrupt("unknown phase '" + std::string(name) + "'");
}

std::optional<PackageRef> UpdateState::current() const {
  if (!active_slot) return std::nullopt;
  return slot(*active_slot);
}

std::optional<PackageRef> UpdateState::previous() const {
  if (!active_slot) return std::nullopt;
  return slot(inactive_slot());
}

std::optional<api::ModelRef> model_of(const std::optional<PackageRef>& package) {
  if (!package) return std::nullopt;
  return package->model;
}

Json state_to_json(const UpdateState& state) {
  return {{"format", 1},
          {"phase", phase_name(state.phase)},
          {"active_slot", state.active_slot ? slot_name(*state.active_slot) : ""},
          {"slots",
           {{slot_name(Slot::kA), package_to_json(state.slot_a)},
            {slot_name(Slot::kB), package_to_json(state.slot_b)}}},
          {"target", target_to_json(state.target)},
          {"attempts", state.attempts},
          {"failed", package_to_json(state.failed)},
          {"last_error", state.last_error}};
}

Result<UpdateState> state_from_json(const Json& json) {
  if (!json.is_object()) return corrupt("must be a JSON object");
  UpdateState state;
  CANOPY_ASSIGN_OR_RETURN(std::string phase, json_get<std::string>(json, "phase"));
  CANOPY_ASSIGN_OR_RETURN(state.phase, parse_phase(phase));
  CANOPY_ASSIGN_OR_RETURN(std::string active_slot, json_get<std::string>(json, "active_slot"));
  for (Slot slot : {Slot::kA, Slot::kB})
    if (active_slot == slot_name(slot)) state.active_slot = slot;
  if (!active_slot.empty() && !state.active_slot)
    return corrupt("'active_slot' must be \"a\", \"b\" or empty");
  const Json slots = json.value("slots", Json::object());
  if (!slots.is_object()) return corrupt("'slots' must be an object");
  CANOPY_ASSIGN_OR_RETURN(state.slot_a, package_from_json(slots.value(slot_name(Slot::kA), Json())));
  CANOPY_ASSIGN_OR_RETURN(state.slot_b, package_from_json(slots.value(slot_name(Slot::kB), Json())));
  CANOPY_ASSIGN_OR_RETURN(state.target, target_from_json(json.value("target", Json())));
  if (state.phase != Phase::kIdle && !state.target)
    return corrupt("an update is in progress but has no target");
  CANOPY_ASSIGN_OR_RETURN(state.attempts, json_get_or<int>(json, "attempts", 0));
  CANOPY_ASSIGN_OR_RETURN(state.failed, package_from_json(json.value("failed", Json())));
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
