#include "server/http/route_table.h"

namespace canopy::server {

using httplib::Request;
using httplib::Response;

std::string RouteAccess::describe() const {
  switch (kind) {
    case Kind::kPublic:
      return "public";
    case Kind::kDeviceToken:
      return "device token";
    case Kind::kSignedIn:
      return "signed in";
    case Kind::kRole:
      return "role " + std::string(role_name(least_role));
  }
  return "public";
}

Status Routes::public_files(const std::string& prefix, const std::filesystem::path& dir,
                            const httplib::Headers& headers) {
  if (!http_.set_mount_point(prefix, dir.string(), headers))
    return make_error(ErrorCode::kNotFound, dir.string() + " is not a directory");
  routes_.push_back({"GET", prefix + ".*", declared(kPublic)});
  return {};
}

httplib::Server::Handler Routes::guard(PublicAccess, httplib::Server::Handler handler) const {
  return handler;
}

httplib::Server::Handler Routes::guard(DeviceTokenAccess, DeviceHandler handler) const {
  return device_guarded(fleet_, std::move(handler));
}

httplib::Server::Handler Routes::guard(SignedInAccess, SessionHandler handler) const {
  return [&access = access_, handler = std::move(handler)](const Request& req, Response& res) {
    auto session = checked_session(access, req);
    if (!session.ok()) return send_error(res, session.error());
    handler(req, res, *session);
  };
}

httplib::Server::Handler Routes::guard(Role least_role, Handler handler) const {
  return guarded(access_, least_role, std::move(handler));
}

httplib::Server::HandlerWithContentReader Routes::guard_streamed(
    PublicAccess, httplib::Server::HandlerWithContentReader handler) const {
  return handler;
}

httplib::Server::HandlerWithContentReader Routes::guard_streamed(DeviceTokenAccess,
                                                                 DeviceReaderHandler handler) const {
  return device_guarded_reader(fleet_, std::move(handler));
}

httplib::Server::HandlerWithContentReader Routes::guard_streamed(Role least_role,
                                                                 ReaderHandler handler) const {
  return guarded_reader(access_, least_role, std::move(handler));
}

}  // namespace canopy::server
