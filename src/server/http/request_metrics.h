// What the HTTP server measures of the requests its routes answer
// (docs/monitoring.md): how long each takes, by method, route and status
// class, and the request bytes each route takes in. A route is its pattern
// as registered (/api/v1/devices/([^/]+)), never the path, so 10,000
// devices make no more series than one.
// Free of cpp-httplib: http_server.h shows it.
// Thread-safety: routes are added before the server serves; after that,
// observe() and families() may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "server/metrics/exposition.h"
#include "server/metrics/metrics.h"

namespace canopy::server {

class RouteMetrics {
 public:
  RouteMetrics(std::string method, std::string pattern);

  // One answered request: its final status, the seconds its handler took,
  // and the bytes of its body.
  void observe(int status, double seconds, std::uint64_t body_bytes);

 private:
  friend class RequestMetrics;
  std::string method_, pattern_;
  std::array<Histogram, 5> seconds_;  // by status class: 1xx to 5xx
  Counter body_bytes_;
};

class RequestMetrics {
 public:
  // The metrics of a route being registered; they live as long as this.
  RouteMetrics& add(const std::string& method, const std::string& pattern);

  // canopy_http_request_duration_seconds and
  // canopy_http_request_body_bytes_total, with a series only for what was
  // seen: a route's status class once it answered with it, its bytes once
  // it took any.
  std::vector<MetricFamily> families() const;

 private:
  std::deque<RouteMetrics> routes_;  // a deque: the handlers hold references
};

}  // namespace canopy::server
