#include "api/deployment.h"

#include "api/fields.h"
#include "common/enum_names.h"
#include "common/hash.h"
#include "common/text.h"

namespace canopy::api {

namespace {

Result<double> read_ratio(const Json& object, std::string_view field, double fallback) {
  CANOPY_ASSIGN_OR_RETURN(double value, json_get_or<double>(object, field, fallback));
  if (!(value >= 0.0 && value <= 1.0)) return bad_field(field, "must be between 0 and 1");
  return value;
}

Result<std::int64_t> read_soak(const Json& object, std::int64_t fallback) {
  CANOPY_ASSIGN_OR_RETURN(std::int64_t soak, json_get_or<std::int64_t>(object, "soak_s", fallback));
  if (soak < 0 || soak > 30 * 86400) return bad_field("soak_s", "must be between 0 and 2592000 (30 days)");
  return soak;
}

constexpr EnumNames<DeploymentState, 5> kDeploymentStateNames = {{
    {DeploymentState::kRunning, "running"},
    {DeploymentState::kPaused, "paused"},
    {DeploymentState::kRolledBack, "rolled-back"},
    {DeploymentState::kAborted, "aborted"},
    {DeploymentState::kCompleted, "completed"},
}};

constexpr EnumNames<StageStatus, 3> kStageStatusNames = {{
    {StageStatus::kDone, "done"},
    {StageStatus::kCurrent, "current"},
    {StageStatus::kWaiting, "waiting"},
}};

}  // namespace

// ---- target ----

Json DeploymentTarget::to_json() const {
  if (!devices.empty()) return {{"devices", devices}};
  if (!group.empty()) return {{"group", group}};
  return {{"tags", tags}};
}

Result<DeploymentTarget> DeploymentTarget::from_json(const Json& json) {
  if (!json.is_object() || json.size() != 1)
    return bad_field("target", "must have exactly one of 'group', 'tags' or 'devices'");
  DeploymentTarget target;
  if (json.contains("group")) {
    auto group = json_get<std::string>(json, "group");
    if (!group.ok() || group->empty()) return bad_field("target.group", "must be a group name");
    target.group = *group;
  } else if (json.contains("tags")) {
    CANOPY_ASSIGN_OR_RETURN(target.tags, read_tags(json["tags"], "target.tags"));
    if (target.tags.empty()) return bad_field("target.tags", "must name at least one tag");
  } else if (json.contains("devices")) {
    const Json& list = json["devices"];
    if (!list.is_array() || list.empty()) return bad_field("target.devices", "must be a list of device ids");
    for (const auto& id : list) {
      if (!id.is_string() || !is_lower_hex(id.get<std::string>(), 16))
        return bad_field("target.devices", "must hold device ids of 16 hex digits");
      target.devices.insert(id.get<std::string>());
    }
  } else {
    return bad_field("target", "must have exactly one of 'group', 'tags' or 'devices'");
  }
  return target;
}

std::string DeploymentTarget::describe() const {
  if (!devices.empty())
    return std::to_string(devices.size()) + (devices.size() == 1 ? " device" : " devices");
  if (!group.empty()) return "group " + group;
  std::string out = "tags";
  for (const auto& [key, value] : tags) out += " " + key + "=" + value;
  return out;
}

// ---- strategy ----

Json RolloutStrategy::to_json() const {
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

Result<RolloutStrategy> RolloutStrategy::from_json(const Json& json) {
  RolloutStrategy strategy;
  if (json.is_null()) {
    strategy.stages.push_back(RolloutStage{"wave 1", std::nullopt, 100, 0, 0.9});
    return strategy;
  }
  if (!json.is_object()) return bad_field("strategy", "must be an object");
  CANOPY_ASSIGN_OR_RETURN(strategy.max_failure_ratio, read_ratio(json, "max_failure_ratio", 0.2));
  CANOPY_ASSIGN_OR_RETURN(strategy.min_failures, json_get_or<std::int64_t>(json, "min_failures", 2));
  if (strategy.min_failures < 1) return bad_field("min_failures", "must be at least 1");
  CANOPY_ASSIGN_OR_RETURN(strategy.auto_rollback, json_get_or<bool>(json, "auto_rollback", true));

  std::vector<RolloutStage> waves;
  const Json wave_list = json.value("waves", Json::array({Json{{"percent", 100}}}));
  if (!wave_list.is_array() || wave_list.empty())
    return bad_field("strategy.waves", "must be a non-empty list");
  double last_percent = 0;
  for (const auto& wave : wave_list) {
    if (!wave.is_object()) return bad_field("strategy.waves", "must hold objects");
    RolloutStage stage;
    stage.name = "wave " + std::to_string(waves.size() + 1);
    CANOPY_ASSIGN_OR_RETURN(stage.percent, json_get<double>(wave, "percent"));
    if (!(stage.percent > last_percent && stage.percent <= 100))
      return bad_field("strategy.waves", "percents must rise, each above the last and at most 100");
    last_percent = stage.percent;
    CANOPY_ASSIGN_OR_RETURN(stage.soak_s, read_soak(wave, 0));
    CANOPY_ASSIGN_OR_RETURN(stage.success_ratio, read_ratio(wave, "success_ratio", 0.9));
    waves.push_back(stage);
  }
  if (last_percent != 100) return bad_field("strategy.waves", "must end with a wave of 100 percent");

  if (const Json* canary = optional_member(json, "canary")) {
    if (!canary->is_object() || (canary->contains("count") == canary->contains("percent")))
      return bad_field("strategy.canary", "must have exactly one of 'count' or 'percent'");
    RolloutStage stage;
    stage.name = "canary";
    if (canary->contains("count")) {
      CANOPY_ASSIGN_OR_RETURN(std::int64_t count, json_get<std::int64_t>(*canary, "count"));
      if (count < 1) return bad_field("strategy.canary.count", "must be at least 1");
      stage.count = count;
    } else {
      CANOPY_ASSIGN_OR_RETURN(stage.percent, json_get<double>(*canary, "percent"));
      if (!(stage.percent > 0 && stage.percent <= 100))
        return bad_field("strategy.canary.percent", "must be above 0 and at most 100");
    }
    // A canary soaks and must succeed like the first wave unless it says otherwise.
    CANOPY_ASSIGN_OR_RETURN(stage.soak_s, read_soak(*canary, waves.front().soak_s));
    CANOPY_ASSIGN_OR_RETURN(stage.success_ratio,
                            read_ratio(*canary, "success_ratio", waves.front().success_ratio));
    strategy.stages.push_back(stage);
  }
  strategy.stages.insert(strategy.stages.end(), waves.begin(), waves.end());
  return strategy;
}

// ---- request ----

Json DeploymentRequest::to_json() const {
  Json out = {{"model", model.name}, {"target", target.to_json()}, {"strategy", strategy.to_json()}};
  if (allow_empty) out["allow_empty"] = true;
  // A selector that is neither (the newest version) is sent as it is, and refused.
  if (model.is_alias())
    out["alias"] = model.reference.substr(1);
  else if (const auto version = parse_int(model.reference))
    out["version"] = *version;
  else
    out["version"] = model.reference;
  return out;
}

Result<DeploymentRequest> DeploymentRequest::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "request body"));
  DeploymentRequest request;
  CANOPY_ASSIGN_OR_RETURN(request.model.name, read_string(json, "model", 128));
  const bool has_version = json.contains("version"), has_alias = json.contains("alias");
  if (has_version == has_alias)
    return make_error(ErrorCode::kInvalidArgument, "request body: give exactly one of 'version' or 'alias'");
  if (has_version) {
    CANOPY_ASSIGN_OR_RETURN(std::int64_t version, json_get<std::int64_t>(json, "version"));
    request.model.reference = std::to_string(version);
  } else {
    CANOPY_ASSIGN_OR_RETURN(std::string alias, read_string(json, "alias", 64));
    request.model.reference = "@" + alias;
  }
  if (!json.contains("target"))
    return make_error(ErrorCode::kInvalidArgument, "request body: missing field 'target'");
  CANOPY_ASSIGN_OR_RETURN(request.target, DeploymentTarget::from_json(json["target"]));
  CANOPY_ASSIGN_OR_RETURN(request.strategy, RolloutStrategy::from_json(json.value("strategy", Json())));
  CANOPY_ASSIGN_OR_RETURN(request.allow_empty, json_get_or<bool>(json, "allow_empty", false));
  return request;
}

