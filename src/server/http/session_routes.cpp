// People's accounts (docs/api.md, "Sessions and users"): sign in and out of
// the web pages, and the admin's list of users. A session lives in an
// HttpOnly, SameSite=Strict cookie that page scripts cannot read; the page
// learns the session's CSRF token from the sign-in answer (or GET
// /api/v1/session after a reload) and sends it with every change.
#include "api/fields.h"
#include "common/time.h"
#include "server/http/middleware.h"
#include "server/http/routes.h"

namespace canopy::server {

namespace {

using httplib::Request;
using httplib::Response;

constexpr std::size_t kMaxSignInBody = 8 << 10;

Json session_json(const Session& session) {
  return {{"user", session.user},
          {"role", role_name(session.role)},
          {"csrf_token", session.csrf_token},
          {"expires_at", format_utc(session.expires_ms)}};
}

std::string session_cookie(const std::string& token, std::int64_t max_age_s) {
  return std::string(kSessionCookie) + "=" + token +
         "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age_s);
}

Json user_json(const UserRecord& user) {
  return {{"name", user.name}, {"role", role_name(user.role)}, {"created_at", user.created_at}};
}

Result<Role> role_from(const Json& body) {
  CANOPY_ASSIGN_OR_RETURN(std::string text, api::read_string(body, "role", 32));
  auto role = parse_role(text);
  if (!role) return make_error(ErrorCode::kInvalidArgument, "role '" + text + "' must be " + role_choices());
  return *role;
}

}  // namespace

void install_session_routes(Routes& routes, Accounts& accounts, Clock& clock) {
  // Public: the password in the body is the credential.
  routes.post("/api/v1/session", kPublic, [&accounts, &clock](const Request& req, Response& res) {
    if (req.body.size() > kMaxSignInBody) return send_error(res, body_too_large(kMaxSignInBody));
    auto body = parse_json_object(req.body);
    if (!body.ok()) return send_error(res, body.error());
    auto user = api::read_string(*body, "user", 64);
    if (!user.ok()) return send_error(res, user.error());
    auto password = api::read_string(*body, "password", 1024);
    if (!password.ok()) return send_error(res, password.error());
    auto created = accounts.sign_in(*user, *password);
    if (!created.ok()) return send_error(res, created.error());
    const std::int64_t max_age_s = (created->session.expires_ms - clock.wall_ms()) / 1000;
    res.set_header("Set-Cookie", session_cookie(created->token, max_age_s));
    res.set_header("Cache-Control", "no-store");
    send_json(res, 201, session_json(created->session));
  });

  // Answers 200 either way: a page asks this first, and "not signed in" is
  // an ordinary answer to it, not a failed request in the browser's console.
  routes.get("/api/v1/session", kPublic, [&accounts](const Request& req, Response& res) {
    auto session = accounts.session(presented_session(req));
    res.set_header("Cache-Control", "no-store");
    if (!session) return send_json(res, 200, {{"signed_in", false}});
    Json body = session_json(*session);
    body["signed_in"] = true;
    send_json(res, 200, body);
  });

  // Signing out is a change: it needs the CSRF token, so another site cannot sign a person out.
  routes.del("/api/v1/session", kSignedIn, [&accounts](const Request& req, Response& res, const Session&) {
    Status ended = accounts.sign_out(presented_session(req));
    if (!ended.ok()) return send_error(res, ended.error());
    res.set_header("Set-Cookie", session_cookie("", 0));
    send_json(res, 200, {{"signed_out", true}});
  });

  routes.get("/api/v1/users", Role::kAdmin, [&accounts](const Request&, Response& res, const ApiKeyRecord&) {
    auto users = accounts.list_users();
    if (!users.ok()) return send_error(res, users.error());
    Json rows = Json::array();
    for (const UserRecord& user : *users) rows.push_back(user_json(user));
    send_json(res, 200, {{"users", rows}});
  });

  routes.post("/api/v1/users", Role::kAdmin,
              [&accounts](const Request& req, Response& res, const ApiKeyRecord&) {
                auto body = parse_json_object(req.body);
                if (!body.ok()) return send_error(res, body.error());
                auto name = api::read_string(*body, "name", 64);
                if (!name.ok()) return send_error(res, name.error());
                auto role = role_from(*body);
                if (!role.ok()) return send_error(res, role.error());
                auto password = api::read_string(*body, "password", 1024);
                if (!password.ok()) return send_error(res, password.error());
                Status added = accounts.add_user(*name, *role, *password);
                if (!added.ok()) return send_error(res, added.error());
                send_json(res, 201, {{"name", *name}, {"role", role_name(*role)}});
              });

  // A new role or password; the user's sessions end either way.
  routes.patch(R"(/api/v1/users/([^/]+))", Role::kAdmin,
               [&accounts](const Request& req, Response& res, const ApiKeyRecord&) {
                 auto body = parse_json_object(req.body);
                 if (!body.ok()) return send_error(res, body.error());
                 std::optional<Role> role;
                 if (body->contains("role")) {
                   auto parsed = role_from(*body);
                   if (!parsed.ok()) return send_error(res, parsed.error());
                   role = *parsed;
                 }
                 std::optional<std::string> password;
                 if (body->contains("password")) {
                   auto text = api::read_string(*body, "password", 1024);
                   if (!text.ok()) return send_error(res, text.error());
                   password = *text;
                 }
                 if (!role && !password)
                   return send_error(res, make_error(ErrorCode::kInvalidArgument,
                                                     "request body: give a role, a password or both"));
                 Status updated = accounts.update_user(req.matches[1].str(), role, password);
                 if (!updated.ok()) return send_error(res, updated.error());
                 send_json(res, 200, {{"name", req.matches[1].str()}, {"updated", true}});
               });

  routes.del(R"(/api/v1/users/([^/]+))", Role::kAdmin,
             [&accounts](const Request& req, Response& res, const ApiKeyRecord&) {
               Status removed = accounts.remove_user(req.matches[1].str());
               if (!removed.ok()) return send_error(res, removed.error());
               send_json(res, 200, {{"name", req.matches[1].str()}, {"removed", true}});
             });
}

}  // namespace canopy::server
