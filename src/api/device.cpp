#include "api/device.h"

#include "api/fields.h"
#include "common/enum_names.h"
#include "common/hash.h"
#include "common/text.h"

namespace canopy::api {

namespace {

constexpr EnumNames<DeviceStatus, 4> kDeviceStatusNames = {{
    {DeviceStatus::kPending, "pending"},
    {DeviceStatus::kActive, "active"},
    {DeviceStatus::kRevoked, "revoked"},
    {DeviceStatus::kDecommissioned, "decommissioned"},
}};

constexpr EnumNames<ReportState, 8> kReportStateNames = {{
    {ReportState::kIdle, "idle"},
    {ReportState::kDownloading, "downloading"},
    {ReportState::kVerifying, "verifying"},
    {ReportState::kInstalling, "installing"},
    {ReportState::kHealthChecking, "health-checking"},
    {ReportState::kSuccess, "success"},
    {ReportState::kFailed, "failed"},
    {ReportState::kRolledBack, "rolled-back"},
}};

Result<DeviceStatus> read_device_status(const Json& json, std::string_view field, std::string fallback) {
  CANOPY_ASSIGN_OR_RETURN(std::string text, json_get_or<std::string>(json, field, std::move(fallback)));
  auto status = parse_device_status(text);
  if (!status) return bad_field(field, "'" + text + "' must be pending, active, revoked or decommissioned");
  return *status;
}

Result<ReportState> read_report_state(const Json& json, std::string_view field) {
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_string(json, field, 32));
  auto state = parse_report_state(text);
  if (!state)
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(field) + " '" + text +
                          "' must be one of idle, downloading, verifying, installing, health-checking, "
                          "success, failed, rolled-back");
  return *state;
}

Json optional_json(const std::optional<std::int64_t>& value) { return value ? Json(*value) : Json(nullptr); }

Result<std::optional<std::int64_t>> read_optional_int(const Json& json, std::string_view field) {
  if (!optional_member(json, field)) return std::optional<std::int64_t>();
  CANOPY_ASSIGN_OR_RETURN(std::int64_t value, json_get<std::int64_t>(json, field));
  return std::optional<std::int64_t>(value);
}

}  // namespace

std::string_view device_status_name(DeviceStatus status) { return enum_name(kDeviceStatusNames, status); }
std::optional<DeviceStatus> parse_device_status(std::string_view text) {
  return enum_value(kDeviceStatusNames, text);
}
std::string_view report_state_name(ReportState state) { return enum_name(kReportStateNames, state); }
std::optional<ReportState> parse_report_state(std::string_view text) {
  return enum_value(kReportStateNames, text);
}
std::string_view action_name(Action action) { return action == Action::kInstall ? "install" : "rollback"; }

std::string package_url(const ModelRef& model) {
  return "/api/v1/device/packages/" + model.name + "/" + std::to_string(model.version);
}

// ---- enrollment ----

Json EnrollmentTokenRequest::to_json() const {
  return {{"group", group},
          {"approval", manual_approval ? "manual" : "auto"},
          {"expires_in_s", expires_in_s},
          {"max_uses", max_uses}};
}

Result<EnrollmentTokenRequest> EnrollmentTokenRequest::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "request body"));
  EnrollmentTokenRequest request;
  CANOPY_ASSIGN_OR_RETURN(request.group, read_string(json, "group", 64));
  if (request.group.empty())
    return make_error(ErrorCode::kInvalidArgument, "request body: field 'group' must not be empty");
  auto expires_in = json_get_or<std::int64_t>(json, "expires_in_s", 86400);
  if (!expires_in.ok()) return expires_in.error().with_context("request body");
  auto max_uses = json_get_or<std::int64_t>(json, "max_uses", 1);
  if (!max_uses.ok()) return max_uses.error().with_context("request body");
  CANOPY_ASSIGN_OR_RETURN(std::string approval, read_string(json, "approval", 16, "auto"));
  if (*expires_in < 1 || *expires_in > 365 * 86400)
    return make_error(ErrorCode::kInvalidArgument, "expires_in_s must be between 1 and 31536000 (a year)");
  if (*max_uses < 1) return make_error(ErrorCode::kInvalidArgument, "max_uses must be at least 1");
  if (approval != "auto" && approval != "manual")
    return make_error(ErrorCode::kInvalidArgument, "approval '" + approval + "' must be auto or manual");
  request.expires_in_s = *expires_in;
  request.max_uses = *max_uses;
  request.manual_approval = approval == "manual";
  return request;
}

std::string EnrollRequest::signed_text() const {
  return "canopy-enroll\n" + enrollment_token + "\n" + public_key + "\n" + name + "\n" + timestamp;
}

