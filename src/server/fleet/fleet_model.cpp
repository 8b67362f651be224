#include "server/fleet/fleet_model.h"

#include <cmath>
#include <regex>

#include "common/time.h"

namespace canopy::server {

namespace {

Error bad_field(const std::string& field, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "field '" + field + "' " + what);
}

Result<double> parse_ratio(const Json& object, const std::string& field, double fallback) {
  CANOPY_ASSIGN_OR_RETURN(double value, json_get_or<double>(object, field, fallback));
  if (!(value >= 0.0 && value <= 1.0)) return bad_field(field, "must be between 0 and 1");
  return value;
}

Result<std::int64_t> parse_soak(const Json& object, std::int64_t fallback) {
  CANOPY_ASSIGN_OR_RETURN(std::int64_t soak, json_get_or<std::int64_t>(object, "soak_s", fallback));
  if (soak < 0 || soak > 30 * 86400) return bad_field("soak_s", "must be between 0 and 2592000 (30 days)");
  return soak;
}

}  // namespace

Result<std::map<std::string, std::string>> parse_tags(const Json& json, const std::string& field) {
  if (!json.is_object()) return bad_field(field, "must be an object of strings");
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : json.items()) {
    if (!value.is_string() || key.empty() || key.size() > 64 || value.get<std::string>().size() > 128)
      return bad_field(field, "must map names of 1-64 characters to strings of at most 128");
    out[key] = value.get<std::string>();
  }
  return out;
}

Result<std::optional<ModelVersion>> parse_model_version(const Json& object, const std::string& field) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return std::optional<ModelVersion>();
  if (!it->is_object()) return bad_field(field, "must be {\"name\": ..., \"version\": N} or null");
  auto name = json_get<std::string>(*it, "name");
  auto version = json_get<std::int64_t>(*it, "version");
  if (!name.ok() || !version.ok() || name->empty() || *version <= 0)
    return bad_field(field, "must be {\"name\": ..., \"version\": N} or null");
  return std::optional<ModelVersion>(ModelVersion{*name, *version});
}

Json to_json(const std::optional<ModelVersion>& model) { return model ? model->to_json() : Json(nullptr); }

std::string_view device_status_name(DeviceStatus status) {
  switch (status) {
    case DeviceStatus::kPending:
      return "pending";
    case DeviceStatus::kActive:
      return "active";
    case DeviceStatus::kRevoked:
      return "revoked";
    case DeviceStatus::kDecommissioned:
      return "decommissioned";
  }
  return "pending";
}

std::optional<DeviceStatus> parse_device_status(std::string_view text) {
  for (auto status :
       {DeviceStatus::kPending, DeviceStatus::kActive, DeviceStatus::kRevoked, DeviceStatus::kDecommissioned})
    if (device_status_name(status) == text) return status;
  return std::nullopt;
}

Json Device::to_json() const {
  return {{"id", id},
          {"name", name},
          {"group", group},
          {"status", device_status_name(status)},
          {"tags", tags},
          {"agent_version", agent_version},
          {"current", server::to_json(current)},
          {"previous", server::to_json(previous)},
          {"state", state},
          {"health", health},
          {"last_error", last_error},
          {"last_seen", last_seen_ms > 0 ? Json(format_utc(last_seen_ms)) : Json(nullptr)},
          {"enrolled_at", enrolled_at},
          {"deployment", deployment ? Json(*deployment) : Json(nullptr)}};
}

Json EnrollmentToken::to_json() const {
  return {{"id", id},
          {"group", group},
          {"approval", approval == Approval::kAuto ? "auto" : "manual"},
          {"expires_at", format_utc(expires_ms)},
          {"max_uses", max_uses},
          {"uses", uses},
          {"created_at", created_at},
          {"created_by", created_by}};
}

bool Target::matches(const Device& device) const {
  if (!devices.empty()) return devices.count(device.id) > 0;
  if (!group.empty()) return device.group == group;
  for (const auto& [key, value] : tags) {
    auto it = device.tags.find(key);
    if (it == device.tags.end() || it->second != value) return false;
  }
  return !tags.empty();
}

Json Target::to_json() const {
  if (!devices.empty()) return {{"devices", devices}};
  if (!group.empty()) return {{"group", group}};
  return {{"tags", tags}};
}

Result<Target> Target::parse(const Json& json) {
  if (!json.is_object() || json.size() != 1)
    return bad_field("target", "must have exactly one of 'group', 'tags' or 'devices'");
  Target target;
  if (json.contains("group")) {
    auto group = json_get<std::string>(json, "group");
    if (!group.ok() || group->empty()) return bad_field("target.group", "must be a group name");
    target.group = *group;
  } else if (json.contains("tags")) {
    CANOPY_ASSIGN_OR_RETURN(target.tags, parse_tags(json["tags"], "target.tags"));
    if (target.tags.empty()) return bad_field("target.tags", "must name at least one tag");
  } else if (json.contains("devices")) {
    static const std::regex device_id("[0-9a-f]{16}");
    const Json& list = json["devices"];
    if (!list.is_array() || list.empty()) return bad_field("target.devices", "must be a list of device ids");
    for (const auto& id : list) {
      if (!id.is_string() || !std::regex_match(id.get<std::string>(), device_id))
        return bad_field("target.devices", "must hold device ids of 16 hex digits");
      target.devices.insert(id.get<std::string>());
    }
  } else {
    return bad_field("target", "must have exactly one of 'group', 'tags' or 'devices'");
  }
  return target;
}

std::size_t Stage::size_for(std::size_t eligible) const {
  if (count) return std::min<std::size_t>(static_cast<std::size_t>(*count), eligible);
  // Rounded up, so a small share of a small fleet still admits a device.
  auto size = static_cast<std::size_t>(std::ceil(percent * static_cast<double>(eligible) / 100.0 - 1e-9));
  return std::min(size, eligible);
}

