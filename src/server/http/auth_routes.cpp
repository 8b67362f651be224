// The auth area's routes (docs/api.md, `GET /api/v1/keys` and the two after
// it): create, list and revoke API keys, and read the audit log; admin only.
#include "common/text.h"
#include "common/time.h"
#include "server/http/middleware.h"
#include "server/http/routes.h"

namespace canopy::server {

namespace {

using httplib::Request;
using httplib::Response;

Json key_to_json(const ApiKeys& keys, const ApiKeyRecord& key) {
  return {{"id", key.id},
          {"name", key.name},
          {"role", role_name(key.role)},
          {"created_at", key.created_at},
          {"expires_at", key.expires_ms > 0 ? Json(format_utc(key.expires_ms)) : Json()},
          {"expired", keys.expired(key)},
          {"revoked", key.revoked}};
}

}  // namespace

void install_auth_routes(Routes& routes, ApiKeys& keys, AuditLog& audit) {
  routes.get("/api/v1/audit", Role::kAdmin, [&audit](const Request& req, Response& res, const ApiKeyRecord&) {
    AuditQuery query;
    query.actor = req.get_param_value("actor");
    for (const char* name : {"before", "limit"}) {
      if (!req.has_param(name)) continue;
      auto number = parse_int(req.get_param_value(name));
      if (!number || *number < 1 || (std::string(name) == "limit" && *number > 1000))
        return send_error(res,
                          make_error(ErrorCode::kInvalidArgument,
                                     std::string(name) + " '" + req.get_param_value(name) + "' must be " +
                                         (std::string(name) == "limit" ? "from 1 to 1000" : "an entry id")));
      if (std::string(name) == "limit")
        query.limit = static_cast<int>(*number);
      else
        query.before_id = *number;
    }
    auto entries = audit.list(query);
    if (!entries.ok()) return send_error(res, entries.error());
    Json list = Json::array();
    for (const AuditEntry& entry : *entries) list.push_back(entry.to_json());
    send_json(res, 200, {{"entries", list}});
  });

  routes.get("/api/v1/keys", Role::kAdmin, [&keys](const Request&, Response& res, const ApiKeyRecord&) {
    auto listed = keys.list();
    if (!listed.ok()) return send_error(res, listed.error());
    Json list = Json::array();
    for (const auto& k : *listed) list.push_back(key_to_json(keys, k));
    send_json(res, 200, {{"keys", list}});
  });

  routes.post("/api/v1/keys", Role::kAdmin, [&keys](const Request& req, Response& res, const ApiKeyRecord&) {
    auto body = parse_json(req.body, "request body");
    if (!body.ok()) return send_error(res, body.error());
    auto role_text = json_get<std::string>(*body, "role");
    if (!role_text.ok()) return send_error(res, role_text.error().with_context("request body"));
    auto role = parse_role(*role_text);
    if (!role)
      return send_error(res, make_error(ErrorCode::kInvalidArgument,
                                        "role '" + *role_text + "' must be " + role_choices()));
    auto name = json_get_or<std::string>(*body, "name", "");
    if (!name.ok()) return send_error(res, name.error().with_context("request body"));
    auto expires_in_s = json_get_or<std::int64_t>(*body, "expires_in_s", 0);
    if (!expires_in_s.ok()) return send_error(res, expires_in_s.error().with_context("request body"));
    auto created = keys.create(*role, *name, *expires_in_s);
    if (!created.ok())
      return send_error(res, created.error().code == ErrorCode::kInvalidArgument
                                 ? created.error().with_context("request body: field 'expires_in_s'")
                                 : created.error());
    Json out = key_to_json(keys, created->record);
    out["key"] = created->secret;
    send_json(res, 201, out);
  });

  routes.del(R"(/api/v1/keys/([^/]+))", Role::kAdmin,
             [&keys](const Request& req, Response& res, const ApiKeyRecord&) {
               Status revoked = keys.revoke(req.matches[1].str());
               if (!revoked.ok()) return send_error(res, revoked.error());
               send_json(res, 200, {{"id", req.matches[1].str()}, {"revoked", true}});
             });
}

}  // namespace canopy::server
