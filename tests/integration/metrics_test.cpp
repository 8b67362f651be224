// GET /metrics against the real server (docs/monitoring.md): a reader's key
// scrapes it, the values follow what the test did (requests by route
// pattern, devices, a deployment the failure threshold rolled back, device
// rollbacks, failed authentications), promtool accepts the text, and the
// number of series does not grow with the number of devices.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "fleet_fixture.h"

namespace canopy::testing {
namespace {

class MetricsTest : public FleetFixture {
 protected:
  std::string reader_key() {
    auto created = admin("POST", "/api/v1/keys", {{"role", "reader"}, {"name", "prometheus"}});
    EXPECT_EQ(created.status, 201) << created.body;
    return body_of(created).value("key", "");
  }

  // Prometheus' `authorization` configuration sends the key as a Bearer token.
  std::string scrape(const std::string& key) {
    auto response = call("GET", "/metrics", Json::object(), {"Authorization: Bearer " + key});
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(response.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    return response.body;
  }

  // Each sample line's series (name and labels) with its value.
  static std::map<std::string, double> samples(const std::string& text) {
    std::map<std::string, double> out;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty() || line[0] == '#') continue;
      const auto space = line.rfind(' ');
      out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return out;
  }

  // promtool's own check of the format and of Prometheus' naming rules.
  void expect_promtool_accepts(const std::string& text) {
    ASSERT_EQ(run_shell("command -v promtool").exit_code, 0)
        << "promtool is missing: install the Debian package prometheus (scripts/install-deps.sh)";
    write_bytes(work_ / "scrape.txt", text);
    auto checked = run_shell("promtool check metrics < " + (work_ / "scrape.txt").string() + " 2>&1");
    EXPECT_EQ(checked.exit_code, 0) << checked.output << "\n" << text;
    EXPECT_EQ(checked.output, "") << checked.output;
  }

