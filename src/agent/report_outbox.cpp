#include "agent/report_outbox.h"

#include <spdlog/spdlog.h>

#include "common/files.h"

namespace canopy::agent {

ReportOutbox::ReportOutbox(const std::filesystem::path& data_dir, DeviceClient& client)
    : path_(data_dir / "report.json"), client_(client) {}

std::optional<api::StatusReport> ReportOutbox::pending() const {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return std::nullopt;
  auto text = read_file(path_);
  if (!text.ok()) return std::nullopt;
  auto json = parse_json(*text, "report.json");
  if (!json.ok()) return std::nullopt;
  auto report = api::StatusReport::from_json(*json);
  if (!report.ok()) return std::nullopt;
  return *report;
}

Status ReportOutbox::store(const api::StatusReport& report) {
  return write_file_atomic(path_, report.to_json().dump() + "\n", 0600);
}

Status ReportOutbox::post(const api::StatusReport& report) {
  CANOPY_TRY(store(report));
  if (auto sent = flush(); !sent.ok())
    spdlog::info("agent.report_pending reason=\"{}\"", sent.error().message);
  return {};
}

Status ReportOutbox::flush() {
  std::optional<api::StatusReport> report = pending();
  if (!report) {
    // Nothing pending, or a damaged file (never after an atomic write, but
    // disks lie), which must not block every later report.
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    return {};
  }
  CANOPY_TRY(client_.report(*report));
  std::error_code ec;
  std::filesystem::remove(path_, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot remove " + path_.string() + ": " + ec.message());
  CANOPY_TRY(fsync_dir(path_.parent_path()));
  spdlog::info("agent.reported state={}", api::report_state_name(report->state));
  return {};
}

}  // namespace canopy::agent
