// The metrics module (src/server/metrics/): the Prometheus text format
// rendered exactly, the mistakes it refuses, and the instruments counting
// from many threads at once.
#include "server/metrics/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "server/metrics/exposition.h"

namespace canopy::server {
namespace {

std::string render(std::vector<MetricFamily> families) {
  auto text = render_exposition(std::move(families));
  EXPECT_TRUE(text.ok()) << text.error().message;
  return text.ok() ? *text : "";
}

std::string refusal(std::vector<MetricFamily> families) {
  auto text = render_exposition(std::move(families));
  EXPECT_FALSE(text.ok()) << *text;
  return text.ok() ? "" : text.error().message;
}

TEST(ExpositionTest, CountersAndGaugesHaveHelpTypeAndOneLinePerSeries) {
  EXPECT_EQ(
      render(
          {{"canopy_devices",
            "Devices by status.",
            MetricType::kGauge,
            {{{{"status", "active"}}, 3, {}}, {{{"status", "pending"}}, 0, {}}}},
           {"canopy_auth_failures_total", "Failed authentications.", MetricType::kCounter, {{{}, 12, {}}}}}),
      "# HELP canopy_auth_failures_total Failed authentications.\n"
      "# TYPE canopy_auth_failures_total counter\n"
      "canopy_auth_failures_total 12\n"
      "# HELP canopy_devices Devices by status.\n"
      "# TYPE canopy_devices gauge\n"
      "canopy_devices{status=\"active\"} 3\n"
      "canopy_devices{status=\"pending\"} 0\n");
}

TEST(ExpositionTest, FamiliesAndSeriesComeOutSortedWhateverTheirOrder) {
  const std::string text = render({{"b_total",
                                    "b",
                                    MetricType::kCounter,
                                    {{{{"x", "2"}, {"y", "a"}}, 1, {}}, {{{"x", "1"}, {"y", "b"}}, 2, {}}}},
                                   {"a", "a", MetricType::kGauge, {{{}, 1, {}}}}});
  EXPECT_EQ(text,
            "# HELP a a\n# TYPE a gauge\na 1\n"
            "# HELP b_total b\n# TYPE b_total counter\n"
            "b_total{x=\"1\",y=\"b\"} 2\n"
            "b_total{x=\"2\",y=\"a\"} 1\n");
}

TEST(ExpositionTest, LabelValuesAndHelpAreEscaped) {
  EXPECT_EQ(render({{"m",
                     "a \\ back\nslash \"quoted\"",
                     MetricType::kGauge,
                     {{{{"route", "/api/v1/devices/([^/]+)\\d \"x\"\nnext"}}, 1, {}}}}}),
            "# HELP m a \\\\ back\\nslash \"quoted\"\n"
            "# TYPE m gauge\n"
            "m{route=\"/api/v1/devices/([^/]+)\\\\d \\\"x\\\"\\nnext\"} 1\n");
}

TEST(ExpositionTest, ValuesAreIntegersWhenWholeAndRoundTripOtherwise) {
  EXPECT_EQ(render({{"m",
                     "h",
                     MetricType::kGauge,
                     {{{{"v", "a"}}, 0.25, {}},
                      {{{"v", "b"}}, -3, {}},
                      {{{"v", "c"}}, 1e20, {}},
                      {{{"v", "d"}}, std::numeric_limits<double>::infinity(), {}},
                      {{{"v", "e"}}, std::numeric_limits<double>::quiet_NaN(), {}},
                      {{{"v", "f"}}, 0.1 + 0.2, {}}}}}),
            "# HELP m h\n# TYPE m gauge\n"
            "m{v=\"a\"} 0.25\n"
            "m{v=\"b\"} -3\n"
            "m{v=\"c\"} 1e+20\n"
            "m{v=\"d\"} +Inf\n"
            "m{v=\"e\"} NaN\n"
            "m{v=\"f\"} 0.30000000000000004\n");
}

TEST(ExpositionTest, HistogramBucketsAreCumulativeEndInInfAndCarrySumAndCount) {
  MetricSeries series;
  series.labels = {{"route", "/x"}};
  series.histogram = {{0.005, 0.1, 1}, {2, 0, 3, 1}, 2.75};
  EXPECT_EQ(render({{"req_seconds", "Latency.", MetricType::kHistogram, {series}}}),
            "# HELP req_seconds Latency.\n"
            "# TYPE req_seconds histogram\n"
            "req_seconds_bucket{route=\"/x\",le=\"0.005\"} 2\n"
            "req_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
            "req_seconds_bucket{route=\"/x\",le=\"1\"} 5\n"
            "req_seconds_bucket{route=\"/x\",le=\"+Inf\"} 6\n"
            "req_seconds_sum{route=\"/x\"} 2.75\n"
            "req_seconds_count{route=\"/x\"} 6\n");
}

TEST(ExpositionTest, AFamilyWithoutSeriesStillSaysWhatItIs) {
  EXPECT_EQ(render({{"m_total", "h", MetricType::kCounter, {}}}),
            "# HELP m_total h\n# TYPE m_total counter\n");
}

TEST(ExpositionTest, MistakesInTheCodeAreRefusedByName) {
  EXPECT_NE(refusal({{"canopy-devices", "h", MetricType::kGauge, {}}}).find("not a valid metric name"),
            std::string::npos);
  EXPECT_NE(refusal({{"9m", "h", MetricType::kGauge, {}}}).find("not a valid metric name"),
            std::string::npos);
  EXPECT_NE(refusal({{"m", "h", MetricType::kCounter, {}}}).find("must end in _total"), std::string::npos);
  EXPECT_NE(refusal({{"m_total", "h", MetricType::kCounter, {{{}, -1, {}}}}}).find("cannot be -1"),
            std::string::npos);
  EXPECT_NE(
      refusal({{"m", "h", MetricType::kGauge, {}}, {"m", "h", MetricType::kGauge, {}}}).find("two families"),
      std::string::npos);
  EXPECT_NE(refusal({{"m", "h", MetricType::kGauge, {{{{"a", "1"}}, 1, {}}, {{{"a", "1"}}, 2, {}}}}})
                .find("two series"),
            std::string::npos);
  EXPECT_NE(
      refusal({{"m", "h", MetricType::kGauge, {{{{"a-b", "1"}}, 1, {}}}}}).find("'a-b' is not a valid label"),
      std::string::npos);
  EXPECT_NE(refusal({{"m", "h", MetricType::kGauge, {{{{"__name", "1"}}, 1, {}}}}}).find("not a valid label"),
            std::string::npos);
  EXPECT_NE(refusal({{"m", "h", MetricType::kGauge, {{{{"a", "1"}, {"a", "2"}}, 1, {}}}}})
                .find("the label a twice"),
            std::string::npos);
  MetricSeries le;
  le.labels = {{"le", "1"}};
  le.histogram = {{}, {0}, 0};
  EXPECT_NE(refusal({{"h", "h", MetricType::kHistogram, {le}}}).find("own the label le"), std::string::npos);
  MetricSeries short_counts;
  short_counts.histogram = {{1, 2}, {0, 0}, 0};
  EXPECT_NE(refusal({{"h", "h", MetricType::kHistogram, {short_counts}}}).find("one count per bound"),
            std::string::npos);
  MetricSeries unsorted;
  unsorted.histogram = {{2, 1}, {0, 0, 0}, 0};
  EXPECT_NE(refusal({{"h", "h", MetricType::kHistogram, {unsorted}}}).find("finite and ascending"),
            std::string::npos);
}

TEST(HistogramTest, CountsEachValueInTheFirstBucketWhoseBoundHoldsIt) {
  const double bounds[] = {0.1, 1, 10};
  Histogram histogram(bounds);
  for (double value : {0.05, 0.1, 0.5, 1.0, 10.0, 11.0, 1e9}) histogram.observe(value);
  const HistogramValue value = histogram.value();
  EXPECT_EQ(value.upper_bounds, std::vector<double>({0.1, 1, 10}));
  EXPECT_EQ(value.counts, std::vector<std::uint64_t>({2, 2, 1, 2}));
  EXPECT_DOUBLE_EQ(value.sum, 0.05 + 0.1 + 0.5 + 1.0 + 10.0 + 11.0 + 1e9);
  EXPECT_EQ(histogram.count(), 7u);
}

TEST(HistogramTest, ManyThreadsLoseNoObservation) {
  const double bounds[] = {1, 2};
  Histogram histogram(bounds);
  Counter counter;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        histogram.observe(i % 3);
        counter.add(2);
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(histogram.count(), 80'000u);
  EXPECT_EQ(counter.value(), 160'000u);
  EXPECT_DOUBLE_EQ(histogram.value().sum, 8.0 * (3333 * 1 + 3333 * 2));
}

}  // namespace
}  // namespace canopy::server
