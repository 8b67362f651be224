#include "server/retrain/drift_monitor.h"

#include <spdlog/spdlog.h>

#include <map>
#include <optional>

#include "common/time.h"
#include "server/storage/migrations.h"

namespace canopy::server {

namespace {

const AreaSchema kSchema{"drift", {R"sql(
CREATE TABLE drift_hours (
  model TEXT NOT NULL,
  field TEXT NOT NULL,
  hour_ms INTEGER NOT NULL,
  b0 INTEGER NOT NULL, b1 INTEGER NOT NULL, b2 INTEGER NOT NULL, b3 INTEGER NOT NULL, b4 INTEGER NOT NULL,
  b5 INTEGER NOT NULL, b6 INTEGER NOT NULL, b7 INTEGER NOT NULL, b8 INTEGER NOT NULL, b9 INTEGER NOT NULL,
  agreement_millis INTEGER NOT NULL,
  agreement_periods INTEGER NOT NULL,
  PRIMARY KEY (model, field, hour_ms)
);
CREATE TABLE drift_alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  model TEXT NOT NULL,
  field TEXT NOT NULL,
  measure TEXT NOT NULL,
  value TEXT NOT NULL,
  threshold TEXT NOT NULL,
  state TEXT NOT NULL,
  raised_at TEXT NOT NULL,
  cleared_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX drift_alerts_by_model ON drift_alerts(model, state);
)sql"}};

constexpr std::int64_t kHourMs = 3'600'000;

DriftHour read_hour(Statement& select) {
  DriftHour hour;
  hour.hour_ms = select.column_int(2);
  for (int bin = 0; bin < 10; ++bin) hour.counts.histogram[bin] = select.column_int(3 + bin);
  hour.counts.agreement_sum = static_cast<double>(select.column_int(13)) / 1000;
  hour.counts.agreement_periods = select.column_int(14);
  return hour;
}

}  // namespace

Result<std::unique_ptr<DriftMonitor>> DriftMonitor::open(Database db, DriftAccuracy& accuracy, Clock& clock,
                                                         DriftOptions options) {
  CANOPY_TRY(migrate(db, kSchema));
  return std::unique_ptr<DriftMonitor>(new DriftMonitor(std::move(db), accuracy, clock, options));
}

Status DriftMonitor::observe(const api::Telemetry& telemetry, std::int64_t at_ms) {
  if (telemetry.model.empty()) return {};
  auto agreement = telemetry.values.find("shadow.agreement");
  const bool shadowed = agreement != telemetry.values.end();
  std::vector<SqlValue> binds = {telemetry.model, telemetry.field, at_ms - at_ms % kHourMs};
  for (std::int64_t count : telemetry.confidence_histogram) binds.emplace_back(count);
  // Agreement in thousandths keeps the table in integers.
  binds.emplace_back(shadowed ? static_cast<std::int64_t>(agreement->second * 1000 + 0.5) : std::int64_t{0});
  binds.emplace_back(std::int64_t{shadowed ? 1 : 0});
  std::lock_guard lock(mutex_);
  return db_.run(
      "INSERT INTO drift_hours VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(model, field, hour_ms) DO "
      "UPDATE SET "
      "b0 = b0 + excluded.b0, b1 = b1 + excluded.b1, b2 = b2 + excluded.b2, b3 = b3 + excluded.b3, "
      "b4 = b4 + excluded.b4, b5 = b5 + excluded.b5, b6 = b6 + excluded.b6, b7 = b7 + excluded.b7, "
      "b8 = b8 + excluded.b8, b9 = b9 + excluded.b9, "
      "agreement_millis = agreement_millis + excluded.agreement_millis, "
      "agreement_periods = agreement_periods + excluded.agreement_periods",
      binds);
}

Status DriftMonitor::refresh(std::int64_t max_age_ms) {
  const std::int64_t last = evaluated_at_ms_.load();
  if (last >= 0 && clock_.monotonic_ms() - last < max_age_ms) return {};
  CANOPY_ASSIGN_OR_RETURN(auto reports, evaluate());
  (void)reports;
  return {};
}

Result<std::vector<api::DriftReport>> DriftMonitor::evaluate() {
  evaluated_at_ms_ = clock_.monotonic_ms();
  // Accuracy first: the labeling queue's lock is taken after this area's, never inside it here.
  CANOPY_ASSIGN_OR_RETURN(std::vector<api::ModelAccuracy> accuracies, accuracy_.accuracy());
  std::map<std::pair<std::string, std::string>, api::ModelAccuracy> accuracy_of;
  for (api::ModelAccuracy& a : accuracies) accuracy_of[{a.model, a.field}] = std::move(a);

  std::lock_guard lock(mutex_);
  std::map<std::pair<std::string, std::string>, std::vector<DriftHour>> hours;
  {
    CANOPY_ASSIGN_OR_RETURN(Statement select,
                            db_.prepare("SELECT * FROM drift_hours ORDER BY model, field, hour_ms"));
    while (true) {
      CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
      if (!row) break;
      hours[{select.column_text(0), select.column_text(1)}].push_back(read_hour(select));
    }
  }
  std::vector<api::DriftReport> reports;
  for (const auto& [key, series] : hours) {
    api::DriftReport report;
    report.model = key.first;
    report.field = key.second;
    const std::int64_t latest_end = series.back().hour_ms + kHourMs;
    const DriftWindows windows = drift_windows(series, latest_end, options_.window_ms);
    report.reference_from = format_utc(windows.reference_from_ms);
    report.reference_to = format_utc(windows.reference_to_ms);
    if (windows.latest) {
      report.current_from = format_utc(windows.latest_from_ms);
      report.current_to = format_utc(latest_end);
    }
    report.reference = windows.reference.histogram;
    if (windows.latest) report.current = windows.latest->histogram;
    auto accuracy = accuracy_of.find(key);
    report.measures = measure_drift(
        windows.reference, windows.latest,
        accuracy == accuracy_of.end() ? std::nullopt : std::optional<api::ModelAccuracy>(accuracy->second),
        options_.thresholds);
    CANOPY_TRY(apply_locked(report));
    reports.push_back(std::move(report));
  }
  return reports;
}

Result<DriftHistory> DriftMonitor::history(const std::string& model, const std::string& field,
                                           std::int64_t span_ms) {
  std::vector<DriftHour> hours;
  {
    std::lock_guard lock(mutex_);
    CANOPY_ASSIGN_OR_RETURN(
        Statement select,
        db_.prepare("SELECT * FROM drift_hours WHERE model = ? AND field = ? ORDER BY hour_ms"));
    select.bind(1, model);
    select.bind(2, field);
    while (true) {
      CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
      if (!row) break;
      hours.push_back(read_hour(select));
    }
  }
  if (hours.empty())
    return make_error(ErrorCode::kNotFound, "no drift data for " + model + " in field '" + field + "'");
  DriftHistory out;
  out.window_ms = options_.window_ms;
  out.reference_from_ms = hours.front().hour_ms;
  const std::int64_t since_ms = hours.back().hour_ms + kHourMs - span_ms;
  out.points = drift_history(hours, since_ms, options_.window_ms, options_.thresholds);
  return out;
}

Status DriftMonitor::apply_locked(const api::DriftReport& report) {
  const std::string now = format_utc(clock_.wall_ms());
  for (const api::DriftMeasure& measure : report.measures) {
    if (!measure.value) continue;  // not enough data: what is open stays open
    const std::vector<SqlValue> key = {report.model, report.field, measure.name};
    const std::string which = " WHERE model = ? AND field = ? AND measure = ? AND state = 'open'";
    if (!measure.drifted) {
      std::vector<SqlValue> binds = {now};
      binds.insert(binds.end(), key.begin(), key.end());
      CANOPY_TRY(db_.run("UPDATE drift_alerts SET state = 'cleared', cleared_at = ?" + which, binds));
      if (db_.changes() > 0)
        spdlog::info("drift.cleared model={} field={} measure={}", report.model, report.field, measure.name);
      continue;
    }
    std::vector<SqlValue> binds = {std::to_string(*measure.value)};
    binds.insert(binds.end(), key.begin(), key.end());
    CANOPY_TRY(db_.run("UPDATE drift_alerts SET value = ?" + which, binds));
    if (db_.changes() > 0) continue;
    CANOPY_TRY(
        db_.run("INSERT INTO drift_alerts (model, field, measure, value, threshold, state, raised_at) "
                "VALUES (?, ?, ?, ?, ?, 'open', ?)",
                {report.model, report.field, measure.name, std::to_string(*measure.value),
                 std::to_string(measure.threshold), now}));
    spdlog::warn("drift.raised model={} field={} measure={} value={:.3f} threshold={:.3f}", report.model,
                 report.field, measure.name, *measure.value, measure.threshold);
  }
  return {};
}

Result<std::vector<api::DriftAlert>> DriftMonitor::read_alerts_locked(const std::string& where,
                                                                      const std::vector<SqlValue>& binds) {
  CANOPY_ASSIGN_OR_RETURN(Statement select, db_.prepare("SELECT id, model, field, measure, value, threshold, "
                                                        "state, raised_at, cleared_at FROM drift_alerts" +
                                                        where + " ORDER BY id DESC LIMIT 1000"));
  for (std::size_t i = 0; i < binds.size(); ++i) select.bind(static_cast<int>(i + 1), binds[i]);
  std::vector<api::DriftAlert> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    api::DriftAlert alert;
    alert.id = select.column_int(0);
    alert.model = select.column_text(1);
    alert.field = select.column_text(2);
    alert.measure = select.column_text(3);
    alert.value = std::stod(select.column_text(4));
    alert.threshold = std::stod(select.column_text(5));
    alert.state = select.column_text(6);
    alert.raised_at = select.column_text(7);
    alert.cleared_at = select.column_text(8);
    out.push_back(std::move(alert));
  }
  return out;
}

Result<std::vector<api::DriftAlert>> DriftMonitor::alerts(bool open_only) {
  std::lock_guard lock(mutex_);
  return read_alerts_locked(open_only ? " WHERE state = 'open'" : "", {});
}

Result<std::vector<api::DriftAlert>> DriftMonitor::open_alerts(const std::string& model) {
  std::lock_guard lock(mutex_);
  return read_alerts_locked(" WHERE model = ? AND state = 'open'", {model});
}

}  // namespace canopy::server
