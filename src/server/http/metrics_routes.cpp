// GET /metrics (docs/monitoring.md): the server's metrics in the Prometheus
// text format. Counts come from what the areas hold at the scrape, each
// under its own short lock (the fleet's from memory; the runs, the retrain
// jobs and the labeling queue one GROUP BY query each, whatever the size of
// the fleet), and no series names a device.
#include <spdlog/spdlog.h>

#include <initializer_list>
#include <map>
#include <string>

#include "server/http/middleware.h"
#include "server/http/routes.h"
#include "server/metrics/exposition.h"

namespace canopy::server {

using httplib::Request;
using httplib::Response;

namespace {

// A gauge with one series per value of `label`: every value in `known`
// (0 when there is none of it, so a series does not vanish when its count
// drops to nothing), and any other value `counts` holds.
MetricFamily gauge_by(std::string name, std::string help, const std::string& label,
                      std::initializer_list<std::string_view> known,
                      const std::map<std::string, std::int64_t>& counts) {
  MetricFamily family{std::move(name), std::move(help), MetricType::kGauge, {}};
  std::map<std::string, std::int64_t> all;
  for (std::string_view value : known) all[std::string(value)] = 0;
  for (const auto& [value, count] : counts) all[value] = count;
  for (const auto& [value, count] : all)
    family.series.push_back({{{label, value}}, static_cast<double>(count), {}});
  return family;
}

MetricFamily single(std::string name, std::string help, MetricType type, double value) {
  return {std::move(name), std::move(help), type, {{{}, value, {}}}};
}

MetricFamily counter_by(std::string name, std::string help, const std::string& label,
                        const std::map<std::string, std::int64_t>& counts) {
  MetricFamily family{std::move(name), std::move(help), MetricType::kCounter, {}};
  for (const auto& [value, count] : counts)
    family.series.push_back({{{label, value}}, static_cast<double>(count), {}});
  return family;
}

std::map<std::string, std::int64_t> counts_of(const Json& object) {
  std::map<std::string, std::int64_t> counts;
  for (const auto& [key, value] : object.items()) counts[key] = value.get<std::int64_t>();
  return counts;
}

std::vector<MetricFamily> fleet_families(Fleet& fleet) {
  const Json devices = fleet.summarize_devices();
  const Fleet::DeploymentCounts deployments = fleet.deployment_counts();
  std::map<std::string, std::int64_t> deployments_by_state;
  for (const auto& [state, count] : deployments.by_state)
    deployments_by_state[std::string(api::deployment_state_name(state))] = count;
  using api::DeploymentState;
  using api::DeviceStatus;
  using api::ReportState;
  auto status = [](DeviceStatus s) { return api::device_status_name(s); };
  auto state = [](ReportState s) { return api::report_state_name(s); };
  auto deployment = [](DeploymentState s) { return api::deployment_state_name(s); };
  return {
      gauge_by("canopy_devices", "Enrolled devices by status.", "status",
               {status(DeviceStatus::kPending), status(DeviceStatus::kActive), status(DeviceStatus::kRevoked),
                status(DeviceStatus::kDecommissioned)},
               counts_of(devices["by_status"])),
      gauge_by("canopy_devices_by_presence",
               "Pending and active devices by whether they have polled lately (online), missed a few polls "
               "(stale) or never polled.",
               "presence",
               {presence_name(Presence::kOnline), presence_name(Presence::kStale),
                presence_name(Presence::kNever)},
               counts_of(devices["by_presence"])),
      gauge_by("canopy_devices_by_report_state",
               "Pending and active devices by the state of their last report.", "state",
               {state(ReportState::kIdle), state(ReportState::kDownloading), state(ReportState::kVerifying),
                state(ReportState::kInstalling), state(ReportState::kHealthChecking),
                state(ReportState::kSuccess), state(ReportState::kFailed), state(ReportState::kRolledBack)},
               counts_of(devices["by_state"])),
      gauge_by("canopy_deployments", "Deployments by state.", "state",
               {deployment(DeploymentState::kRunning), deployment(DeploymentState::kPaused),
                deployment(DeploymentState::kRolledBack), deployment(DeploymentState::kAborted),
                deployment(DeploymentState::kCompleted)},
               deployments_by_state),
      counter_by(
          "canopy_deployment_rollbacks_total",
          "Deployments rolled back, by what rolled them back: the failure threshold (failure_threshold) "
          "or a person (operator).",
          "reason",
          {{"failure_threshold", deployments.rolled_back_by_failures},
           {"operator", deployments.rolled_back_by_operator}}),
      counter_by(
          "canopy_device_rollbacks_total",
          "Rolled-back reports from devices since the server started, by why: a rolled-back deployment "
          "returned the device (deployment) or its model failed a health check (health_check).",
          "reason",
          {{"deployment", deployments.device_rollbacks_ordered},
           {"health_check", deployments.device_fallbacks}}),
  };
}

Result<std::vector<MetricFamily>> queue_families(const MetricsSources& sources) {
  CANOPY_ASSIGN_OR_RETURN(auto tasks, sources.labeling.count_by_state());
  CANOPY_ASSIGN_OR_RETURN(auto jobs, sources.retrain.count_by_state());
  CANOPY_ASSIGN_OR_RETURN(auto runs, sources.runs.count_by_status());
  return std::vector<MetricFamily>{
      gauge_by("canopy_labeling_tasks",
               "Tasks of the labeling queue by state; unlabeled ones wait for a labeler.", "state",
               {api::kTaskUnlabeled, api::kTaskInProgress, api::kTaskLabeled, api::kTaskReviewed,
                api::kTaskSkipped, api::kTaskRejected},
               tasks),
      gauge_by("canopy_retrain_jobs", "Retrain jobs by state; queued ones wait for a worker.", "state",
               {api::kJobQueued, api::kJobRunning, api::kJobSucceeded, api::kJobRejected, api::kJobFailed,
                api::kJobCancelled},
               jobs),
      gauge_by("canopy_pipeline_runs", "Pipeline runs recorded on the server, by status.", "status",
               {"running", "succeeded", "failed", "interrupted"}, runs),
  };
}

std::vector<MetricFamily> auth_families(const FailureLimiter& failures) {
  const FailureLimiter::Counts counts = failures.counts();
  return {
      single(
          "canopy_auth_failures_total",
          "Failed authentications that were guesses: unknown API keys, device tokens, enrollment tokens or "
          "passwords (docs/security.md).",
          MetricType::kCounter, static_cast<double>(counts.failures)),
      single("canopy_auth_refused_requests_total",
             "Requests answered 429 because their address was shut out for failed authentications.",
             MetricType::kCounter, static_cast<double>(counts.refused)),
      single("canopy_auth_blocked_addresses", "Client addresses shut out for failed authentications now.",
             MetricType::kGauge, static_cast<double>(counts.addresses_blocked)),
  };
}

}  // namespace

void install_metrics_routes(Routes& routes, const MetricsSources& sources) {
  routes.get("/metrics", Role::kReader, [sources](const Request&, Response& res, const ApiKeyRecord&) {
    std::vector<MetricFamily> families = sources.requests.families();
    auto append = [&families](std::vector<MetricFamily> more) {
      for (MetricFamily& family : more) families.push_back(std::move(family));
    };
    append(fleet_families(sources.fleet));
    append(auth_families(sources.failures));
    auto queues = queue_families(sources);
    if (!queues.ok()) {
      spdlog::warn("metrics.scrape_failed error=\"{}\"", queues.error().message);
      return send_error(res, queues.error());
    }
    append(std::move(*queues));
    auto text = render_exposition(std::move(families));
    if (!text.ok()) {
      spdlog::error("metrics.render_failed error=\"{}\"", text.error().message);
      return send_error(res, text.error());
    }
    res.status = 200;
    res.set_content(std::move(*text), kExpositionContentType);
  });
}

}  // namespace canopy::server
