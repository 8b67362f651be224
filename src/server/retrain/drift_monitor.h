// The drift monitor (docs/loop.md, "Noticing drift"): per model version and
// field, the confidence histograms and shadow agreement devices report with
// their telemetry, summed per hour of the device's clock; the reference
// window is the first `window_ms` of a version's reports in a field (what it
// saw when it was deployed there), the latest window the last `window_ms`
// after it. evaluate() measures each pair (drift.h) with the live accuracy
// people's labels give the version, raises an alert for each measure past
// its threshold, and clears it when the measure comes back.
//
// Telemetry is observed once per stored record (the HTTP layer passes only
// records the field data area stored for the first time).
//
// Thread-safety: every public method may be called from any thread; the
// monitor's mutex guards its connection. Lock order: this area, then the
// labeling queue (through DriftAccuracy).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/device_data.h"
#include "api/drift.h"
#include "api/labeling.h"
#include "common/clock.h"
#include "common/error.h"
#include "server/retrain/drift.h"
#include "server/storage/sqlite.h"

namespace canopy::server {

// What the monitor needs of the labeling queue: the models' live accuracy.
class DriftAccuracy {
 public:
  virtual ~DriftAccuracy() = default;
  virtual Result<std::vector<api::ModelAccuracy>> accuracy() = 0;
};

struct DriftOptions {
  DriftThresholds thresholds;
  std::int64_t window_ms = 86'400'000;
};

// A model version's measures in one field, hour by hour.
struct DriftHistory {
  std::int64_t window_ms = 0;
  std::int64_t reference_from_ms = 0;  // the reference window starts here and lasts window_ms
  std::vector<DriftPoint> points;
};

class DriftMonitor {
 public:
  static Result<std::unique_ptr<DriftMonitor>> open(Database db, DriftAccuracy& accuracy, Clock& clock,
                                                    DriftOptions options = {});

  // One telemetry period a device reported at `at_ms` (its clock). Periods
  // without a model or detections only count their shadow agreement.
  Status observe(const api::Telemetry& telemetry, std::int64_t at_ms);
  // Every model version and field measured; alerts raised and cleared.
  Result<std::vector<api::DriftReport>> evaluate();
  // evaluate(), unless it ran less than `max_age_ms` ago (by the clock): for
  // callers that only read the alerts, often (every worker's claim).
  Status refresh(std::int64_t max_age_ms);
  // Alerts, newest first: open ones only, or every one.
  Result<std::vector<api::DriftAlert>> alerts(bool open_only);
  // The measures of one model version (NAME:VERSION) in one field at the
  // end of each hour it reported over the last `span_ms` of its reports
  // (kNotFound when it has none).
  Result<DriftHistory> history(const std::string& model, const std::string& field, std::int64_t span_ms);
  // The open alerts of one model version (NAME:VERSION).
  Result<std::vector<api::DriftAlert>> open_alerts(const std::string& model);

 private:
  DriftMonitor(Database db, DriftAccuracy& accuracy, Clock& clock, DriftOptions options)
      : db_(std::move(db)), accuracy_(accuracy), clock_(clock), options_(options) {}

  Status apply_locked(const api::DriftReport& report);
  Result<std::vector<api::DriftAlert>> read_alerts_locked(const std::string& where,
                                                          const std::vector<SqlValue>& binds);

  std::mutex mutex_;  // guards db_
  Database db_;
  DriftAccuracy& accuracy_;
  Clock& clock_;
  const DriftOptions options_;
  std::atomic<std::int64_t> evaluated_at_ms_{-1};  // monotonic; -1: never
};

}  // namespace canopy::server