Json EnrollRequest::to_json() const {
  return {{"enrollment_token", enrollment_token},
          {"public_key", public_key},
          {"name", name},
          {"tags", tags},
          {"agent_version", agent_version},
          {"timestamp", timestamp},
          {"signature", signature}};
}

Result<EnrollRequest> EnrollRequest::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "request body"));
  EnrollRequest request;
  CANOPY_ASSIGN_OR_RETURN(request.enrollment_token, read_string(json, "enrollment_token", 256));
  CANOPY_ASSIGN_OR_RETURN(request.public_key, read_string(json, "public_key", 256));
  CANOPY_ASSIGN_OR_RETURN(request.name, read_string(json, "name", 128));
  CANOPY_ASSIGN_OR_RETURN(request.timestamp, read_string(json, "timestamp", 32));
  CANOPY_ASSIGN_OR_RETURN(request.signature, read_string(json, "signature", 256));
  CANOPY_ASSIGN_OR_RETURN(request.agent_version, read_string(json, "agent_version", 64, ""));
  if (const Json* tags = optional_member(json, "tags")) {
    CANOPY_ASSIGN_OR_RETURN(request.tags, read_tags(*tags, "tags"));
  }
  return request;
}

Json Enrollment::to_json() const {
  return {
      {"device_id", device_id}, {"device_token", device_token},       {"status", device_status_name(status)},
      {"group", group},         {"poll_interval_s", poll_interval_s}, {"trusted_keys", trusted_keys}};
}

Result<Enrollment> Enrollment::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "enrollment"));
  Enrollment e;
  CANOPY_ASSIGN_OR_RETURN(e.device_id, json_get<std::string>(json, "device_id"));
  CANOPY_ASSIGN_OR_RETURN(e.device_token, json_get<std::string>(json, "device_token"));
  CANOPY_ASSIGN_OR_RETURN(e.status, read_device_status(json, "status", "active"));
  CANOPY_ASSIGN_OR_RETURN(e.group, json_get_or<std::string>(json, "group", ""));
  CANOPY_ASSIGN_OR_RETURN(e.poll_interval_s, json_get_or<std::int64_t>(json, "poll_interval_s", 30));
  CANOPY_ASSIGN_OR_RETURN(e.trusted_keys, json_get<std::vector<std::string>>(json, "trusted_keys"));
  return e;
}

// ---- desired state ----

std::string KeyEndorsement::signed_text() const { return "canopy-key-endorsement\n" + key + "\n"; }

Json KeyEndorsement::to_json() const {
  return {{"key", key}, {"endorsed_by", endorsed_by}, {"signature", signature}};
}

Result<KeyEndorsement> KeyEndorsement::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "key endorsement"));
  KeyEndorsement endorsement;
  CANOPY_ASSIGN_OR_RETURN(endorsement.key, read_string(json, "key", 128));
  CANOPY_ASSIGN_OR_RETURN(endorsement.endorsed_by, read_string(json, "endorsed_by", 128));
  CANOPY_ASSIGN_OR_RETURN(endorsement.signature, read_string(json, "signature", 128));
  return endorsement;
}

Json DesiredState::to_json() const {
  Json out = {{"device_id", device_id},
              {"status", device_status_name(status)},
              {"poll_interval_s", poll_interval_s},
              {"deployment", nullptr},
              {"model", nullptr}};
  if (assignment) {
    const PackageRef& package = assignment->package;
    out["deployment"] = {{"id", assignment->deployment_id}, {"action", action_name(assignment->action)}};
    out["model"] = {{"name", package.model.name},
                    {"version", package.model.version},
                    {"sha256", package.sha256},
                    {"size", package.size_bytes},
                    {"url", assignment->url}};
  }
  if (field_config) out["field_config"] = {{"version", field_config->version}, {"text", field_config->text}};
  if (!key_endorsements.empty()) {
    out["key_endorsements"] = Json::array();
    for (const KeyEndorsement& endorsement : key_endorsements)
      out["key_endorsements"].push_back(endorsement.to_json());
  }
  return out;
}