Json Strategy::to_json() const {
  Json out = {{"max_failure_ratio", max_failure_ratio},
              {"min_failures", min_failures},
              {"auto_rollback", auto_rollback}};
  Json waves = Json::array();
  for (const auto& stage : stages) {
    Json s = {{"soak_s", stage.soak_s}, {"success_ratio", stage.success_ratio}};
    if (stage.count)
      s["count"] = *stage.count;
    else
      s["percent"] = stage.percent;
    if (stage.name == "canary")
      out["canary"] = s;
    else
      waves.push_back(s);
  }
  out["waves"] = waves;
  return out;
}

Result<Strategy> Strategy::parse(const Json& json) {
  Strategy strategy;
  if (json.is_null()) {
    strategy.stages.push_back(Stage{"wave 1", std::nullopt, 100, 0, 0.9});
    return strategy;
  }
  if (!json.is_object()) return bad_field("strategy", "must be an object");
  CANOPY_ASSIGN_OR_RETURN(strategy.max_failure_ratio, parse_ratio(json, "max_failure_ratio", 0.2));
  CANOPY_ASSIGN_OR_RETURN(strategy.min_failures, json_get_or<std::int64_t>(json, "min_failures", 2));
  if (strategy.min_failures < 1) return bad_field("min_failures", "must be at least 1");
  CANOPY_ASSIGN_OR_RETURN(strategy.auto_rollback, json_get_or<bool>(json, "auto_rollback", true));

  std::vector<Stage> waves;
  const Json wave_list = json.value("waves", Json::array({Json{{"percent", 100}}}));
  if (!wave_list.is_array() || wave_list.empty())
    return bad_field("strategy.waves", "must be a non-empty list");
  double last_percent = 0;
  for (const auto& wave : wave_list) {
    if (!wave.is_object()) return bad_field("strategy.waves", "must hold objects");
    Stage stage;
    stage.name = "wave " + std::to_string(waves.size() + 1);
    CANOPY_ASSIGN_OR_RETURN(stage.percent, json_get<double>(wave, "percent"));
    if (!(stage.percent > last_percent && stage.percent <= 100))
      return bad_field("strategy.waves", "percents must rise, each above the last and at most 100");
    last_percent = stage.percent;
    CANOPY_ASSIGN_OR_RETURN(stage.soak_s, parse_soak(wave, 0));
    CANOPY_ASSIGN_OR_RETURN(stage.success_ratio, parse_ratio(wave, "success_ratio", 0.9));
    waves.push_back(stage);
  }
  if (last_percent != 100) return bad_field("strategy.waves", "must end with a wave of 100 percent");

  if (json.contains("canary") && !json["canary"].is_null()) {
    const Json& canary = json["canary"];
    if (!canary.is_object() || (canary.contains("count") == canary.contains("percent")))
      return bad_field("strategy.canary", "must have exactly one of 'count' or 'percent'");
    Stage stage;
    stage.name = "canary";
    if (canary.contains("count")) {
      CANOPY_ASSIGN_OR_RETURN(std::int64_t count, json_get<std::int64_t>(canary, "count"));
      if (count < 1) return bad_field("strategy.canary.count", "must be at least 1");
      stage.count = count;
    } else {
      CANOPY_ASSIGN_OR_RETURN(stage.percent, json_get<double>(canary, "percent"));
      if (!(stage.percent > 0 && stage.percent <= 100))
        return bad_field("strategy.canary.percent", "must be above 0 and at most 100");
    }
    // A canary soaks and must succeed like the first wave unless it says otherwise.
    CANOPY_ASSIGN_OR_RETURN(stage.soak_s, parse_soak(canary, waves.front().soak_s));
    CANOPY_ASSIGN_OR_RETURN(stage.success_ratio,
                            parse_ratio(canary, "success_ratio", waves.front().success_ratio));
    strategy.stages.push_back(stage);
  }
  strategy.stages.insert(strategy.stages.end(), waves.begin(), waves.end());
  return strategy;
}

std::string_view deployment_state_name(DeploymentState state) {
  switch (state) {
    case DeploymentState::kRunning:
      return "running";
    case DeploymentState::kPaused:
      return "paused";
    case DeploymentState::kRolledBack:
      return "rolled-back";
    case DeploymentState::kAborted:
      return "aborted";
    case DeploymentState::kCompleted:
      return "completed";
  }
  return "running";
}

std::optional<DeploymentState> parse_deployment_state(std::string_view text) {
  for (auto state : {DeploymentState::kRunning, DeploymentState::kPaused, DeploymentState::kRolledBack,
                     DeploymentState::kAborted, DeploymentState::kCompleted})
    if (deployment_state_name(state) == text) return state;
  return std::nullopt;
}

bool is_report_state(std::string_view state) {
  for (const char* s : {"idle", "downloading", "verifying", "installing", "health-checking", "success",
                        "failed", "rolled-back"})
    if (state == s) return true;
  return false;
}

bool is_failure_state(std::string_view state) { return state == "failed" || state == "rolled-back"; }

Member* Deployment::member(const std::string& device_id) {
  auto it = member_index.find(device_id);
  return it == member_index.end() ? nullptr : &members[it->second];
}

Member& Deployment::add_member(const std::string& device_id) {
  if (Member* existing = member(device_id)) return *existing;
  Member m;
  m.device_id = device_id;
  m.seq = static_cast<std::int64_t>(members.size());
  member_index[device_id] = members.size();
  members.push_back(std::move(m));
  return members.back();
}

}  // namespace canopy::server
