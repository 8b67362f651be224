// A client for the fleet's admin and operator API (docs/fleet.md): enrollment
// tokens, devices and deployments, authenticated by API key. Every call
// returns the server's JSON, or an Error whose message is the server's
// one-line explanation.
// Thread-safety: one FleetClient per thread.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"
#include "common/http_client.h"
#include "common/json.h"

namespace canopy::client {

class FleetClient {
 public:
  FleetClient(const std::string& server_url, const std::string& api_key, HttpOptions options = {});

  // `request` is the body of POST /api/v1/enrollment-tokens.
  Result<Json> create_enrollment_token(const Json& request);
  Result<Json> list_enrollment_tokens();

  // Empty filters are left out; `tag` is "key:value".
  Result<Json> list_devices(const std::string& group, const std::string& tag, const std::string& status);
  Result<Json> show_device(const std::string& id);
  // `operation` is approve, revoke or decommission.
  Result<Json> change_device(const std::string& id, const std::string& operation);

  // `request` is the body of POST /api/v1/deployments.
  Result<Json> create_deployment(const Json& request);
  Result<Json> list_deployments();
  Result<Json> deployment_status(std::int64_t id);
  // `operation` is pause, resume, abort or rollback.
  Result<Json> control_deployment(std::int64_t id, const std::string& operation);

 private:
  Result<Json> call(const std::string& method, const std::string& path, const Json& body, const std::string& what);
  HttpClient http_;
};

}  // namespace canopy::client
