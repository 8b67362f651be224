// The instruments the server counts with while it works (docs/monitoring.md):
// a counter and a histogram with fixed buckets, both lock-free, so counting
// never makes a request wait on a scrape or on another request. What the
// areas hold (devices, deployments, queues) is counted at the scrape
// instead, from their own state; exposition.h renders both.
// Thread-safety: every member function may be called from any thread. A
// read while others count sees each observation whole or not at all, but
// may see a histogram's sum a moment before or after its buckets.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "server/metrics/exposition.h"

namespace canopy::server {

class Counter {
 public:
  void add(std::uint64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Histogram {
 public:
  // `upper_bounds`: ascending and finite; the +Inf bucket is added.
  explicit Histogram(std::span<const double> upper_bounds);

  // Counts `value` in the first bucket whose bound is at least `value`.
  void observe(double value);
  // Observations so far; counts.size() is upper_bounds.size() + 1.
  HistogramValue value() const;
  std::uint64_t count() const;

 private:
  std::vector<double> upper_bounds_;
  std::vector<std::atomic<std::uint64_t>> counts_;
  std::atomic<double> sum_{0};
};

}  // namespace canopy::server
