// The drift monitor's answers (docs/loop.md, "Noticing drift"): per model
// version and field, each measure against its threshold, and the alerts a
// crossed threshold raised. Each type has one JSON form.
// Thread-safety: plain values.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/json.h"

namespace canopy::api {

// Measures, as named in reports and alerts.
inline constexpr const char* kDriftPsi = "psi";                       // confidence distribution shift
inline constexpr const char* kDriftLowConfidence = "low_confidence";  // rise in the share of scores below 0.5
inline constexpr const char* kDriftDisagreement =
    "disagreement";                                        // share of frames the shadow model disagreed on
inline constexpr const char* kDriftAccuracy = "accuracy";  // F1 of the model's boxes against people's labels

struct DriftMeasure {
  std::string name;
  std::optional<double> value;  // nullopt: not enough data yet (see note)
  double threshold = 0;
  bool drifted = false;
  std::string note;  // how it was measured, or what is missing

  Json to_json() const;
  static Result<DriftMeasure> from_json(const Json& json);
};

// The confidences of the model's detections over a window, in ten bins of 0.1.
using ConfidenceHistogram = std::array<std::int64_t, 10>;

struct DriftReport {
  std::string model;  // NAME:VERSION
  std::string field;
  std::string reference_from, reference_to;  // the window recorded when the version started in the field
  std::string current_from, current_to;      // the latest window
  ConfidenceHistogram reference{}, current{};
  std::vector<DriftMeasure> measures;

  bool drifted() const;
  Json to_json() const;
  static Result<DriftReport> from_json(const Json& json);
};

struct DriftAlert {
  std::int64_t id = 0;
  std::string model, field, measure;
  double value = 0, threshold = 0;
  std::string state;  // open, cleared
  std::string raised_at, cleared_at;

  // "north psi 0.31 (threshold 0.20)"
  std::string describe() const;
  Json to_json() const;
  static Result<DriftAlert> from_json(const Json& json);
};

}  // namespace canopy::api
