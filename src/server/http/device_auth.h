// Device-token authentication in front of the device API's handlers
// (docs/fleet.md, "Identities and tokens"): only "Authorization: Bearer
// cdt_..." is accepted, an API key in either header is refused like an
// unknown token, and a revoked or decommissioned device gets 401. With
// mutual TLS (device_certificates.h) the connection's certificate must also
// be over the device's enrolled key, or the request gets 401 too. Routes
// (route_table.h) puts it in front of every route declared kDeviceToken:
// the /api/v1/device/... routes, whichever area serves them.
// Private to src/server/http/.
// Thread-safety: stateless; the Fleet it asks is thread-safe.
#pragma once

#include <httplib.h>

#include <functional>
#include <string>

#include "server/fleet/fleet.h"
#include "server/http/device_certificates.h"

namespace canopy::server {

using DeviceHandler =
    std::function<void(const httplib::Request&, httplib::Response&, const std::string& device_id)>;
using DeviceReaderHandler = std::function<void(const httplib::Request&, httplib::Response&,
                                               const httplib::ContentReader&, const std::string& device_id)>;

// A route handler that runs `handler` with the id of the authenticated
// device, its certificate checked as `certificates` says.
httplib::Server::Handler device_guarded(Fleet& fleet, DeviceCertificates certificates, DeviceHandler handler);
// The same for a route that reads its body itself: the body is read only
// after the token (and certificate) check out.
httplib::Server::HandlerWithContentReader device_guarded_reader(Fleet& fleet, DeviceCertificates certificates,
                                                                DeviceReaderHandler handler);

// POST /api/v1/enroll: the connection's certificate, as `certificates` asks,
// must be over `public_key` (the request's "canopy-ed25519-public <b64>"), so
// that the key enrolled is the one the device presents from then on. 401
// otherwise, logged.
Status check_enrollment_certificate(DeviceCertificates certificates, const httplib::Request& req,
                                    const std::string& public_key);

}  // namespace canopy::server
