#include "agent/device_client.h"

#include "common/hash.h"
#include "common/time.h"

namespace canopy::agent {

namespace {

// Statuses worth retrying later are network trouble from the device's point
// of view; the rest are the server's answer to this request.
Error response_error(const HttpResponse& response, const std::string& what) {
  Error error = http_status_error(response, what);
  if (response.status >= 500 || response.status == 408 || response.status == 429)
    error.code = ErrorCode::kNetwork;
  return error;
}

}  // namespace

DeviceClient::DeviceClient(std::string server_url, HttpOptions options)
    : server_url_(std::move(server_url)), options_(std::move(options)) {
  while (!server_url_.empty() && server_url_.back() == '/') server_url_.pop_back();
}

HttpClient DeviceClient::client(bool with_token) const {
  HttpOptions options = options_;
  if (with_token) options.headers.push_back("Authorization: Bearer " + token_);
  return HttpClient(server_url_, options);
}

Result<Enrollment> DeviceClient::enroll(const EnrollRequest& request, const KeyPair& identity) {
  // The key file's line without its newline: the form docs/fleet.md signs and sends.
  std::string public_key = identity.public_key.to_text();
  while (!public_key.empty() && public_key.back() == '\n') public_key.pop_back();
  const std::string timestamp = now_rfc3339();
  const std::string proof = enrollment_proof(request.enrollment_token, public_key, request.name, timestamp);
  Json tags = Json::object();
  for (const auto& [key, value] : request.tags) tags[key] = value;
  const Json body = {{"enrollment_token", request.enrollment_token},
                     {"public_key", public_key},
                     {"name", request.name},
                     {"tags", tags},
                     {"agent_version", request.agent_version},
                     {"timestamp", timestamp},
                     {"signature", base64_encode(sign_detached(identity, proof))}};
  CANOPY_ASSIGN_OR_RETURN(HttpResponse response,
                          client(false).send("POST", "/api/v1/enroll", body.dump(), "application/json"));
  if (response.status != 201 && response.status != 200) return response_error(response, "enrollment");
  CANOPY_ASSIGN_OR_RETURN(Json json, parse_json(response.body, "enrollment response"));
  Enrollment e;
  CANOPY_ASSIGN_OR_RETURN(e.device_id, json_get<std::string>(json, "device_id"));
  CANOPY_ASSIGN_OR_RETURN(e.device_token, json_get<std::string>(json, "device_token"));
  CANOPY_ASSIGN_OR_RETURN(e.status, json_get_or<std::string>(json, "status", "active"));
  CANOPY_ASSIGN_OR_RETURN(e.group, json_get_or<std::string>(json, "group", ""));
  CANOPY_ASSIGN_OR_RETURN(e.poll_interval_s, json_get_or<int>(json, "poll_interval_s", 30));
  CANOPY_ASSIGN_OR_RETURN(e.trusted_keys, json_get<std::vector<std::string>>(json, "trusted_keys"));
  if (e.device_id != identity.public_key.key_id())
    return make_error(ErrorCode::kInvalidArgument, "the server assigned device id " + e.device_id +
                                                       ", which is not this device's key id " +
                                                       identity.public_key.key_id());
  return e;
}

Result<DesiredState> parse_desired(const Json& body) {
  if (!body.is_object()) return make_error(ErrorCode::kInvalidArgument, "desired state: not a JSON object");
  DesiredState desired;
  CANOPY_ASSIGN_OR_RETURN(desired.status, json_get_or<std::string>(body, "status", "active"));
  CANOPY_ASSIGN_OR_RETURN(desired.poll_interval_s, json_get_or<int>(body, "poll_interval_s", 30));
  const Json model = body.value("model", Json());
  if (model.is_null()) return desired;
  const Json deployment = body.value("deployment", Json());
  Target target;
  if (deployment.is_object()) {
    CANOPY_ASSIGN_OR_RETURN(target.deployment_id, json_get<std::int64_t>(deployment, "id"));
    CANOPY_ASSIGN_OR_RETURN(target.action, json_get_or<std::string>(deployment, "action", "install"));
  }
  if (target.action != "install" && target.action != "rollback")
    return make_error(ErrorCode::kInvalidArgument, "desired state: unknown action '" + target.action + "'");
  CANOPY_ASSIGN_OR_RETURN(target.model.name, json_get<std::string>(model, "name"));
  CANOPY_ASSIGN_OR_RETURN(target.model.version, json_get<std::int64_t>(model, "version"));
  CANOPY_ASSIGN_OR_RETURN(target.model.sha256, json_get<std::string>(model, "sha256"));
  CANOPY_ASSIGN_OR_RETURN(target.size_bytes, json_get<std::uint64_t>(model, "size"));
  CANOPY_ASSIGN_OR_RETURN(target.url, json_get<std::string>(model, "url"));
  // The hash names the download file on disk, so it must be nothing but hex.
  if (!is_sha256_hex(target.model.sha256))
    return make_error(ErrorCode::kInvalidArgument,
                      "desired state: the model's sha256 is not a SHA-256 hex digest");
  if (!target.url.starts_with("/"))
    return make_error(ErrorCode::kInvalidArgument,
                      "desired state: the package url must be a path on the server");
  desired.target = std::move(target);
  return desired;
}

Result<DesiredPoll> DeviceClient::poll_desired(const std::string& etag) {
  HttpOptions options = options_;
  options.headers.push_back("Authorization: Bearer " + token_);
  if (!etag.empty()) options.headers.push_back("If-None-Match: " + etag);
  CANOPY_ASSIGN_OR_RETURN(HttpResponse response,
                          HttpClient(server_url_, options).get("/api/v1/device/desired"));
  DesiredPoll poll;
  poll.etag = response.header("etag");
  if (response.status == 304) {
    poll.not_modified = true;
    poll.etag = etag;
    return poll;
  }
  if (response.status != 200) return response_error(response, "desired state");
  CANOPY_ASSIGN_OR_RETURN(Json json, parse_json(response.body, "desired state"));
  CANOPY_ASSIGN_OR_RETURN(poll.state, parse_desired(json));
  return poll;
}

Status DeviceClient::download(const std::string& url, const std::filesystem::path& destination,
                              const ProgressCallback& progress) {
  CANOPY_ASSIGN_OR_RETURN(HttpResponse response, client(true).download(url, destination, progress));
  if (response.status < 200 || response.status >= 300) return response_error(response, "package download");
  return {};
}

Status DeviceClient::report(const Json& status) {
  CANOPY_ASSIGN_OR_RETURN(HttpResponse response, client(true).send("POST", "/api/v1/device/status",
                                                                   status.dump(), "application/json"));
  if (response.status != 200) return response_error(response, "status report");
  return {};
}

}  // namespace canopy::agent
