#include "server/http/request_metrics.h"

#include <algorithm>

namespace canopy::server {

namespace {

// From a fraction of a millisecond (a poll answered from memory) to a
// minute (a large upload over a slow link).
constexpr double kSecondsBounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,   0.5,   1,      2.5,   5,    10,    30,   60};

}  // namespace

RouteMetrics::RouteMetrics(std::string method, std::string pattern)
    : method_(std::move(method)),
      pattern_(std::move(pattern)),
      seconds_{Histogram(kSecondsBounds), Histogram(kSecondsBounds), Histogram(kSecondsBounds),
               Histogram(kSecondsBounds), Histogram(kSecondsBounds)} {}

void RouteMetrics::observe(int status, double seconds, std::uint64_t body_bytes) {
  seconds_[static_cast<std::size_t>(std::clamp(status / 100, 1, 5) - 1)].observe(seconds);
  if (body_bytes > 0) body_bytes_.add(body_bytes);
}

RouteMetrics& RequestMetrics::add(const std::string& method, const std::string& pattern) {
  return routes_.emplace_back(method, pattern);
}

std::vector<MetricFamily> RequestMetrics::families() const {
  MetricFamily seconds{
      "canopy_http_request_duration_seconds",
      "Time from a request's routing until its answer is ready to send (a streamed one: until it "
      "starts), by method, route pattern and status class.",
      MetricType::kHistogram,
      {}};
  MetricFamily bytes{
      "canopy_http_request_body_bytes_total",
      "Request body bytes taken in (uploads, device record batches), by method and route pattern.",
      MetricType::kCounter,
      {}};
  for (const RouteMetrics& route : routes_) {
    for (std::size_t i = 0; i < route.seconds_.size(); ++i) {
      if (route.seconds_[i].count() == 0) continue;
      MetricSeries series;
      series.labels = {{"method", route.method_},
                       {"route", route.pattern_},
                       {"status_class", std::to_string(i + 1) + "xx"}};
      series.histogram = route.seconds_[i].value();
      seconds.series.push_back(std::move(series));
    }
    if (const std::uint64_t taken = route.body_bytes_.value(); taken > 0)
      bytes.series.push_back(
          {{{"method", route.method_}, {"route", route.pattern_}}, static_cast<double>(taken), {}});
  }
  return {std::move(seconds), std::move(bytes)};
}

}  // namespace canopy::server
