// The Prometheus text exposition format, version 0.0.4: what a scrape of
// GET /metrics answers (docs/monitoring.md). Rendering is a pure function
// of the values, so tests hold it to the format: HELP and TYPE lines,
// escaping, a stable order, cumulative buckets ending in +Inf, _sum and
// _count.
// Thread-safety: plain values and a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace canopy::server {

enum class MetricType { kCounter, kGauge, kHistogram };

// Label names and values, in the order they are written.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

struct HistogramValue {
  std::vector<double> upper_bounds;  // ascending and finite; the +Inf bucket is implied
  // Observations per bucket, not cumulative: one per bound, and last those
  // above every bound. The count is their sum.
  std::vector<std::uint64_t> counts;
  double sum = 0;
};

struct MetricSeries {
  MetricLabels labels;
  double value = 0;          // a counter's or a gauge's
  HistogramValue histogram;  // a histogram's
};

struct MetricFamily {
  std::string name;  // a counter's ends in _total
  std::string help;  // one line
  MetricType type = MetricType::kGauge;
  std::vector<MetricSeries> series;
};

inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

// The text of `families`: sorted by name, each family's series sorted by
// their labels, so two scrapes of the same values are the same bytes.
// kInternal names the family when a name is not a valid metric or label
// name, a counter's does not end in _total or is negative, two families or
// two series of one family are the same, a histogram uses the label `le`,
// or its bounds and counts do not fit together: these are mistakes in the
// code that made them, and a scrape must not pass them on to Prometheus.
Result<std::string> render_exposition(std::vector<MetricFamily> families);

}  // namespace canopy::server
