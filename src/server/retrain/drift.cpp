#include "server/retrain/drift.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>

namespace canopy::server {

namespace {

// A bin's share, never 0: an empty bin on one side is a large shift, not an infinite one.
constexpr double kSmallestShare = 1e-4;
constexpr std::int64_t kHourMs = 3'600'000;

std::int64_t total(const api::ConfidenceHistogram& histogram) {
  return std::accumulate(histogram.begin(), histogram.end(), std::int64_t{0});
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", value);
  return text;
}

api::DriftMeasure missing(const char* name, double threshold, std::string note) {
  return {name, std::nullopt, threshold, false, std::move(note)};
}

api::DriftMeasure above(const char* name, double value, double threshold, std::string note) {
  return {name, value, threshold, value >= threshold, std::move(note)};
}

void add(DriftWindow& into, const DriftWindow& from) {
  for (std::size_t bin = 0; bin < into.histogram.size(); ++bin) into.histogram[bin] += from.histogram[bin];
  into.agreement_sum += from.agreement_sum;
  into.agreement_periods += from.agreement_periods;
}

}  // namespace

std::int64_t DriftWindow::detections() const { return total(histogram); }

double population_stability_index(const api::ConfidenceHistogram& reference,
                                  const api::ConfidenceHistogram& current) {
  const double reference_total = static_cast<double>(total(reference));
  const double current_total = static_cast<double>(total(current));
  if (reference_total == 0 || current_total == 0) return 0;
  double psi = 0;
  for (std::size_t bin = 0; bin < reference.size(); ++bin) {
    const double r = std::max(reference[bin] / reference_total, kSmallestShare);
    const double c = std::max(current[bin] / current_total, kSmallestShare);
    psi += (c - r) * std::log(c / r);
  }
  return psi;
}

double low_confidence_share(const api::ConfidenceHistogram& histogram) {
  const std::int64_t all = total(histogram);
  if (all == 0) return 0;
  const std::int64_t low = std::accumulate(histogram.begin(), histogram.begin() + 5, std::int64_t{0});
  return static_cast<double>(low) / static_cast<double>(all);
}

DriftWindows drift_windows(const std::vector<DriftHour>& hours, std::int64_t end_ms, std::int64_t window_ms) {
  DriftWindows out;
  if (hours.empty()) return out;
  const std::int64_t reference_end = hours.front().hour_ms + window_ms;
  out.reference_from_ms = hours.front().hour_ms;
  out.reference_to_ms = std::min(reference_end, end_ms);
  out.latest_from_ms = std::max(reference_end, end_ms - window_ms);
  for (const DriftHour& hour : hours) {
    if (hour.hour_ms >= end_ms) break;
    if (hour.hour_ms < reference_end) add(out.reference, hour.counts);
    if (hour.hour_ms >= out.latest_from_ms) {
      if (!out.latest) out.latest.emplace();
      add(*out.latest, hour.counts);
    }
  }
  return out;
}

std::vector<DriftPoint> drift_history(const std::vector<DriftHour>& hours, std::int64_t since_ms,
                                      std::int64_t window_ms, const DriftThresholds& thresholds) {
  std::vector<DriftPoint> points;
  for (const DriftHour& hour : hours) {
    if (hour.hour_ms < since_ms) continue;
    const DriftWindows windows = drift_windows(hours, hour.hour_ms + kHourMs, window_ms);
    std::vector<api::DriftMeasure> measures =
        measure_drift(windows.reference, windows.latest, std::nullopt, thresholds);
    std::erase_if(measures, [](const api::DriftMeasure& m) { return m.name == api::kDriftAccuracy; });
    points.push_back({hour.hour_ms, hour.counts.detections(), std::move(measures)});
  }
  return points;
}

std::vector<api::DriftMeasure> measure_drift(const std::optional<DriftWindow>& reference,
                                             const std::optional<DriftWindow>& current,
                                             const std::optional<api::ModelAccuracy>& accuracy,
                                             const DriftThresholds& thresholds) {
  std::vector<api::DriftMeasure> out;
  const std::string need = "at least " + std::to_string(thresholds.min_detections) + " detections in ";
  if (!reference || reference->detections() < thresholds.min_detections) {
    out.push_back(missing(api::kDriftPsi, thresholds.psi, need + "the reference window"));
    out.push_back(
        missing(api::kDriftLowConfidence, thresholds.low_confidence_rise, need + "the reference window"));
  } else if (!current || current->detections() < thresholds.min_detections) {
    out.push_back(missing(api::kDriftPsi, thresholds.psi, need + "the latest window"));
    out.push_back(
        missing(api::kDriftLowConfidence, thresholds.low_confidence_rise, need + "the latest window"));
  } else {
    out.push_back(above(api::kDriftPsi, population_stability_index(reference->histogram, current->histogram),
                        thresholds.psi,
                        std::to_string(reference->detections()) + " reference and " +
                            std::to_string(current->detections()) + " latest detections"));
    const double before = low_confidence_share(reference->histogram);
    const double now = low_confidence_share(current->histogram);
    out.push_back(above(api::kDriftLowConfidence, now - before, thresholds.low_confidence_rise,
                        "below 0.5: " + number(before) + " then " + number(now)));
  }

  if (!current || current->agreement_periods < thresholds.min_shadow_periods) {
    out.push_back(missing(api::kDriftDisagreement, thresholds.disagreement,
                          "no shadow model ran in " + std::to_string(thresholds.min_shadow_periods) +
                              " telemetry periods of the latest window"));
  } else {
    out.push_back(above(api::kDriftDisagreement,
                        1 - current->agreement_sum / static_cast<double>(current->agreement_periods),
                        thresholds.disagreement,
                        "over " + std::to_string(current->agreement_periods) + " telemetry periods"));
  }

  const std::int64_t boxes = accuracy ? accuracy->corrections.proposed() + accuracy->corrections.added : 0;
  if (boxes < thresholds.min_boxes) {
    out.push_back(missing(
        api::kDriftAccuracy, thresholds.min_f1,
        std::to_string(boxes) + " of " + std::to_string(thresholds.min_boxes) + " labeled boxes needed"));
  } else {
    const double precision = accuracy->precision(), recall = accuracy->recall();
    const double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
    // Accuracy drifts downwards: the alert is for F1 below its threshold.
    out.push_back({api::kDriftAccuracy, f1, thresholds.min_f1, f1 < thresholds.min_f1,
                   "F1 of " + std::to_string(accuracy->samples) + " labeled samples (precision " +
                       number(precision) + ", recall " + number(recall) + ")"});
  }
  return out;
}

}  // namespace canopy::server