// ---- status ----

std::string_view deployment_state_name(DeploymentState state) {
  return enum_name(kDeploymentStateNames, state);
}

std::optional<DeploymentState> parse_deployment_state(std::string_view text) {
  return enum_value(kDeploymentStateNames, text);
}

Json DeploymentStatus::to_json() const {
  Json out = {{"id", id},
              {"model", package.model.name},
              {"version", package.model.version},
              {"sha256", package.sha256},
              {"size_bytes", package.size_bytes},
              {"target", target.to_json()},
              {"state", deployment_state_name(state)},
              {"reason", reason},
              {"stage", stage},
              {"stage_name", stage_name},
              {"stage_started_at", stage_started_at},
              {"targeted", targeted},
              {"admitted", admitted},
              {"successes", successes},
              {"failures", failures},
              {"counts", counts},
              {"created_at", created_at},
              {"created_by", created_by},
              {"updated_at", updated_at}};
  if (rollback)
    out["rollback"] = {{"returning", rollback->returning},
                       {"reverted", rollback->reverted},
                       {"no_previous", rollback->no_previous},
                       {"not_installed", rollback->not_installed}};
  if (!detail) return out;
  out["strategy"] = detail->strategy.to_json();
  Json stages = Json::array();
  for (const StageProgress& s : detail->stages) {
    const std::string_view status = enum_name(kStageStatusNames, s.status);
    stages.push_back({{"name", s.name},
                      {"size", s.size},
                      {"admitted", s.admitted},
                      {"successes", s.successes},
                      {"failures", s.failures},
                      {"soak_s", s.soak_s},
                      {"success_ratio", s.success_ratio},
                      {"status", status}});
  }
  out["stages"] = stages;
  Json failures_json = Json::array();
  for (const FailureReport& f : detail->failure_reports)
    failures_json.push_back(
        {{"device_id", f.device_id}, {"name", f.name}, {"state", f.state}, {"error", f.error}, {"at", f.at}});
  out["failure_reports"] = failures_json;
  return out;
}

