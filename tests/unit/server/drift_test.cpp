// The drift measures as pure functions (PSI of confidence histograms, the
// rise in low confidence, shadow disagreement, live accuracy, each missing
// until there is enough data), and the drift monitor on a real SQLite file:
// three days of telemetry with a shift on the third raise alerts naming the
// field and the measure; the shift going away clears them.
#include "server/retrain/drift.h"

#include <gtest/gtest.h>

#include "server/retrain/drift_monitor.h"
#include "test_support.h"

namespace canopy::server {
namespace {

constexpr std::int64_t kT0 = 1'780'272'000'000;  // 2026-06-01T00:00:00Z
constexpr std::int64_t kHour = 3'600'000;

const api::ConfidenceHistogram kConfident = {0, 0, 5, 5, 10, 10, 20, 40, 60, 50};
const api::ConfidenceHistogram kUnsure = {10, 30, 50, 50, 40, 20, 10, 5, 5, 0};

const api::DriftMeasure& named(const std::vector<api::DriftMeasure>& measures, const std::string& name) {
  for (const auto& m : measures)
    if (m.name == name) return m;
  throw std::runtime_error("no measure " + name);
}

TEST(DriftTest, ThePopulationStabilityIndexIsZeroForTheSameShapeAndLargeForAShift) {
  EXPECT_NEAR(population_stability_index(kConfident, kConfident), 0, 1e-12);
  api::ConfidenceHistogram doubled;
  for (std::size_t i = 0; i < 10; ++i) doubled[i] = 2 * kConfident[i];
  EXPECT_NEAR(population_stability_index(kConfident, doubled), 0, 1e-12);
  EXPECT_GT(population_stability_index(kConfident, kUnsure), 1.0);
  // Symmetric, and finite with empty bins.
  EXPECT_NEAR(population_stability_index(kConfident, kUnsure),
              population_stability_index(kUnsure, kConfident), 1e-9);
  EXPECT_EQ(population_stability_index({}, kUnsure), 0);
  EXPECT_NEAR(low_confidence_share(kConfident), 20.0 / 200, 1e-12);
  EXPECT_NEAR(low_confidence_share(kUnsure), 180.0 / 220, 1e-12);
}

TEST(DriftTest, EachMeasureNeedsEnoughDataAndComparesWithItsThreshold) {
  DriftThresholds thresholds;
  DriftWindow reference{kConfident, 0, 0};
  DriftWindow steady{kConfident, 2.7, 3};
  DriftWindow shifted{kUnsure, 1.2, 3};  // agreement 0.4: disagreement 0.6
  auto quiet = measure_drift(reference, steady, std::nullopt, thresholds);
  ASSERT_EQ(quiet.size(), 4u);
  EXPECT_FALSE(named(quiet, "psi").drifted);
  EXPECT_NEAR(*named(quiet, "disagreement").value, 0.1, 1e-9);
  EXPECT_FALSE(named(quiet, "accuracy").value.has_value());
  EXPECT_EQ(named(quiet, "accuracy").note, "0 of 30 labeled boxes needed");

  api::ModelAccuracy poor;
  poor.samples = 20;
  poor.corrections.accepted = 10;
  poor.corrections.deleted = 15;
  poor.corrections.added = 15;  // precision 0.4, recall 0.4
  auto loud = measure_drift(reference, shifted, poor, thresholds);
  EXPECT_TRUE(named(loud, "psi").drifted);
  EXPECT_TRUE(named(loud, "low_confidence").drifted);
  EXPECT_NEAR(*named(loud, "low_confidence").value, 180.0 / 220 - 0.1, 1e-9);
  EXPECT_TRUE(named(loud, "disagreement").drifted);
  EXPECT_TRUE(named(loud, "accuracy").drifted);
  EXPECT_NEAR(*named(loud, "accuracy").value, 0.4, 1e-9);

  DriftWindow thin{{0, 0, 0, 0, 0, 0, 0, 0, 10, 10}, 0, 0};
  auto early = measure_drift(thin, std::nullopt, std::nullopt, thresholds);
  EXPECT_FALSE(named(early, "psi").value.has_value());
  EXPECT_EQ(named(early, "psi").note, "at least 200 detections in the reference window");
  EXPECT_FALSE(named(early, "disagreement").value.has_value());
}

std::vector<DriftHour> hours_of(const std::vector<std::pair<int, api::ConfidenceHistogram>>& listed) {
  std::vector<DriftHour> hours;
  for (const auto& [hour, histogram] : listed) hours.push_back({kT0 + hour * kHour, {histogram, 0, 0}});
  return hours;
}

TEST(DriftTest, TheWindowsAreTheFirstDayAndTheLastDayAfterIt) {
  constexpr std::int64_t kDay = 24 * kHour;
  std::vector<std::pair<int, api::ConfidenceHistogram>> listed;
  for (int hour = 0; hour < 72; ++hour) listed.push_back({hour, hour < 24 ? kConfident : kUnsure});
  const std::vector<DriftHour> hours = hours_of(listed);

  // Until the first day is over there is only the reference.
  DriftWindows first = drift_windows(hours, kT0 + kDay, kDay);
  EXPECT_EQ(first.reference.detections(), 24 * 200);
  EXPECT_FALSE(first.latest.has_value());
  EXPECT_EQ(first.reference_to_ms, kT0 + kDay);
  DriftWindows early = drift_windows(hours, kT0 + 5 * kHour, kDay);
  EXPECT_EQ(early.reference.detections(), 5 * 200) << "hours after the end are not seen";
  EXPECT_EQ(early.reference_to_ms, kT0 + 5 * kHour);
  // One hour later the latest window is that hour alone: it never reaches into the reference.
  DriftWindows second = drift_windows(hours, kT0 + kDay + kHour, kDay);
  ASSERT_TRUE(second.latest.has_value());
  EXPECT_EQ(second.latest->detections(), 220);
  EXPECT_EQ(second.latest_from_ms, kT0 + kDay);
  // At the end, the last day.
  DriftWindows last = drift_windows(hours, kT0 + 3 * kDay, kDay);
  EXPECT_EQ(last.latest_from_ms, kT0 + 2 * kDay);
  EXPECT_EQ(last.latest->detections(), 24 * 220);
  EXPECT_EQ(last.reference.detections(), 24 * 200);
  // Hours missing (a device offline) leave the windows where the clock puts them.
  DriftWindows gaps =
      drift_windows(hours_of({{0, kConfident}, {5, kConfident}, {30, kUnsure}}), kT0 + 31 * kHour, kDay);
  EXPECT_EQ(gaps.reference.detections(), 400);
  EXPECT_EQ(gaps.latest_from_ms, kT0 + kDay);
  EXPECT_EQ(gaps.latest->detections(), 220);
  EXPECT_EQ(drift_windows({}, kT0, kDay).reference.detections(), 0);
}

TEST(DriftTest, TheHistoryIsWhatTheMonitorWouldHaveMeasuredAtTheEndOfEachHour) {
  constexpr std::int64_t kDay = 24 * kHour;
  std::vector<std::pair<int, api::ConfidenceHistogram>> listed;
  for (int hour = 0; hour < 48; ++hour) listed.push_back({hour, hour < 24 ? kConfident : kUnsure});
  const std::vector<DriftHour> hours = hours_of(listed);
  const DriftThresholds thresholds;

  const std::vector<DriftPoint> points = drift_history(hours, 0, kDay, thresholds);
  ASSERT_EQ(points.size(), 48u);
  EXPECT_EQ(points[0].hour_ms, kT0);
  EXPECT_EQ(points[0].detections, 200);
  ASSERT_EQ(points[0].measures.size(), 3u) << "accuracy is not kept per hour";
  for (const DriftPoint& point : points)
    for (const api::DriftMeasure& measure : point.measures) EXPECT_NE(measure.name, "accuracy");
  // The first day is the reference: nothing to compare with yet.
  for (int hour = 0; hour < 24; ++hour) EXPECT_FALSE(named(points[hour].measures, "psi").value) << hour;
  // From the second day on, the shift shows at once and stays.
  for (int hour = 24; hour < 48; ++hour) {
    EXPECT_TRUE(named(points[hour].measures, "psi").drifted) << hour;
    EXPECT_TRUE(named(points[hour].measures, "low_confidence").drifted) << hour;
    EXPECT_FALSE(named(points[hour].measures, "disagreement").value) << "no shadow model ran";
  }
  // The last point is what evaluate() measures now.
  DriftWindows now = drift_windows(hours, kT0 + 2 * kDay, kDay);
  EXPECT_NEAR(*named(points.back().measures, "psi").value,
              population_stability_index(now.reference.histogram, now.latest->histogram), 1e-12);
  // `since` keeps the last hours only, measured over all of them.
  const std::vector<DriftPoint> recent = drift_history(hours, kT0 + 40 * kHour, kDay, thresholds);
  ASSERT_EQ(recent.size(), 8u);
  EXPECT_EQ(recent.front().hour_ms, kT0 + 40 * kHour);
  EXPECT_EQ(*named(recent.front().measures, "psi").value, *named(points[40].measures, "psi").value);
}

class ListedAccuracy final : public DriftAccuracy {
 public:
  std::vector<api::ModelAccuracy> listed;
  Result<std::vector<api::ModelAccuracy>> accuracy() override { return listed; }
};

api::Telemetry period(const api::ConfidenceHistogram& histogram, const std::string& field) {
  api::Telemetry t;
  t.period_s = 3600;
  t.confidence_histogram = histogram;
  t.model = "detector:2";
  t.field = field;
  return t;
}

TEST(DriftMonitorTest, AShiftInOneFieldRaisesAlertsNamingItThatClearWhenItGoesAway) {
  testing::TempDir dir;
  ManualClock clock(kT0);
  ListedAccuracy accuracy;
  auto monitor = DriftMonitor::open(Database::open(dir / "db").value(), accuracy, clock).value();
  // Day one, both fields confident; days two and three, north unsure.
  for (int hour = 0; hour < 72; ++hour) {
    const std::int64_t at = kT0 + hour * kHour + 600'000;
    ASSERT_TRUE(monitor->observe(period(kConfident, "south"), at).ok());
    ASSERT_TRUE(monitor->observe(period(hour < 24 ? kConfident : kUnsure, "north"), at).ok());
  }
  api::Telemetry no_model = period(kUnsure, "north");
  no_model.model.clear();
  ASSERT_TRUE(monitor->observe(no_model, kT0).ok());  // counted nowhere

  auto reports = monitor->evaluate().value();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].field, "north");
  EXPECT_TRUE(reports[0].drifted());
  EXPECT_EQ(reports[0].reference_from, "2026-06-01T00:00:00Z");
  EXPECT_EQ(reports[0].current_from, "2026-06-03T00:00:00Z");
  EXPECT_FALSE(reports[1].drifted());
  auto open = monitor->open_alerts("detector:2").value();
  ASSERT_EQ(open.size(), 2u);  // psi and low_confidence; no shadow, no labels
  for (const api::DriftAlert& alert : open) EXPECT_EQ(alert.field, "north");
  EXPECT_EQ(open[1].measure, "psi");
  EXPECT_EQ(open[1].describe().rfind("north psi ", 0), 0u);
  // Evaluating again keeps one alert per measure.
  ASSERT_TRUE(monitor->evaluate().ok());
  EXPECT_EQ(monitor->alerts(false)->size(), 2u);

