// JSON answers of the HTTP API: the body conventions and the error body of
// docs/api.md, with the HTTP status each error code maps to.
// Thread-safety: stateless.
#pragma once

#include <httplib.h>

#include "common/error.h"
#include "common/json.h"

namespace canopy::server {

// Pretty-printed with a final newline, as docs/api.md promises.
void send_json(httplib::Response& res, int status, const Json& body);
// {"error": {"code", "message"}} with the code's status, or `status` when not 0.
void send_error(httplib::Response& res, const Error& error, int status = 0);

}  // namespace canopy::server
