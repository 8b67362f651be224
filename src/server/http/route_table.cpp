#include "server/http/route_table.h"

#include <chrono>
#include <exception>

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

namespace {

// Observes a request when its handler is done, also when the handler
// throws: httplib's exception handler then answers 500.
class Timing {
 public:
  Timing(RouteMetrics& route, const Request& req, const Response& res)
      : route_(route), req_(req), res_(res) {}
  Timing(const Timing&) = delete;
  Timing& operator=(const Timing&) = delete;
  ~Timing() {
    // A duration, not a time of day: the steady clock, at a resolution the
    // Clock's milliseconds would lose for requests answered from memory.
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    route_.observe(std::uncaught_exceptions() > 0 ? 500 : res_.status, seconds, body_bytes());
  }

 private:
  // What the request declared; a streamed body sent chunked, which has no
  // Content-Length and which its handler reads itself, counts as 0.
  std::uint64_t body_bytes() const {
    if (req_.has_header("Content-Length")) return req_.get_header_value<std::uint64_t>("Content-Length");
    return req_.body.size();
  }

  RouteMetrics& route_;
  const Request& req_;
  const Response& res_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

httplib::Server::Handler Routes::timed(RouteMetrics& route, httplib::Server::Handler handler) {
  return [&route, handler = std::move(handler)](const Request& req, Response& res) {
    Timing timing(route, req, res);
    handler(req, res);
  };
}

httplib::Server::HandlerWithContentReader Routes::timed(RouteMetrics& route,
                                                        httplib::Server::HandlerWithContentReader handler) {
  return [&route, handler = std::move(handler)](const Request& req, Response& res,
                                                const httplib::ContentReader& reader) {
    Timing timing(route, req, res);
    handler(req, res, reader);
  };
}

httplib::Server::Handler Routes::guard(PublicAccess, httplib::Server::Handler handler) const {
  return handler;
}

httplib::Server::Handler Routes::guard(DeviceTokenAccess, DeviceHandler handler) const {
  return device_guarded(fleet_, certificates_, std::move(handler));
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
  return device_guarded_reader(fleet_, certificates_, std::move(handler));
}

httplib::Server::HandlerWithContentReader Routes::guard_streamed(Role least_role,
                                                                 ReaderHandler handler) const {
  return guarded_reader(access_, least_role, std::move(handler));
}

}  // namespace canopy::server
