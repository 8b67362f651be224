#include "server/http/device_auth.h"

#include "server/http/middleware.h"

namespace canopy::server {

namespace {

using httplib::Request;
using httplib::Response;

Result<std::string> authenticate(Fleet& fleet, const Request& req) {
  const std::string auth = req.get_header_value("Authorization");
  if (!req.get_header_value("X-API-KEY").empty() || auth.rfind("Bearer ", 0) != 0)
    return make_error(ErrorCode::kUnauthenticated,
                      "a valid device token is required (send it as Authorization: Bearer cdt_...)");
  return fleet.authenticate_device(std::string_view(auth).substr(7));
}

}  // namespace

httplib::Server::Handler device_guarded(Fleet& fleet, DeviceHandler handler) {
  return [&fleet, handler = std::move(handler)](const Request& req, Response& res) {
    auto device = authenticate(fleet, req);
    if (!device.ok()) return send_error(res, device.error());
    handler(req, res, *device);
  };
}

httplib::Server::HandlerWithContentReader device_guarded_reader(Fleet& fleet, DeviceReaderHandler handler) {
  return [&fleet, handler = std::move(handler)](const Request& req, Response& res,
                                                const httplib::ContentReader& reader) {
    auto device = authenticate(fleet, req);
    if (!device.ok()) {
      res.set_header("Connection", "close");  // the unread body is dropped with the connection
      return send_error(res, device.error());
    }
    handler(req, res, reader, *device);
  };
}

}  // namespace canopy::server
