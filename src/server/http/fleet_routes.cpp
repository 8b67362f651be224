// The fleet's routes (docs/fleet.md): enrollment and the device API,
// authenticated by device token, and the admin/operator API for enrollment
// tokens, devices and deployments, authenticated by API key. Device tokens
// are accepted only on /api/v1/device/...; API keys never are there.
#include <spdlog/spdlog.h>

#include "server/http/middleware.h"
#include "server/http/package_response.h"
#include "server/http/routes.h"

namespace canopy::server {

namespace {

using httplib::Request;
using httplib::Response;

constexpr std::size_t kMaxJsonBytes = 64 << 10;  // enrollment and status bodies are a few hundred bytes

Error too_large_body() { return make_error(ErrorCode::kTooLarge, "request body may be at most 64 KiB"); }

Result<Json> parse_object(const std::string& text) {
  CANOPY_ASSIGN_OR_RETURN(Json body, parse_json(text, "request body"));
  if (!body.is_object()) return make_error(ErrorCode::kInvalidArgument, "request body must be a JSON object");
  return body;
}

// For routes behind an API key: httplib has read the body already.
Result<Json> json_body(const Request& req) {
  if (req.body.size() > kMaxJsonBytes) return too_large_body();
  return parse_object(req.body);
}

// For routes anyone can reach: reads at most kMaxJsonBytes and stops there,
// so no sender can make the server hold a large body in memory.
Result<Json> read_json_body(const httplib::ContentReader& reader, Response& res) {
  std::string text;
  bool too_large = false;
  const bool complete = reader([&](const char* data, std::size_t length) {
    if (text.size() + length > kMaxJsonBytes) {
      too_large = true;
      return false;
    }
    text.append(data, length);
    return true;
  });
  if (too_large) {
    res.set_header("Connection", "close");  // the rest of the body is never read
    return too_large_body();
  }
  if (!complete) return make_error(ErrorCode::kInvalidArgument, "request body was cut off; send it again");
  return parse_object(text);
}

using DeviceHandler = std::function<void(const Request&, Response&, const std::string& device_id)>;
using DeviceReaderHandler = std::function<void(const Request&, Response&, const httplib::ContentReader&,
                                               const std::string& device_id)>;

// Device routes take only "Authorization: Bearer cdt_...": an API key, in
// either header, is refused like an unknown token.
Result<std::string> authenticate(Fleet& fleet, const Request& req) {
  const std::string auth = req.get_header_value("Authorization");
  if (!req.get_header_value("X-API-KEY").empty() || auth.rfind("Bearer ", 0) != 0)
    return make_error(ErrorCode::kUnauthenticated,
                      "a valid device token is required (send it as Authorization: Bearer cdt_...)");
  return fleet.authenticate_device(std::string_view(auth).substr(7));
}

httplib::Server::Handler device_guarded(Fleet& fleet, DeviceHandler handler) {
  return [&fleet, handler = std::move(handler)](const Request& req, Response& res) {
    auto device = authenticate(fleet, req);
    if (!device.ok()) return send_error(res, device.error());
    handler(req, res, *device);
  };
}

// The body is read only after the token checks out.
httplib::Server::HandlerWithContentReader device_guarded_reader(Fleet& fleet, DeviceReaderHandler handler) {
  return [&fleet, handler = std::move(handler)](const Request& req, Response& res,
                                                const httplib::ContentReader& reader) {
    auto device = authenticate(fleet, req);
    if (!device.ok()) {
      res.set_header("Connection", "close");  // the unread body is dropped with the connection
      return send_error(res, device.error());
    }
    handler(req, res, reader, *device);
  };
}

void install_device_routes(httplib::Server& http, Fleet& fleet, Registry& registry) {
  http.Post("/api/v1/enroll", [&fleet](const Request&, Response& res, const httplib::ContentReader& reader) {
    auto body = read_json_body(reader, res);
    if (!body.ok()) return send_error(res, body.error());
    auto request = api::EnrollRequest::from_json(*body);
    auto enrolled = request.ok() ? fleet.enroll(*request) : Result<api::Enrollment>(request.error());
    if (!enrolled.ok()) {
      spdlog::warn("fleet.enroll.refused reason=\"{}\"", enrolled.error().message);
      return send_error(res, enrolled.error());
    }
    send_json(res, 201, enrolled->to_json());
  });

  http.Get("/api/v1/device/desired",
           device_guarded(fleet, [&fleet](const Request& req, Response& res, const std::string& device_id) {
             auto desired = fleet.desired(device_id);
             if (!desired.ok()) return send_error(res, desired.error());
             res.set_header("ETag", desired->etag);
             if (req.get_header_value("If-None-Match") == desired->etag) {
               res.status = 304;
               return;
             }
             res.status = 200;
             res.set_content(desired->body, "application/json");
           }));

  http.Get(R"(/api/v1/device/packages/([^/]+)/([^/]+))",
           device_guarded(
               fleet, [&fleet, &registry](const Request& req, Response& res, const std::string& device_id) {
                 auto version = positive_number(req.matches[2].str(), "version");
                 if (!version.ok()) return send_error(res, version.error());
                 const ModelRef wanted{req.matches[1].str(), *version};
                 Status allowed = fleet.check_package_allowed(device_id, wanted);
                 if (!allowed.ok()) return send_error(res, allowed.error());
                 auto record = registry.get_version(wanted.name, wanted.version);
                 if (!record.ok()) return send_error(res, record.error());
                 serve_package(*record, registry.blob_path(record->blob_sha256), req, res);
               }));

  http.Post("/api/v1/device/status",
            device_guarded_reader(
                fleet, [&fleet](const Request&, Response& res, const httplib::ContentReader& reader,
                                const std::string& device_id) {
                  auto body = read_json_body(reader, res);
                  if (!body.ok()) return send_error(res, body.error());
                  auto report = api::StatusReport::from_json(*body);
                  if (!report.ok()) return send_error(res, report.error());
                  Status reported = fleet.report(device_id, *report);
                  if (!reported.ok()) return send_error(res, reported.error());
                  send_json(res, 200, {{"ok", true}});
                }));
}

void install_admin_routes(httplib::Server& http, const ApiKeys& keys, Fleet& fleet) {
  http.Post("/api/v1/enrollment-tokens",
            guarded(keys, Role::kAdmin, [&fleet](const Request& req, Response& res, const ApiKeyRecord& key) {
              auto body = json_body(req);
              if (!body.ok()) return send_error(res, body.error());
              auto request = api::EnrollmentTokenRequest::from_json(*body);
              if (!request.ok()) return send_error(res, request.error());
              auto token = fleet.create_enrollment_token(*request, key.display_name());
              if (!token.ok()) return send_error(res, token.error());
              Json out = token->record.to_json();
              out["token"] = token->secret;
              send_json(res, 201, out);
            }));
  http.Get("/api/v1/enrollment-tokens",
           guarded(keys, Role::kAdmin, [&fleet](const Request&, Response& res, const ApiKeyRecord&) {
             Json list = Json::array();
             for (const auto& token : fleet.list_enrollment_tokens()) list.push_back(token.to_json());
             send_json(res, 200, {{"enrollment_tokens", list}});
           }));

  http.Get(
      "/api/v1/devices",
      guarded(keys, Role::kReader, [&fleet](const Request& req, Response& res, const ApiKeyRecord&) {
        const std::string status_text = req.get_param_value("status");
        const auto status = api::parse_device_status(status_text);
        if (!status_text.empty() && !status)
          return send_error(res, make_error(ErrorCode::kInvalidArgument,
                                            "status '" + status_text +
                                                "' must be pending, active, revoked or decommissioned"));
        Json list = Json::array();
        for (const auto& device : fleet.list_devices(req.get_param_value("group"), req.get_param_value("tag"),
                                                     status_text.empty() ? std::nullopt : status))
          list.push_back(device.to_json());
        send_json(res, 200, {{"devices", list}});
      }));
  http.Get(R"(/api/v1/devices/([^/]+))",
           guarded(keys, Role::kReader, [&fleet](const Request& req, Response& res, const ApiKeyRecord&) {
             auto device = fleet.show_device(req.matches[1].str());
             if (!device.ok()) return send_error(res, device.error());
             send_json(res, 200, device->to_json());
           }));
  http.Post(R"(/api/v1/devices/([^/]+)/(approve|revoke|decommission))",
            guarded(keys, Role::kAdmin, [&fleet](const Request& req, Response& res, const ApiKeyRecord&) {
              const std::string operation = req.matches[2].str();
              DeviceStatus status = operation == "approve"  ? DeviceStatus::kActive
                                    : operation == "revoke" ? DeviceStatus::kRevoked
                                                            : DeviceStatus::kDecommissioned;
              auto device = fleet.set_device_status(req.matches[1].str(), status);
              if (!device.ok()) return send_error(res, device.error());
              send_json(res, 200, device->to_json());
            }));

  http.Post(
      "/api/v1/deployments",
      guarded(keys, Role::kPublisher, [&fleet](const Request& req, Response& res, const ApiKeyRecord& key) {
        auto body = json_body(req);
        if (!body.ok()) return send_error(res, body.error());
        auto request = api::DeploymentRequest::from_json(*body);
        if (!request.ok()) return send_error(res, request.error());
        auto created = fleet.create_deployment(*request, key.display_name());
        if (!created.ok()) return send_error(res, created.error());
        send_json(res, 201, created->to_json());
      }));
  http.Get("/api/v1/deployments",
           guarded(keys, Role::kReader, [&fleet](const Request&, Response& res, const ApiKeyRecord&) {
             Json list = Json::array();
             for (const auto& deployment : fleet.list_deployments()) list.push_back(deployment.to_json());
             send_json(res, 200, {{"deployments", list}});
           }));
  http.Get(R"(/api/v1/deployments/([^/]+))",
           guarded(keys, Role::kReader, [&fleet](const Request& req, Response& res, const ApiKeyRecord&) {
             auto id = positive_number(req.matches[1].str(), "deployment id");
             if (!id.ok()) return send_error(res, id.error());
             auto status = fleet.deployment_status(*id);
             if (!status.ok()) return send_error(res, status.error());
             send_json(res, 200, status->to_json());
           }));
  http.Post(
      R"(/api/v1/deployments/([^/]+)/(pause|resume|abort|rollback))",
      guarded(keys, Role::kPublisher, [&fleet](const Request& req, Response& res, const ApiKeyRecord& key) {
        auto id = positive_number(req.matches[1].str(), "deployment id");
        if (!id.ok()) return send_error(res, id.error());
        auto status = fleet.control_deployment(*id, req.matches[2].str(), key.display_name());
        if (!status.ok()) return send_error(res, status.error());
        send_json(res, 200, status->to_json());
      }));
}

}  // namespace

void install_fleet_routes(httplib::Server& http, const ApiKeys& keys, Fleet& fleet, Registry& registry) {
  install_device_routes(http, fleet, registry);
  install_admin_routes(http, keys, fleet);
}

}  // namespace canopy::server