  // A device's day: a poll, an idle report, and an operator looking at it.
  void visit(const SimDevice& device) {
    desired(device);
    EXPECT_EQ(report(device, 0, "idle", 0, 0, 0).status, 200);
    EXPECT_EQ(admin("GET", "/api/v1/devices/" + device.id).status, 200);
  }
};

TEST_F(MetricsTest, AScrapeCountsRequestsByRouteDevicesRollbacksAndFailedKeys) {
  const std::string key = reader_key();
  EXPECT_EQ(call("GET", "/metrics", Json::object(), {}).status, 401);

  const int previous = publish(1);
  const int version = publish(2);
  std::vector<SimDevice> devices = enroll_group("north-field", 3);
  for (const SimDevice& device : devices) visit(device);
  const std::int64_t id =
      deploy_to_group(version, "north-field",
                      {{"canary", {{"count", 3}}}, {"min_failures", 1}, {"max_failure_ratio", 0.1}})["id"];
  // One success, then one failure: over the threshold, the deployment rolls back.
  ASSERT_EQ(report(devices[0], id, "success", version, version, previous).status, 200);
  ASSERT_EQ(report(devices[1], id, "failed", version, previous, 0, "health check failed").status, 200);
  ASSERT_EQ(deployment(id)["state"], "rolled-back");
  // The device that succeeded is returned; another falls back on its own.
  ASSERT_EQ(report(devices[0], id, "rolled-back", version, previous, version).status, 200);
  ASSERT_EQ(report(devices[2], 0, "rolled-back", 0, previous, 0, "golden outputs differ").status, 200);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(call("GET", "/api/v1/models", Json::object(), {"X-API-KEY: cnp_000000000000_guess"}).status,
              401);
  ASSERT_EQ(admin("POST", "/api/v1/devices/" + devices[2].id + "/revoke").status, 200);

  const std::string text = scrape(key);
  const std::map<std::string, double> values = samples(text);
  auto value = [&values](const std::string& series) {
    auto it = values.find(series);
    EXPECT_NE(it, values.end()) << series << " is not in the scrape";
    return it == values.end() ? -1 : it->second;
  };
  EXPECT_EQ(value(R"(canopy_devices{status="active"})"), 2);
  EXPECT_EQ(value(R"(canopy_devices{status="revoked"})"), 1);
  EXPECT_EQ(value(R"(canopy_devices{status="pending"})"), 0);
  EXPECT_EQ(value(R"(canopy_devices_by_presence{presence="online"})"), 2);
  EXPECT_EQ(value(R"(canopy_devices_by_report_state{state="rolled-back"})"), 1);
  EXPECT_EQ(value(R"(canopy_devices_by_report_state{state="failed"})"), 1);
  EXPECT_EQ(value(R"(canopy_deployments{state="rolled-back"})"), 1);
  EXPECT_EQ(value(R"(canopy_deployments{state="running"})"), 0);
  EXPECT_EQ(value(R"(canopy_deployment_rollbacks_total{reason="failure_threshold"})"), 1);
  EXPECT_EQ(value(R"(canopy_deployment_rollbacks_total{reason="operator"})"), 0);
  EXPECT_EQ(value(R"(canopy_device_rollbacks_total{reason="deployment"})"), 1);
  EXPECT_EQ(value(R"(canopy_device_rollbacks_total{reason="health_check"})"), 1);
  EXPECT_EQ(value("canopy_auth_failures_total"), 3);
  EXPECT_EQ(value("canopy_auth_refused_requests_total"), 0);
  EXPECT_EQ(value("canopy_auth_blocked_addresses"), 0);
  EXPECT_EQ(value(R"(canopy_labeling_tasks{state="unlabeled"})"), 0);
  EXPECT_EQ(value(R"(canopy_retrain_jobs{state="queued"})"), 0);
  EXPECT_EQ(value(R"(canopy_pipeline_runs{status="succeeded"})"), 0);

  // Requests by the route's pattern as registered, never the path.
  auto series = [](const std::string& name, const std::string& method, const std::string& route,
                   const std::string& more) {
    std::string escaped;  // a label value's backslashes are doubled
    for (char c : route) escaped += c == '\\' ? std::string("\\\\") : std::string(1, c);
    return name + "{method=\"" + method + "\",route=\"" + escaped + "\"" + more + "}";
  };
  auto requests = [&](const std::string& method, const std::string& route, const std::string& status_class) {
    return value(series("canopy_http_request_duration_seconds_count", method, route,
                        ",status_class=\"" + status_class + "\""));
  };
  EXPECT_EQ(requests("GET", "/api/v1/devices/([^/]+)", "2xx"), 3);
  EXPECT_EQ(value(series("canopy_http_request_duration_seconds_bucket", "GET", "/api/v1/devices/([^/]+)",
                         ",status_class=\"2xx\",le=\"+Inf\"")),
            3);
  EXPECT_EQ(requests("GET", "/api/v1/models", "4xx"), 3);
  EXPECT_EQ(requests("POST", "/api/v1/device/status", "2xx"), 7);
  EXPECT_EQ(requests("GET", "/metrics", "4xx"), 1);
  // Two packages pushed through the upload route, their bytes counted.
  const std::string upload = R"(/(?:repository/)?([^/]+\.zip))";
  EXPECT_EQ(requests("PUT", upload, "2xx"), 2);
  EXPECT_GT(value(series("canopy_http_request_body_bytes_total", "PUT", upload, "")), 30000);
  for (const SimDevice& device : devices) {
    EXPECT_EQ(text.find(device.id), std::string::npos) << "a series names device " << device.id;
    EXPECT_EQ(text.find(device.name), std::string::npos) << "a series names device " << device.name;
  }
  expect_promtool_accepts(text);
}

TEST_F(MetricsTest, SeriesDoNotGrowWithTheNumberOfDevices) {
  const std::string key = reader_key();
  const std::string token = enrollment_token("south-field");
  std::vector<SimDevice> devices;
  auto grow_to = [&](int count) {
    while (static_cast<int>(devices.size()) < count) {
      devices.push_back(enroll("cam-" + std::to_string(devices.size()), token));
      visit(devices.back());
    }
  };
  scrape(key);  // so that the scrape route's own series is there from here on
  grow_to(5);
  const std::map<std::string, double> few = samples(scrape(key));
  grow_to(50);
  const std::string text = scrape(key);
  const std::map<std::string, double> many = samples(text);

  std::set<std::string> few_series, many_series;
  for (const auto& [series, value] : few) few_series.insert(series);
  for (const auto& [series, value] : many) many_series.insert(series);
  EXPECT_EQ(few_series, many_series);
  EXPECT_EQ(many.at(R"(canopy_devices{status="active"})"), 50);
  EXPECT_EQ(
      many.at(
          R"(canopy_http_request_duration_seconds_count{method="POST",route="/api/v1/enroll",status_class="2xx"})"),
      50);
  expect_promtool_accepts(text);
}

}  // namespace
}  // namespace canopy::testing
