// The auth area's routes (docs/api.md, `GET /api/v1/keys` and the two after
// it): create, list and revoke API keys; admin only.
#include "server/http/middleware.h"
#include "server/http/routes.h"

namespace canopy::server {

namespace {

using httplib::Request;
using httplib::Response;

Json key_to_json(const ApiKeyRecord& key) {
  return {{"id", key.id},
          {"name", key.name},
          {"role", role_name(key.role)},
          {"created_at", key.created_at},
          {"revoked", key.revoked}};
}

}  // namespace

void install_auth_routes(httplib::Server& http, const Access& access, ApiKeys& keys) {
  http.Get("/api/v1/keys",
           guarded(access, Role::kAdmin, [&keys](const Request&, Response& res, const ApiKeyRecord&) {
             auto listed = keys.list();
             if (!listed.ok()) return send_error(res, listed.error());
             Json list = Json::array();
             for (const auto& k : *listed) list.push_back(key_to_json(k));
             send_json(res, 200, {{"keys", list}});
           }));

  http.Post("/api/v1/keys",
            guarded(access, Role::kAdmin, [&keys](const Request& req, Response& res, const ApiKeyRecord&) {
              auto body = parse_json(req.body, "request body");
              if (!body.ok()) return send_error(res, body.error());
              auto role_text = json_get<std::string>(*body, "role");
              if (!role_text.ok()) return send_error(res, role_text.error().with_context("request body"));
              auto role = parse_role(*role_text);
              if (!role)
                return send_error(res,
                                  make_error(ErrorCode::kInvalidArgument,
                                             "role '" + *role_text + "' must be reader, labeler, publisher or admin"));
              auto name = json_get_or<std::string>(*body, "name", "");
              if (!name.ok()) return send_error(res, name.error().with_context("request body"));
              auto created = keys.create(*role, *name);
              if (!created.ok()) return send_error(res, created.error());
              Json out = key_to_json(created->record);
              out["key"] = created->secret;
              send_json(res, 201, out);
            }));

  http.Delete(R"(/api/v1/keys/([^/]+))",
              guarded(access, Role::kAdmin, [&keys](const Request& req, Response& res, const ApiKeyRecord&) {
                Status revoked = keys.revoke(req.matches[1].str());
                if (!revoked.ok()) return send_error(res, revoked.error());
                send_json(res, 200, {{"id", req.matches[1].str()}, {"revoked", true}});
              }));
}

}  // namespace canopy::server