Result<DesiredState> DesiredState::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "desired state"));
  DesiredState desired;
  CANOPY_ASSIGN_OR_RETURN(desired.device_id, json_get_or<std::string>(json, "device_id", ""));
  CANOPY_ASSIGN_OR_RETURN(desired.status, read_device_status(json, "status", "active"));
  CANOPY_ASSIGN_OR_RETURN(desired.poll_interval_s, json_get_or<std::int64_t>(json, "poll_interval_s", 30));
  if (const Json* config = optional_member(json, "field_config")) {
    FieldConfigVersion field_config;
    CANOPY_ASSIGN_OR_RETURN(field_config.version, json_get<std::int64_t>(*config, "version"));
    CANOPY_ASSIGN_OR_RETURN(field_config.text, read_string(*config, "text", kMaxFieldConfigBytes));
    if (field_config.version < 1)
      return make_error(ErrorCode::kInvalidArgument,
                        "desired state: the field configuration's version must be at least 1");
    desired.field_config = std::move(field_config);
  }
  if (const Json* endorsements = optional_member(json, "key_endorsements")) {
    if (!endorsements->is_array())
      return make_error(ErrorCode::kInvalidArgument, "desired state: key_endorsements must be an array");
    for (const Json& item : *endorsements) {
      auto endorsement = KeyEndorsement::from_json(item);
      if (!endorsement.ok()) return endorsement.error().with_context("desired state");
      desired.key_endorsements.push_back(std::move(*endorsement));
    }
  }
  const Json* model = optional_member(json, "model");
  if (!model) return desired;
  Assignment assignment;
  if (const Json* deployment = optional_member(json, "deployment"); deployment && deployment->is_object()) {
    CANOPY_ASSIGN_OR_RETURN(assignment.deployment_id, json_get<std::int64_t>(*deployment, "id"));
    CANOPY_ASSIGN_OR_RETURN(std::string action, json_get_or<std::string>(*deployment, "action", "install"));
    if (action != "install" && action != "rollback")
      return make_error(ErrorCode::kInvalidArgument, "desired state: unknown action '" + action + "'");
    assignment.action = action == "install" ? Action::kInstall : Action::kRollback;
  }
  PackageRef& package = assignment.package;
  CANOPY_ASSIGN_OR_RETURN(package.model.name, json_get<std::string>(*model, "name"));
  CANOPY_ASSIGN_OR_RETURN(package.model.version, json_get<std::int64_t>(*model, "version"));
  CANOPY_ASSIGN_OR_RETURN(package.sha256, json_get<std::string>(*model, "sha256"));
  CANOPY_ASSIGN_OR_RETURN(package.size_bytes, json_get<std::uint64_t>(*model, "size"));
  CANOPY_ASSIGN_OR_RETURN(assignment.url, json_get<std::string>(*model, "url"));
  if (!is_sha256_hex(package.sha256))
    return make_error(ErrorCode::kInvalidArgument,
                      "desired state: the model's sha256 is not a SHA-256 hex digest");
  if (!assignment.url.starts_with("/"))
    return make_error(ErrorCode::kInvalidArgument,
                      "desired state: the package url must be a path on the server");
  desired.assignment = std::move(assignment);
  return desired;
}

// ---- field configuration ----

Status check_field_config_text(std::string_view text) {
  if (text.empty()) return make_error(ErrorCode::kInvalidArgument, "the field configuration is empty");
  if (text.size() > kMaxFieldConfigBytes)
    return make_error(ErrorCode::kTooLarge,
                      "a field configuration may be at most " + std::to_string(kMaxFieldConfigBytes >> 10) +
                          " KiB; this one is " + std::to_string(text.size()) + " bytes");
  if (auto bad = invalid_utf8_at(text))
    return make_error(ErrorCode::kInvalidArgument,
                      "the field configuration must be UTF-8 text; byte " + std::to_string(*bad) + " is not");
  if (auto nul = text.find('\0'); nul != std::string_view::npos)
    return make_error(ErrorCode::kInvalidArgument,
                      "the field configuration must be text; byte " + std::to_string(nul) + " is NUL");
  return {};
}

Json FieldConfigRecord::to_json() const {
  Json out = {{"device", device_id},
              {"version", version},
              {"sha256", sha256},
              {"set_by", set_by},
              {"set_at", set_at}};
  if (text) out["text"] = *text;
  return out;
}

Result<FieldConfigRecord> FieldConfigRecord::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "field configuration"));
  FieldConfigRecord r;
  CANOPY_ASSIGN_OR_RETURN(r.device_id, read_string(json, "device", 64));
  CANOPY_ASSIGN_OR_RETURN(r.version, json_get<std::int64_t>(json, "version"));
  CANOPY_ASSIGN_OR_RETURN(r.sha256, read_string(json, "sha256", 64));
  CANOPY_ASSIGN_OR_RETURN(r.set_by, read_string(json, "set_by", 128, ""));
  CANOPY_ASSIGN_OR_RETURN(r.set_at, read_string(json, "set_at", 32, ""));
  if (optional_member(json, "text")) {
    CANOPY_ASSIGN_OR_RETURN(r.text, read_string(json, "text", kMaxFieldConfigBytes));
  }
  return r;
}

// ---- status reports ----

