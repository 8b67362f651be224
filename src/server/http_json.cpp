#include "server/http_json.h"

namespace canopy::server {

using httplib::Response;

namespace {

int http_status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kTooLarge: return 413;
    case ErrorCode::kCorrupt:
    case ErrorCode::kBadSignature: return 422;
    case ErrorCode::kNetwork: return 502;
    case ErrorCode::kIo:
    case ErrorCode::kInternal: return 500;
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

}  // namespace canopy::server
