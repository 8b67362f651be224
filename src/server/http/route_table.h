// The one way routes reach httplib: every registration names its method,
// its path pattern and who may call it, and Routes puts the matching check
// in front of the handler and keeps the (method, pattern, access) row for
// HttpServer::routes(). The install functions (routes.h) get a Routes and
// never the httplib::Server, so no route goes without a decision.
//
// Who may call, besides a Role (an API key or a session with at least that
// role): kPublic, kDeviceToken or kSignedIn (route_access.h). A handler
// takes what its check established: nothing, the device's id, the session,
// or the caller's key record. Handlers of the *_streamed registrations read
// the body themselves, and only once the caller checks out. Every handler
// is timed into the route's RequestMetrics (request_metrics.h).
// Private to src/server/http/.
// Thread-safety: registration happens before the server serves; handlers
// run on httplib's workers.
#pragma once

#include <httplib.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "server/auth/accounts.h"
#include "server/fleet/fleet.h"
#include "server/http/device_auth.h"
#include "server/http/middleware.h"
#include "server/http/request_metrics.h"
#include "server/http/route_access.h"

namespace canopy::server {

struct PublicAccess {};
inline constexpr PublicAccess kPublic;
struct DeviceTokenAccess {};
inline constexpr DeviceTokenAccess kDeviceToken;
struct SignedInAccess {};
inline constexpr SignedInAccess kSignedIn;

using SessionHandler = std::function<void(const httplib::Request&, httplib::Response&, const Session&)>;

class Routes {
 public:
  // `http`, `access`, `fleet` (which checks device tokens) and `metrics`
  // must outlive the routes. `certificates` says whether device routes also
  // check the connection's certificate (device_certificates.h).
  Routes(httplib::Server& http, const Access& access, Fleet& fleet, RequestMetrics& metrics,
         DeviceCertificates certificates)
      : http_(http), access_(access), fleet_(fleet), metrics_(metrics), certificates_(certificates) {}

  // For the routes that check a device's certificate themselves (enrollment).
  DeviceCertificates device_certificates() const { return certificates_; }

  // Routes whose handler gets the request with its whole body (httplib reads it first).
  template <typename Who, typename HandlerFn>
  void get(const std::string& pattern, Who who, HandlerFn handler) {
    http_.Get(pattern, timed(record("GET", pattern, who), guard(who, std::move(handler))));
  }
  template <typename Who, typename HandlerFn>
  void post(const std::string& pattern, Who who, HandlerFn handler) {
    http_.Post(pattern, timed(record("POST", pattern, who), guard(who, std::move(handler))));
  }
  template <typename Who, typename HandlerFn>
  void put(const std::string& pattern, Who who, HandlerFn handler) {
    http_.Put(pattern, timed(record("PUT", pattern, who), guard(who, std::move(handler))));
  }
  template <typename Who, typename HandlerFn>
  void patch(const std::string& pattern, Who who, HandlerFn handler) {
    http_.Patch(pattern, timed(record("PATCH", pattern, who), guard(who, std::move(handler))));
  }
  template <typename Who, typename HandlerFn>
  void del(const std::string& pattern, Who who, HandlerFn handler) {
    http_.Delete(pattern, timed(record("DELETE", pattern, who), guard(who, std::move(handler))));
  }

  // Routes whose handler reads the body itself (uploads, device batches).
  template <typename Who, typename HandlerFn>
  void post_streamed(const std::string& pattern, Who who, HandlerFn handler) {
    http_.Post(pattern, timed(record("POST", pattern, who), guard_streamed(who, std::move(handler))));
  }
  template <typename Who, typename HandlerFn>
  void put_streamed(const std::string& pattern, Who who, HandlerFn handler) {
    http_.Put(pattern, timed(record("PUT", pattern, who), guard_streamed(who, std::move(handler))));
  }

  // The files under `dir` to anyone, at `prefix` ("/label/"), each answer
  // with `headers`. kNotFound when `dir` is not a directory.
  Status public_files(const std::string& prefix, const std::filesystem::path& dir,
                      const httplib::Headers& headers);

  // Every route registered so far, in the order httplib tries them.
  const std::vector<RouteInfo>& list() const { return routes_; }

 private:
  // Keeps the route's row; returns its metrics for the handler to be timed into.
  template <typename Who>
  RouteMetrics& record(const char* method, const std::string& pattern, Who who) {
    routes_.push_back({method, pattern, declared(who)});
    return metrics_.add(method, pattern);
  }
  static RouteAccess declared(PublicAccess) { return {RouteAccess::Kind::kPublic}; }
  static RouteAccess declared(DeviceTokenAccess) { return {RouteAccess::Kind::kDeviceToken}; }
  static RouteAccess declared(SignedInAccess) { return {RouteAccess::Kind::kSignedIn}; }
  static RouteAccess declared(Role least_role) { return {RouteAccess::Kind::kRole, least_role}; }

  static httplib::Server::Handler timed(RouteMetrics& route, httplib::Server::Handler handler);
  static httplib::Server::HandlerWithContentReader timed(RouteMetrics& route,
                                                         httplib::Server::HandlerWithContentReader handler);
  httplib::Server::Handler guard(PublicAccess, httplib::Server::Handler handler) const;
  httplib::Server::Handler guard(DeviceTokenAccess, DeviceHandler handler) const;
  httplib::Server::Handler guard(SignedInAccess, SessionHandler handler) const;
  httplib::Server::Handler guard(Role least_role, Handler handler) const;
  httplib::Server::HandlerWithContentReader guard_streamed(
      PublicAccess, httplib::Server::HandlerWithContentReader handler) const;
  httplib::Server::HandlerWithContentReader guard_streamed(DeviceTokenAccess,
                                                           DeviceReaderHandler handler) const;
  httplib::Server::HandlerWithContentReader guard_streamed(Role least_role, ReaderHandler handler) const;

  httplib::Server& http_;
  const Access& access_;
  Fleet& fleet_;
  RequestMetrics& metrics_;
  const DeviceCertificates certificates_;
  std::vector<RouteInfo> routes_;
};

}  // namespace canopy::server