  // A day of confident north again: the latest window is back to normal,
  // which a refresh sees only once its minute is over.
  for (int hour = 72; hour < 96; ++hour)
    ASSERT_TRUE(monitor->observe(period(kConfident, "north"), kT0 + hour * kHour).ok());
  ASSERT_TRUE(monitor->refresh(60'000).ok());
  EXPECT_EQ(monitor->open_alerts("detector:2")->size(), 2u);
  clock.advance_ms(60'000);
  ASSERT_TRUE(monitor->refresh(60'000).ok());
  EXPECT_TRUE(monitor->open_alerts("detector:2")->empty());
  auto all = monitor->alerts(false).value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].state, "cleared");

  // North's measures hour by hour, over the last day or all four.
  DriftHistory north = monitor->history("detector:2", "north", 24 * kHour).value();
  ASSERT_EQ(north.points.size(), 24u);
  EXPECT_EQ(north.reference_from_ms, kT0);
  EXPECT_EQ(north.points.back().hour_ms, kT0 + 95 * kHour);
  EXPECT_EQ(monitor->history("detector:2", "north", 96 * kHour)->points.size(), 96u);
  EXPECT_EQ(monitor->history("detector:2", "east", kHour).error().code, ErrorCode::kNotFound);

  // The same hours survive a restart.
  monitor.reset();
  monitor = DriftMonitor::open(Database::open(dir / "db").value(), accuracy, clock).value();
  EXPECT_EQ(monitor->evaluate()->size(), 2u);
}

}  // namespace
}  // namespace canopy::server
