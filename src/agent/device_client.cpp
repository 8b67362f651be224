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

void DeviceClient::set_device_token(std::string token) {
  std::lock_guard lock(token_->mutex);
  token_->value = std::move(token);
}

std::string DeviceClient::token() const {
  std::lock_guard lock(token_->mutex);
  return token_->value;
}

HttpClient DeviceClient::client(bool with_token) const {
  HttpOptions options = options_;
  if (with_token) options.headers.push_back("Authorization: Bearer " + token());
  return HttpClient(server_url_, options);
}

Result<api::Enrollment> DeviceClient::enroll(api::EnrollRequest request, const KeyPair& identity) {
  // The key file's line without its newline: the form docs/fleet.md signs and sends.
  request.public_key = identity.public_key.to_text();
  while (!request.public_key.empty() && request.public_key.back() == '\n') request.public_key.pop_back();
  // The system clock's time even under a simulated clock: the server checks
  // it against its own (real) clock to refuse replayed enrollments.
  request.timestamp = now_rfc3339();
  request.signature = base64_encode(sign_detached(identity, request.signed_text()));
  CANOPY_ASSIGN_OR_RETURN(
      HttpResponse response,
      client(false).send("POST", "/api/v1/enroll", request.to_json().dump(), "application/json"));
  if (response.status != 201 && response.status != 200) return response_error(response, "enrollment");
  CANOPY_ASSIGN_OR_RETURN(Json json, parse_json(response.body, "enrollment response"));
  CANOPY_ASSIGN_OR_RETURN(api::Enrollment e, api::Enrollment::from_json(json));
  if (e.device_id != identity.public_key.key_id())
    return make_error(ErrorCode::kInvalidArgument, "the server assigned device id " + e.device_id +
                                                       ", which is not this device's key id " +
                                                       identity.public_key.key_id());
  return e;
}

Result<DesiredPoll> DeviceClient::poll_desired(const std::string& etag) {
  HttpOptions options = options_;
  options.headers.push_back("Authorization: Bearer " + token());
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
  CANOPY_ASSIGN_OR_RETURN(poll.state, api::DesiredState::from_json(json));
  return poll;
}

Status DeviceClient::download(const std::string& url, const std::filesystem::path& destination,
                              const ProgressCallback& progress) {
  CANOPY_ASSIGN_OR_RETURN(HttpResponse response, client(true).download(url, destination, progress));
  if (response.status < 200 || response.status >= 300) return response_error(response, "package download");
  return {};
}

Status DeviceClient::report(const api::StatusReport& status) {
  CANOPY_ASSIGN_OR_RETURN(
      HttpResponse response,
      client(true).send("POST", "/api/v1/device/status", status.to_json().dump(), "application/json"));
  if (response.status != 200) return response_error(response, "status report");
  return {};
}

Result<api::RecordAck> DeviceClient::post_records(const api::RecordBatch& batch) {
  CANOPY_ASSIGN_OR_RETURN(
      HttpResponse response,
      client(true).send("POST", "/api/v1/device/records", batch.to_json().dump(), "application/json"));
  if (response.status != 200) return response_error(response, "record upload");
  // An answer that cannot be read says nothing about the batch: it must be
  // sent again, never taken for a refusal of it.
  auto json = parse_json(response.body, "record acknowledgement");
  auto ack = json.ok() ? api::RecordAck::from_json(*json) : Result<api::RecordAck>(json.error());
  if (!ack.ok())
    return make_error(ErrorCode::kNetwork, "unreadable record acknowledgement: " + ack.error().message);
  return ack;
}

Result<std::string> DeviceClient::rotate_token() {
  CANOPY_ASSIGN_OR_RETURN(HttpResponse response,
                          client(true).send("POST", "/api/v1/device/token", "", "application/json"));
  if (response.status != 201) return response_error(response, "token rotation");
  CANOPY_ASSIGN_OR_RETURN(Json json, parse_json(response.body, "token rotation answer"));
  auto token = json_get<std::string>(json, "device_token");
  if (!token.ok() || !token->starts_with("cdt_"))
    return make_error(ErrorCode::kNetwork, "the token rotation answer holds no device token");
  return *token;
}

}  // namespace canopy::agent
