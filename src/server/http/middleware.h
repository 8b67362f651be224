// What every route shares: JSON answers and the error body of docs/api.md
// (with the HTTP status each error code maps to), API-key authentication by
// role (or a person's session) in front of a handler, and small request
// parsers. Authentication asks the auth area only; it takes no other area's
// lock.
// Private to src/server/http/.
// Thread-safety: stateless; the ApiKeys it is given is thread-safe.
#pragma once

#include <httplib.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "common/error.h"
#include "common/json.h"
#include "server/auth/accounts.h"
#include "server/auth/api_keys.h"
#include "server/auth/audit_log.h"

namespace canopy::server {

// Pretty-printed with a final newline, as docs/api.md promises.
void send_json(httplib::Response& res, int status, const Json& body);
// {"error": {"code", "message"}} with the code's status, or `status` when not 0.
void send_error(httplib::Response& res, const Error& error, int status = 0);

// Who may call: programs with an API key, people with a session of the web
// pages; and the log of what they changed. All must outlive the routes.
struct Access {
  const ApiKeys& keys;
  const Accounts& accounts;
  AuditLog& audit;
};

// The cookie that carries a session, and the header a page sends its CSRF
// token in with every change.
inline constexpr const char* kSessionCookie = "canopy_session";
inline constexpr const char* kCsrfHeader = "X-CSRF-Token";

// The key a request presents: X-API-KEY, else "Authorization: Bearer KEY".
std::string presented_key(const httplib::Request& req);
// The session token in the request's cookie, or "".
std::string presented_session(const httplib::Request& req);

// The session of the request's cookie, with the session's CSRF token in
// kCsrfHeader when the request changes something (anything but GET and
// HEAD): kUnauthenticated without a live session, kPermissionDenied
// without the right token.
Result<Session> checked_session(const Access& access, const httplib::Request& req);

// Authenticates the request and checks its role: an API key when one is
// presented, else the session cookie, with the session's CSRF token in
// kCsrfHeader on anything but GET and HEAD. A session answers as a record
// with id "user:NAME". The same answer is given for a missing key and an
// unknown one, and before any lookup of what the request names, so nothing
// leaks about what exists.
Result<ApiKeyRecord> authorize(const Access& access, const httplib::Request& req, Role needed);

using Handler = std::function<void(const httplib::Request&, httplib::Response&, const ApiKeyRecord&)>;
using ReaderHandler = std::function<void(const httplib::Request&, httplib::Response&,
                                         const httplib::ContentReader&, const ApiKeyRecord&)>;

// A route handler that runs `handler` only for a key with at least `needed`
// (Routes, route_table.h, puts it in front of the routes declared with a role),
// and records in the audit log every change it made.
httplib::Server::Handler guarded(const Access& access, Role needed, Handler handler);
// The same for a route that reads its body itself (uploads): the body is read
// only after the key checks out.
httplib::Server::HandlerWithContentReader guarded_reader(const Access& access, Role needed,
                                                         ReaderHandler handler);

// The request body as a JSON object; kInvalidArgument naming what is wrong.
Result<Json> parse_json_object(const std::string& text);
// kTooLarge: "request body may be at most N KiB" (or MiB).
Error body_too_large(std::size_t max_bytes);
// The body httplib has read, of at most `max_bytes`, as a JSON object; an
// empty body is {} (the routes whose every member is optional).
Result<Json> optional_json_body(const httplib::Request& req, std::size_t max_bytes);
// For routes that read their body themselves: reads at most `max_bytes` and
// stops there (closing the connection), so no sender can make the server
// hold a larger body in memory; a larger Content-Length is refused unread
// (kTooLarge). A body cut off in transit is an error too.
Result<std::string> read_body(const httplib::Request& req, const httplib::ContentReader& reader,
                              httplib::Response& res, std::size_t max_bytes);
// read_body, then the body as a JSON object.
Result<Json> read_json_body(const httplib::Request& req, const httplib::ContentReader& reader,
                            httplib::Response& res, std::size_t max_bytes);

// A path or query number above zero; otherwise "<what> 'TEXT' must be a positive number".
Result<std::int64_t> positive_number(const std::string& text, const std::string& what);
// The query parameter `name` as a number from 1 to `max`, or `fallback` when
// it is absent or empty; otherwise "NAME 'TEXT' must be from 1 to MAX".
Result<std::int64_t> number_param(const httplib::Request& req, const std::string& name, std::int64_t fallback,
                                  std::int64_t max);

}  // namespace canopy::server
