// Device-token authentication in front of the device API's handlers
// (docs/fleet.md, "Identities and tokens"): only "Authorization: Bearer
// cdt_..." is accepted, an API key in either header is refused like an
// unknown token, and a revoked or decommissioned device gets 401. Routes
// (route_table.h) puts it in front of every route declared kDeviceToken:
// the /api/v1/device/... routes, whichever area serves them.
// Private to src/server/http/.
// Thread-safety: stateless; the Fleet it asks is thread-safe.
#pragma once

#include <httplib.h>

#include <functional>
#include <string>

#include "server/fleet/fleet.h"

namespace canopy::server {

using DeviceHandler =
    std::function<void(const httplib::Request&, httplib::Response&, const std::string& device_id)>;
using DeviceReaderHandler = std::function<void(const httplib::Request&, httplib::Response&,
                                               const httplib::ContentReader&, const std::string& device_id)>;

// A route handler that runs `handler` with the id of the authenticated device.
httplib::Server::Handler device_guarded(Fleet& fleet, DeviceHandler handler);
// The same for a route that reads its body itself: the body is read only
// after the token checks out.
httplib::Server::HandlerWithContentReader device_guarded_reader(Fleet& fleet, DeviceReaderHandler handler);

}  // namespace canopy::server
