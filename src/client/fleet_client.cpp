#include "client/fleet_client.h"

#include "client/registry_client.h"

namespace canopy::client {

FleetClient::FleetClient(const std::string& server_url, const std::string& api_key, HttpOptions options)
    : http_(server_url, [&] {
        options.headers.push_back("X-API-KEY: " + api_key);
        return options;
      }()) {}

Result<Json> FleetClient::call(const std::string& method, const std::string& path, const Json& body,
                               const std::string& what) {
  auto response = method == "GET" ? http_.get(path) : http_.send(method, path, body.dump(), "application/json");
  return parse_answer(response, what);
}

Result<Json> FleetClient::create_enrollment_token(const Json& request) {
  return call("POST", "/api/v1/enrollment-tokens", request, "creating an enrollment token");
}

Result<Json> FleetClient::list_enrollment_tokens() {
  return call("GET", "/api/v1/enrollment-tokens", nullptr, "listing enrollment tokens");
}

Result<Json> FleetClient::list_devices(const std::string& group, const std::string& tag, const std::string& status) {
  std::string query;
  for (const auto& [name, value] : {std::pair{"group", group}, {"tag", tag}, {"status", status}}) {
    if (value.empty()) continue;
    query += query.empty() ? '?' : '&';
    query.append(name).append("=").append(url_segment(value));
  }
  return call("GET", "/api/v1/devices" + query, nullptr, "listing devices");
}

Result<Json> FleetClient::show_device(const std::string& id) {
  return call("GET", "/api/v1/devices/" + url_segment(id), nullptr, "showing device " + id);
}

Result<Json> FleetClient::change_device(const std::string& id, const std::string& operation) {
  return call("POST", "/api/v1/devices/" + url_segment(id) + "/" + operation, Json::object(),
              operation + " of device " + id);
}

Result<Json> FleetClient::create_deployment(const Json& request) {
  return call("POST", "/api/v1/deployments", request, "creating a deployment");
}

Result<Json> FleetClient::list_deployments() { return call("GET", "/api/v1/deployments", nullptr, "listing deployments"); }

Result<Json> FleetClient::deployment_status(std::int64_t id) {
  return call("GET", "/api/v1/deployments/" + std::to_string(id), nullptr, "deployment " + std::to_string(id));
}

Result<Json> FleetClient::control_deployment(std::int64_t id, const std::string& operation) {
  return call("POST", "/api/v1/deployments/" + std::to_string(id) + "/" + operation, Json::object(),
              operation + " of deployment " + std::to_string(id));
}

}  // namespace canopy::client
