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

  // The same hours survive a restart.
  monitor.reset();
  monitor = DriftMonitor::open(Database::open(dir / "db").value(), accuracy, clock).value();
  EXPECT_EQ(monitor->evaluate()->size(), 2u);
}

}  // namespace
}  // namespace canopy::server
