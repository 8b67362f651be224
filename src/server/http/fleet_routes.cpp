// The fleet's routes (docs/fleet.md): enrollment and the device API,
// authenticated by device token, and the operator API for enrollment
// tokens, devices, their field configurations and deployments, authenticated
// by API key. Device tokens are accepted only on /api/v1/device/...; API keys
// never are there.
#include <spdlog/spdlog.h>

#include "server/http/middleware.h"
#include "server/http/package_response.h"
#include "server/http/routes.h"

namespace canopy::server {

namespace {

using httplib::Request;
using httplib::Response;

constexpr std::size_t kMaxJsonBytes = 64 << 10;  // enrollment and status bodies are a few hundred bytes

// For routes behind an API key: httplib has read the body already.
Result<Json> json_body(const Request& req) {
  if (req.body.size() > kMaxJsonBytes) return body_too_large(kMaxJsonBytes);
  return parse_json_object(req.body);
}

void install_device_routes(Routes& routes, Fleet& fleet, Registry& registry) {
  // Public: the enrollment token in the body is the credential, checked by the fleet.
  routes.post_streamed("/api/v1/enroll", kPublic,
                       [&fleet, certificates = routes.device_certificates()](
                           const Request& req, Response& res, const httplib::ContentReader& reader) {
                         auto body = read_json_body(req, reader, res, kMaxJsonBytes);
                         if (!body.ok()) return send_error(res, body.error());
                         auto enrolled = [&]() -> Result<api::Enrollment> {
                           CANOPY_ASSIGN_OR_RETURN(api::EnrollRequest request,
                                                   api::EnrollRequest::from_json(*body));
                           // Mutual TLS: the key enrolled must be the certificate's, checked
                           // before the enrollment token is spent.
                           CANOPY_TRY(check_enrollment_certificate(certificates, req, request.public_key));
                           return fleet.enroll(request);
                         }();
                         if (!enrolled.ok()) {
                           spdlog::warn("fleet.enroll.refused reason=\"{}\"", enrolled.error().message);
                           return send_error(res, enrolled.error());
                         }
                         send_json(res, 201, enrolled->to_json());
                       });

  routes.get("/api/v1/device/desired", kDeviceToken,
             [&fleet](const Request& req, Response& res, const std::string& device_id) {
               auto desired = fleet.desired(device_id);
               if (!desired.ok()) return send_error(res, desired.error());
               res.set_header("ETag", desired->etag);
               if (req.get_header_value("If-None-Match") == desired->etag) {
                 res.status = 304;
                 return;
               }
               res.status = 200;
               res.set_content(desired->body, "application/json");
             });

  routes.post("/api/v1/device/token", kDeviceToken,
              [&fleet](const Request&, Response& res, const std::string& device_id) {
                auto token = fleet.rotate_token(device_id);
                if (!token.ok()) return send_error(res, token.error());
                res.set_header("Cache-Control", "no-store");
                send_json(res, 201, {{"device_token", *token}});
              });

  routes.get(R"(/api/v1/device/packages/([^/]+)/([^/]+))", kDeviceToken,
             [&fleet, &registry](const Request& req, Response& res, const std::string& device_id) {
               auto version = positive_number(req.matches[2].str(), "version");
               if (!version.ok()) return send_error(res, version.error());
               const ModelRef wanted{req.matches[1].str(), *version};
               Status allowed = fleet.check_package_allowed(device_id, wanted);
               if (!allowed.ok()) return send_error(res, allowed.error());
               auto record = registry.get_version(wanted.name, wanted.version);
               if (!record.ok()) return send_error(res, record.error());
               serve_package(*record, registry.blob_path(record->blob_sha256), req, res);
             });

  routes.post_streamed("/api/v1/device/status", kDeviceToken,
                       [&fleet](const Request& req, Response& res, const httplib::ContentReader& reader,
                                const std::string& device_id) {
                         auto body = read_json_body(req, reader, res, kMaxJsonBytes);
                         if (!body.ok()) return send_error(res, body.error());
                         auto report = api::StatusReport::from_json(*body);
                         if (!report.ok()) return send_error(res, report.error());
                         Status reported = fleet.report(device_id, *report);
                         if (!reported.ok()) return send_error(res, reported.error());
                         send_json(res, 200, {{"ok", true}});
                       });
}

void install_operator_routes(Routes& routes, Fleet& fleet) {
  routes.post("/api/v1/enrollment-tokens", Role::kOperator,
              [&fleet](const Request& req, Response& res, const ApiKeyRecord& key) {
                auto body = json_body(req);
                if (!body.ok()) return send_error(res, body.error());
                auto request = api::EnrollmentTokenRequest::from_json(*body);
                if (!request.ok()) return send_error(res, request.error());
                auto token = fleet.create_enrollment_token(*request, key.display_name());
                if (!token.ok()) return send_error(res, token.error());
                Json out = token->record.to_json();
                out["token"] = token->secret;
                send_json(res, 201, out);
              });
  routes.get("/api/v1/enrollment-tokens", Role::kOperator,
             [&fleet](const Request&, Response& res, const ApiKeyRecord&) {
               Json list = Json::array();
               for (const auto& token : fleet.list_enrollment_tokens()) list.push_back(token.to_json());
               send_json(res, 200, {{"enrollment_tokens", list}});
             });

  routes.get("/api/v1/devices", Role::kReader,
             [&fleet](const Request& req, Response& res, const ApiKeyRecord&) {
               std::map<std::string, std::string> params(req.params.begin(), req.params.end());
               auto query = parse_device_query(params);
               if (!query.ok()) return send_error(res, query.error());
               Fleet::DevicePage page = fleet.query_devices(*query);
               Json list = Json::array();
               for (const auto& device : page.devices) list.push_back(device.to_json());
               send_json(res, 200, {{"devices", list}, {"total", page.total}, {"offset", query->offset}});
             });
  routes.get("/api/v1/fleet/summary", Role::kReader,
             [&fleet](const Request&, Response& res, const ApiKeyRecord&) {
               send_json(res, 200, fleet.summarize_devices());
             });
  routes.get(R"(/api/v1/devices/([^/]+))", Role::kReader,
             [&fleet](const Request& req, Response& res, const ApiKeyRecord&) {
               auto device = fleet.show_device(req.matches[1].str());
               if (!device.ok()) return send_error(res, device.error());
               send_json(res, 200, device->to_json());
             });
  // Who joins the fleet is the operator's to decide; admin keeps keys, users and policies.
  routes.post(R"(/api/v1/devices/([^/]+)/(approve|revoke|decommission))", Role::kOperator,
              [&fleet](const Request& req, Response& res, const ApiKeyRecord&) {
                const std::string operation = req.matches[2].str();
                DeviceStatus status = operation == "approve"  ? DeviceStatus::kActive
                                      : operation == "revoke" ? DeviceStatus::kRevoked
                                                              : DeviceStatus::kDecommissioned;
                auto device = fleet.set_device_status(req.matches[1].str(), status);
                if (!device.ok()) return send_error(res, device.error());
                send_json(res, 200, device->to_json());
              });

  // The body is the YAML text as given, of any content type; the server checks
  // that it is text of a bounded size, the device that it is a configuration.
  routes.put_streamed(R"(/api/v1/devices/([^/]+)/field-config)", Role::kPublisher,
                      [&fleet](const Request& req, Response& res, const httplib::ContentReader& reader,
                               const ApiKeyRecord& key) {
                        auto text = read_body(req, reader, res, api::kMaxFieldConfigBytes);
                        if (!text.ok()) return send_error(res, text.error());
                        auto record = fleet.set_field_config(req.matches[1].str(), std::move(*text),
                                                             key.display_name());
                        if (!record.ok()) return send_error(res, record.error());
                        record->text.reset();
                        send_json(res, 200, record->to_json());
                      });
  routes.get(R"(/api/v1/devices/([^/]+)/field-config)", Role::kReader,
             [&fleet](const Request& req, Response& res, const ApiKeyRecord&) {
               std::optional<std::int64_t> version;
               if (req.has_param("version")) {
                 auto number = positive_number(req.get_param_value("version"), "version");
                 if (!number.ok()) return send_error(res, number.error());
                 version = *number;
               }
               auto record = fleet.field_config(req.matches[1].str(), version);
               if (!record.ok()) return send_error(res, record.error());
               send_json(res, 200, record->to_json());
             });

  routes.post("/api/v1/deployments", Role::kPublisher,
              [&fleet](const Request& req, Response& res, const ApiKeyRecord& key) {
                auto body = json_body(req);
                if (!body.ok()) return send_error(res, body.error());
                auto request = api::DeploymentRequest::from_json(*body);
                if (!request.ok()) return send_error(res, request.error());
                auto created = fleet.create_deployment(*request, key.display_name());
                if (!created.ok()) return send_error(res, created.error());
                send_json(res, 201, created->to_json());
              });
  routes.get("/api/v1/deployments", Role::kReader,
             [&fleet](const Request&, Response& res, const ApiKeyRecord&) {
               Json list = Json::array();
               for (const auto& deployment : fleet.list_deployments()) list.push_back(deployment.to_json());
               send_json(res, 200, {{"deployments", list}});
             });
  routes.get(R"(/api/v1/deployments/([^/]+))", Role::kReader,
             [&fleet](const Request& req, Response& res, const ApiKeyRecord&) {
               auto id = positive_number(req.matches[1].str(), "deployment id");
               if (!id.ok()) return send_error(res, id.error());
               auto status = fleet.deployment_status(*id);
               if (!status.ok()) return send_error(res, status.error());
               send_json(res, 200, status->to_json());
             });
  routes.post(R"(/api/v1/deployments/([^/]+)/(pause|resume|abort|rollback))", Role::kPublisher,
              [&fleet](const Request& req, Response& res, const ApiKeyRecord& key) {
                auto id = positive_number(req.matches[1].str(), "deployment id");
                if (!id.ok()) return send_error(res, id.error());
                auto status = fleet.control_deployment(*id, req.matches[2].str(), key.display_name());
                if (!status.ok()) return send_error(res, status.error());
                send_json(res, 200, status->to_json());
              });
}

}  // namespace

void install_fleet_routes(Routes& routes, Fleet& fleet, Registry& registry) {
  install_device_routes(routes, fleet, registry);
  install_operator_routes(routes, fleet);
}

}  // namespace canopy::server
