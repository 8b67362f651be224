// The drift measures (docs/loop.md, "Noticing drift") as pure functions of
// two windows of what the devices running one model version in one field
// reported, and of what people's labels say of that version:
//
//   psi             population stability index of the detections'
//                   confidence histogram, latest window against the
//                   reference window (recorded when the version started):
//                   sum over bins of (c - r) * ln(c / r), shares smoothed so
//                   an empty bin counts; 0.1 is a moderate shift, 0.25 a large one
//   low_confidence  how much the share of detections scoring below 0.5 rose
//   disagreement    the share of shadow frames where the previous model
//                   disagreed with this one (1 - the devices' mean agreement)
//   accuracy        F1 of the version's boxes against the labels people
//                   gave its samples (from their corrections)
//
// Each measure needs enough data to mean something (thresholds below);
// without it, its value is missing and it raises nothing.
// Thread-safety: values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "api/drift.h"
#include "api/labeling.h"

namespace canopy::server {

struct DriftThresholds {
  double psi = 0.2;
  double low_confidence_rise = 0.15;
  double disagreement = 0.3;
  double min_f1 = 0.7;                  // below it, the version's live accuracy is drift
  std::int64_t min_detections = 200;    // in each window, for psi and low_confidence
  std::int64_t min_shadow_periods = 3;  // telemetry periods with a shadow agreement
  std::int64_t min_boxes = 30;          // boxes proposed or labeled, for accuracy
};

// What the devices reported over one window.
struct DriftWindow {
  api::ConfidenceHistogram histogram{};
  double agreement_sum = 0;  // of the periods' shadow agreements
  std::int64_t agreement_periods = 0;

  std::int64_t detections() const;
};

// One hour of what the devices reported, as the monitor keeps it.
struct DriftHour {
  std::int64_t hour_ms = 0;  // the hour's start
  DriftWindow counts;
};

// The two windows compared at `end_ms` over the hours one model version
// reported in one field (ascending, all before `end_ms`): the reference is
// the first `window_ms` from its first hour; the latest is the last
// `window_ms` before `end_ms` that does not overlap the reference, and
// absent while the reference window has not passed.
struct DriftWindows {
  DriftWindow reference;
  std::optional<DriftWindow> latest;
  std::int64_t reference_from_ms = 0, reference_to_ms = 0;
  std::int64_t latest_from_ms = 0;  // the latest window ends at `end_ms`
};
DriftWindows drift_windows(const std::vector<DriftHour>& hours, std::int64_t end_ms, std::int64_t window_ms);

// The measures as the monitor would have taken them at the end of each
// hour in `hours` (one version in one field, ascending) from `since_ms` on,
// live accuracy aside: it is not kept per hour. For the chart over time.
struct DriftPoint {
  std::int64_t hour_ms = 0;
  std::int64_t detections = 0;  // in that hour
  std::vector<api::DriftMeasure> measures;
};
std::vector<DriftPoint> drift_history(const std::vector<DriftHour>& hours, std::int64_t since_ms,
                                      std::int64_t window_ms, const DriftThresholds& thresholds);

double population_stability_index(const api::ConfidenceHistogram& reference,
                                  const api::ConfidenceHistogram& current);
// The share of detections scoring below 0.5; 0 for none.
double low_confidence_share(const api::ConfidenceHistogram& histogram);

// The four measures, in the order above. `reference` is nullopt until the
// version has a reference window; `accuracy` until people labeled its samples.
std::vector<api::DriftMeasure> measure_drift(const std::optional<DriftWindow>& reference,
                                             const std::optional<DriftWindow>& current,
                                             const std::optional<api::ModelAccuracy>& accuracy,
                                             const DriftThresholds& thresholds);

}  // namespace canopy::server
