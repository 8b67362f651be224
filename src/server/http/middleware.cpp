#include "server/http/middleware.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

namespace canopy::server {

using httplib::Request;
using httplib::Response;

namespace {

int http_status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kTooLarge:
      return 413;
    case ErrorCode::kCorrupt:
    case ErrorCode::kBadSignature:
      return 422;
    case ErrorCode::kNetwork:
      return 502;
    case ErrorCode::kIo:
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

}  // namespace

void send_json(Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(2) + "\n", "application/json");
}

void send_error(Response& res, const Error& error, int status) {
  send_json(res, status != 0 ? status : http_status_for(error.code),
            {{"error", {{"code", error_code_name(error.code)}, {"message", error.message}}}});
}

std::string presented_key(const Request& req) {
  std::string key = req.get_header_value("X-API-KEY");
  if (key.empty()) {
    std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) == 0) key = auth.substr(7);
  }
  return key;
}

std::string presented_session(const Request& req) {
  // Cookie: a=1; canopy_session=TOKEN; b=2
  const std::string cookies = req.get_header_value("Cookie");
  const std::string wanted = std::string(kSessionCookie) + "=";
  std::size_t at = 0;
  while (at < cookies.size()) {
    at = cookies.find_first_not_of(' ', at);
    if (at == std::string::npos) break;
    std::size_t end = cookies.find(';', at);
    if (end == std::string::npos) end = cookies.size();
    if (cookies.compare(at, wanted.size(), wanted) == 0)
      return cookies.substr(at + wanted.size(), end - at - wanted.size());
    at = end + 1;
  }
  return "";
}

Result<Session> checked_session(const Access& access, const Request& req) {
  const std::optional<Session> session = access.accounts.session(presented_session(req));
  if (!session)
    return make_error(ErrorCode::kUnauthenticated, "not signed in, or the session has ended; sign in again");
  const bool change = req.method != "GET" && req.method != "HEAD";
  // The token is compared in constant time: its bytes are the secret.
  const std::string sent = req.get_header_value(kCsrfHeader);
  if (change && (sent.size() != session->csrf_token.size() ||
                 CRYPTO_memcmp(sent.data(), session->csrf_token.data(), sent.size()) != 0))
    return make_error(ErrorCode::kPermissionDenied,
                      "a change made in a session needs its CSRF token in the X-CSRF-Token header");
  return *session;
}

Result<ApiKeyRecord> authorize(const Access& access, const Request& req, Role needed) {
  const std::string key = presented_key(req);
  if (!key.empty() || presented_session(req).empty()) return access.keys.authorize(key, needed);
  CANOPY_ASSIGN_OR_RETURN(Session session, checked_session(access, req));
  if (!role_allows(session.role, needed))
    return make_error(ErrorCode::kPermissionDenied, "this needs the " + std::string(role_name(needed)) +
                                                        " role; user " + session.user + " has " +
                                                        std::string(role_name(session.role)));
  ApiKeyRecord caller;
  caller.id = "user:" + session.user;
  caller.name = session.user;
  caller.role = session.role;
  return caller;
}

namespace {

// After the change succeeded: a failure to record it cannot undo it, so it is logged loudly instead.
void audit_change(const Access& access, const Request& req, const Response& res, const ApiKeyRecord& caller) {
  if (req.method == "GET" || req.method == "HEAD" || res.status < 200 || res.status >= 300) return;
  // The target as sent, with its query, which some changes are made with.
  Status recorded =
      access.audit.record({0, "", caller.display_name(), caller.id, std::string(role_name(caller.role)),
                           req.method, req.target, res.status});
  if (!recorded.ok())
    spdlog::error("audit.not_recorded actor={} method={} path={} error={}", caller.display_name(), req.method,
                  req.path, recorded.error().message);
}

}  // namespace

httplib::Server::Handler guarded(const Access& access, Role needed, Handler handler) {
  return [&access, needed, handler = std::move(handler)](const Request& req, Response& res) {
    auto key = authorize(access, req, needed);
    if (!key.ok()) return send_error(res, key.error());
    handler(req, res, *key);
    audit_change(access, req, res, *key);
  };
}

httplib::Server::HandlerWithContentReader guarded_reader(const Access& access, Role needed,
                                                         ReaderHandler handler) {
  return [&access, needed, handler = std::move(handler)](const Request& req, Response& res,
                                                         const httplib::ContentReader& reader) {
    auto key = authorize(access, req, needed);
    if (!key.ok()) return send_error(res, key.error());
    handler(req, res, reader, *key);
    audit_change(access, req, res, *key);
  };
}

Result<Json> parse_json_object(const std::string& text) {
  CANOPY_ASSIGN_OR_RETURN(Json body, parse_json(text, "request body"));
  if (!body.is_object()) return make_error(ErrorCode::kInvalidArgument, "request body must be a JSON object");
  return body;
}

Result<Json> optional_json_body(const httplib::Request& req, std::size_t max_bytes) {
  if (req.body.size() > max_bytes) return body_too_large(max_bytes);
  if (req.body.empty()) return Json::object();
  return parse_json_object(req.body);
}

Error body_too_large(std::size_t max_bytes) {
  const bool mebibytes = max_bytes >= (1u << 20) && max_bytes % (1u << 20) == 0;
  return make_error(ErrorCode::kTooLarge, "request body may be at most " +
                                              std::to_string(mebibytes ? max_bytes >> 20 : max_bytes >> 10) +
                                              (mebibytes ? " MiB" : " KiB"));
}

Result<std::string> read_body(const Request& req, const httplib::ContentReader& reader, Response& res,
                              std::size_t max_bytes) {
  // A declared size over the limit is refused before anything is read.
  bool too_large = req.get_header_value<std::uint64_t>("Content-Length") > max_bytes;
  std::string text;
  const bool complete = !too_large && reader([&](const char* data, std::size_t length) {
    if (text.size() + length > max_bytes) {
      too_large = true;
      return false;
    }
    text.append(data, length);
    return true;
  });
  if (too_large) {
    res.set_header("Connection", "close");  // the rest of the body is never read
    return body_too_large(max_bytes);
  }
  // httplib sets 413 when the body is over the server's own payload limit (--max-upload-bytes).
  if (!complete && res.status == 413)
    return make_error(ErrorCode::kTooLarge, "request body is larger than the server's limit");
  if (!complete) return make_error(ErrorCode::kInvalidArgument, "request body was cut off; send it again");
  return text;
}

Result<Json> read_json_body(const Request& req, const httplib::ContentReader& reader, Response& res,
                            std::size_t max_bytes) {
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_body(req, reader, res, max_bytes));
  return parse_json_object(text);
}

Result<std::int64_t> positive_number(const std::string& text, const std::string& what) {
  try {
    std::size_t used = 0;
    long long value = std::stoll(text, &used);
    if (used == text.size() && value > 0) return static_cast<std::int64_t>(value);
  } catch (const std::exception&) {
  }
  return make_error(ErrorCode::kInvalidArgument, what + " '" + text + "' must be a positive number");
}

Result<std::int64_t> number_param(const httplib::Request& req, const std::string& name, std::int64_t fallback,
                                  std::int64_t max) {
  const std::string text = req.get_param_value(name);
  if (text.empty()) return fallback;  // absent, or left empty in a form
  auto number = positive_number(text, name);
  if (number.ok() && *number <= max) return *number;
  return make_error(ErrorCode::kInvalidArgument,
                    name + " '" + text + "' must be from 1 to " + std::to_string(max));
}

}  // namespace canopy::server