Result<DeploymentStatus> DeploymentStatus::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "deployment"));
  DeploymentStatus d;
  CANOPY_ASSIGN_OR_RETURN(d.id, json_get<std::int64_t>(json, "id"));
  CANOPY_ASSIGN_OR_RETURN(d.package.model.name, json_get<std::string>(json, "model"));
  CANOPY_ASSIGN_OR_RETURN(d.package.model.version, json_get<std::int64_t>(json, "version"));
  CANOPY_ASSIGN_OR_RETURN(d.package.sha256, json_get_or<std::string>(json, "sha256", ""));
  CANOPY_ASSIGN_OR_RETURN(d.package.size_bytes, json_get_or<std::uint64_t>(json, "size_bytes", 0));
  CANOPY_ASSIGN_OR_RETURN(d.target, DeploymentTarget::from_json(json.value("target", Json())));
  CANOPY_ASSIGN_OR_RETURN(std::string state, json_get<std::string>(json, "state"));
  auto parsed_state = parse_deployment_state(state);
  if (!parsed_state) return bad_field("state", "'" + state + "' is not a deployment state");
  d.state = *parsed_state;
  CANOPY_ASSIGN_OR_RETURN(d.reason, json_get_or<std::string>(json, "reason", ""));
  CANOPY_ASSIGN_OR_RETURN(d.stage, json_get_or<int>(json, "stage", 0));
  CANOPY_ASSIGN_OR_RETURN(d.stage_name, json_get_or<std::string>(json, "stage_name", ""));
  CANOPY_ASSIGN_OR_RETURN(d.stage_started_at, json_get_or<std::string>(json, "stage_started_at", ""));
  CANOPY_ASSIGN_OR_RETURN(d.targeted, json_get_or<std::size_t>(json, "targeted", 0));
  CANOPY_ASSIGN_OR_RETURN(d.admitted, json_get_or<std::size_t>(json, "admitted", 0));
  CANOPY_ASSIGN_OR_RETURN(d.successes, json_get_or<std::size_t>(json, "successes", 0));
  CANOPY_ASSIGN_OR_RETURN(d.failures, json_get_or<std::size_t>(json, "failures", 0));
  CANOPY_ASSIGN_OR_RETURN(d.counts, (json_get_or<std::map<std::string, std::size_t>>(json, "counts", {})));
  CANOPY_ASSIGN_OR_RETURN(d.created_at, json_get_or<std::string>(json, "created_at", ""));
  CANOPY_ASSIGN_OR_RETURN(d.created_by, json_get_or<std::string>(json, "created_by", ""));
  CANOPY_ASSIGN_OR_RETURN(d.updated_at, json_get_or<std::string>(json, "updated_at", ""));
  if (const Json* rollback = optional_member(json, "rollback")) {
    RollbackSummary& summary = d.rollback.emplace();
    CANOPY_ASSIGN_OR_RETURN(summary.returning, json_get_or<std::size_t>(*rollback, "returning", 0));
    CANOPY_ASSIGN_OR_RETURN(summary.reverted, json_get_or<std::size_t>(*rollback, "reverted", 0));
    CANOPY_ASSIGN_OR_RETURN(summary.no_previous, json_get_or<std::size_t>(*rollback, "no_previous", 0));
    CANOPY_ASSIGN_OR_RETURN(summary.not_installed, json_get_or<std::size_t>(*rollback, "not_installed", 0));
  }
  if (!json.contains("stages")) return d;
  Detail detail;
  CANOPY_ASSIGN_OR_RETURN(detail.strategy, RolloutStrategy::from_json(json.value("strategy", Json())));
  for (const Json& s : json["stages"]) {
    StageProgress stage;
    CANOPY_ASSIGN_OR_RETURN(stage.name, json_get<std::string>(s, "name"));
    CANOPY_ASSIGN_OR_RETURN(stage.size, json_get_or<std::size_t>(s, "size", 0));
    CANOPY_ASSIGN_OR_RETURN(stage.admitted, json_get_or<std::size_t>(s, "admitted", 0));
    CANOPY_ASSIGN_OR_RETURN(stage.successes, json_get_or<std::size_t>(s, "successes", 0));
    CANOPY_ASSIGN_OR_RETURN(stage.failures, json_get_or<std::size_t>(s, "failures", 0));
    CANOPY_ASSIGN_OR_RETURN(stage.soak_s, json_get_or<std::int64_t>(s, "soak_s", 0));
    CANOPY_ASSIGN_OR_RETURN(stage.success_ratio, json_get_or<double>(s, "success_ratio", 0));
    CANOPY_ASSIGN_OR_RETURN(std::string status, json_get_or<std::string>(s, "status", "waiting"));
    stage.status = enum_value(kStageStatusNames, status).value_or(StageStatus::kWaiting);
    detail.stages.push_back(std::move(stage));
  }
  for (const Json& f : json.value("failure_reports", Json::array())) {
    FailureReport failure;
    CANOPY_ASSIGN_OR_RETURN(failure.device_id, json_get<std::string>(f, "device_id"));
    CANOPY_ASSIGN_OR_RETURN(failure.name, json_get_or<std::string>(f, "name", ""));
    CANOPY_ASSIGN_OR_RETURN(failure.state, json_get_or<std::string>(f, "state", ""));
    CANOPY_ASSIGN_OR_RETURN(failure.error, json_get_or<std::string>(f, "error", ""));
    CANOPY_ASSIGN_OR_RETURN(failure.at, json_get_or<std::string>(f, "at", ""));
    detail.failure_reports.push_back(std::move(failure));
  }
  d.detail = std::move(detail);
  return d;
}

}  // namespace canopy::api