Json StatusReport::to_json() const {
  return {{"deployment_id", optional_json(deployment_id)},
          {"state", report_state_name(state)},
          {"progress", progress},
          {"model", api::to_json(model)},
          {"current", api::to_json(current)},
          {"previous", api::to_json(previous)},
          {"error", error},
          {"agent_version", agent_version},
          {"health", health},
          {"reported_at", reported_at}};
}

Result<StatusReport> StatusReport::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "request body"));
  StatusReport report;
  CANOPY_ASSIGN_OR_RETURN(report.state, read_report_state(json, "state"));
  CANOPY_ASSIGN_OR_RETURN(report.deployment_id, read_optional_int(json, "deployment_id"));
  CANOPY_ASSIGN_OR_RETURN(report.progress, json_get_or<double>(json, "progress", 0.0));
  if (!(report.progress >= 0.0 && report.progress <= 1.0))
    return bad_field("progress", "must be between 0 and 1");
  CANOPY_ASSIGN_OR_RETURN(report.model, read_model_ref(json, "model"));
  CANOPY_ASSIGN_OR_RETURN(report.current, read_model_ref(json, "current"));
  CANOPY_ASSIGN_OR_RETURN(report.previous, read_model_ref(json, "previous"));
  CANOPY_ASSIGN_OR_RETURN(report.error, read_string(json, "error", 1024, ""));
  CANOPY_ASSIGN_OR_RETURN(report.agent_version, read_string(json, "agent_version", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(report.health, read_string(json, "health", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(report.reported_at, read_string(json, "reported_at", 32, ""));
  return report;
}

// ---- inventory ----

Json DeviceInfo::to_json() const {
  Json out = {{"id", id},
              {"name", name},
              {"group", group},
              {"status", device_status_name(status)},
              {"tags", tags},
              {"agent_version", agent_version},
              {"current", api::to_json(current)},
              {"previous", api::to_json(previous)},
              {"state", report_state_name(state)},
              {"health", health},
              {"last_error", last_error},
              {"last_seen", last_seen.empty() ? Json(nullptr) : Json(last_seen)},
              {"enrolled_at", enrolled_at},
              {"deployment", optional_json(deployment)}};
  if (reports) {
    Json list = Json::array();
    for (const auto& received : *reports) {
      Json entry = received.report.to_json();
      entry["received_at"] = received.received_at;
      list.push_back(std::move(entry));
    }
    out["reports"] = std::move(list);
  }
  return out;
}

Result<DeviceInfo> DeviceInfo::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "device"));
  DeviceInfo d;
  CANOPY_ASSIGN_OR_RETURN(d.id, json_get<std::string>(json, "id"));
  CANOPY_ASSIGN_OR_RETURN(d.name, json_get_or<std::string>(json, "name", ""));
  CANOPY_ASSIGN_OR_RETURN(d.group, json_get_or<std::string>(json, "group", ""));
  CANOPY_ASSIGN_OR_RETURN(d.status, read_device_status(json, "status", "pending"));
  if (const Json* tags = optional_member(json, "tags")) {
    CANOPY_ASSIGN_OR_RETURN(d.tags, read_tags(*tags, "tags"));
  }
  CANOPY_ASSIGN_OR_RETURN(d.agent_version, json_get_or<std::string>(json, "agent_version", ""));
  CANOPY_ASSIGN_OR_RETURN(d.current, read_model_ref(json, "current"));
  CANOPY_ASSIGN_OR_RETURN(d.previous, read_model_ref(json, "previous"));
  CANOPY_ASSIGN_OR_RETURN(std::string state, json_get_or<std::string>(json, "state", "idle"));
  d.state = parse_report_state(state).value_or(ReportState::kIdle);
  CANOPY_ASSIGN_OR_RETURN(d.health, json_get_or<std::string>(json, "health", ""));
  CANOPY_ASSIGN_OR_RETURN(d.last_error, json_get_or<std::string>(json, "last_error", ""));
  if (optional_member(json, "last_seen")) {
    CANOPY_ASSIGN_OR_RETURN(d.last_seen, json_get<std::string>(json, "last_seen"));
  }
  CANOPY_ASSIGN_OR_RETURN(d.enrolled_at, json_get_or<std::string>(json, "enrolled_at", ""));
  CANOPY_ASSIGN_OR_RETURN(d.deployment, read_optional_int(json, "deployment"));
  if (const Json* reports = optional_member(json, "reports"); reports && reports->is_array()) {
    d.reports.emplace();
    for (const Json& entry : *reports) {
      CANOPY_ASSIGN_OR_RETURN(StatusReport report, StatusReport::from_json(entry));
      CANOPY_ASSIGN_OR_RETURN(std::string received_at, json_get_or<std::string>(entry, "received_at", ""));
      d.reports->push_back({std::move(report), std::move(received_at)});
    }
  }
  return d;
}

}  // namespace canopy::api
