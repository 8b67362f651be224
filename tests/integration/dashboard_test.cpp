// The dashboard on a real server with a real fleet (docs/dashboard.md): a
// model in two versions, sixteen enrolled devices in two fields, a staged
// rollout with a success and a failure, sensor readings and telemetry, and
// three people. tests/browser/dashboard.test.mjs then drives Chromium through
// every page; this test checks what the operator's clicks left behind.
#include <string>
#include <vector>

#include "fleet_fixture.h"

namespace canopy::testing {
namespace {

constexpr const char* kPassword = "correct horse battery";

class DashboardTest : public FleetFixture {
 protected:
  void add_user(const std::string& name, const std::string& role) {
    auto added = admin("POST", "/api/v1/users", {{"name", name}, {"role", role}, {"password", kPassword}});
    ASSERT_EQ(added.status, 201) << added.body;
  }

  // An hour of soil moisture and telemetry from `device`, a reading a minute, and an alert.
  void send_field_records(const SimDevice& device) {
    const std::int64_t start_ms = 1'767'225'600'000;
    Json records = Json::array();
    for (int n = 0; n < 60; ++n) {
      const std::int64_t at_ms = start_ms + 60'000 * n;
      records.push_back({{"stream", "readings"},
                         {"seq", n + 1},
                         {"at_ms", at_ms},
                         {"body",
                          {{"sensor", "soil-1"},
                           {"kind", "soil_moisture"},
                           {"unit", "m3/m3"},
                           {"value", 0.30 - 0.001 * n},
                           {"status", "valid"},
                           {"reason", ""}}}});
      records.push_back({{"stream", "telemetry"},
                         {"seq", n + 1},
                         {"at_ms", at_ms},
                         {"body",
                          {{"period_s", 60},
                           {"values", {{"fps", 4.0 + (n % 3) * 0.1}, {"inference_ms", 180.0 + n % 7}}},
                           {"confidence_histogram", {0, 0, 0, 1, 2, 3, 5, 8, 13, 21}}}}});
    }
    records.push_back({{"stream", "alerts"},
                       {"seq", 1},
                       {"at_ms", start_ms + 3'600'000},
                       {"body",
                        {{"zone", "north"},
                         {"condition", "water-stressed"},
                         {"subject", ""},
                         {"raised", true},
                         {"severity", "warning"},
                         {"plants", 4},
                         {"message", "4 plants water-stressed in north"}}}});
    auto sent = device_call(device, "POST", "/api/v1/device/records", {{"records", records}});
    ASSERT_EQ(sent.status, 200) << sent.body;
  }
};

TEST_F(DashboardTest, EveryPageWorksInChromiumAndAnOperatorControlsARollout) {
  const int v1 = publish(1);
  const int v2 = publish(2);
  std::vector<SimDevice> north = enroll_group("north-field", 12);
  std::vector<SimDevice> south = enroll_group("south-field", 4);
  for (const SimDevice& device : north) ASSERT_EQ(report(device, 0, "idle", 0, v1, 0).status, 200);
  send_field_records(north[0]);

  Json created = deploy_to_group(v2, "north-field",
                                 {{"canary", {{"count", 3}}},
                                  {"waves", {{{"percent", 100}, {"soak_s", 0}, {"success_ratio", 0.9}}}},
                                  {"max_failure_ratio", 0.5},
                                  {"min_failures", 2}});
  const std::int64_t id = created.value("id", 0);
  ASSERT_GT(id, 0);
  // The canary (the deployment picks three): one succeeds, one fails, one has not started.
  std::vector<const SimDevice*> canaries;
  for (const SimDevice& device : north)
    if (action_of(desired(device)) == "install") canaries.push_back(&device);
  ASSERT_EQ(canaries.size(), 3u);
  ASSERT_EQ(report(*canaries[0], id, "success", v2, v2, v1).status, 200);
  ASSERT_EQ(report(*canaries[1], id, "failed", v2, v1, 0, "health check: 0 frames in 30 s").status, 200);

  add_user("adam", "admin");
  add_user("olga", "operator");
  add_user("rita", "reader");
  const Json downloading = {{"deployment_id", id},
                            {"state", "downloading"},
                            {"progress", 0.4},
                            {"model", model_json(v2)},
                            {"current", model_json(v1)},
                            {"previous", nullptr},
                            {"error", ""},
                            {"agent_version", "0.1.0"},
                            {"health", "ok"},
                            {"reported_at", utc_now()}};
  // CANOPY_SCREENSHOT_DIR, when set for this test, passes on (docs/screenshots/dashboard-*.png).
  auto browser = run_shell("cd " + browser_tests_dir().string() + " && CANOPY_URL='" + server_->url() +
                           "' CANOPY_PASSWORD='" + kPassword +
                           "' CANOPY_ADMIN=adam CANOPY_OPERATOR=olga CANOPY_READER=rita CANOPY_DEPLOYMENT=" +
                           std::to_string(id) + " CANOPY_TELEMETRY_DEVICE=" + north[0].id +
                           " CANOPY_DEVICE_TOKEN='" + canaries[2]->token + "' CANOPY_REPORT='" +
                           downloading.dump() + "' node --test --test-reporter=spec dashboard.test.mjs 2>&1");
  ASSERT_EQ(browser.exit_code, 0) << browser.output;

  // The operator paused and resumed it; the reader changed nothing.
  Json after = deployment(id);
  EXPECT_EQ(after["state"], "running") << after.dump();
  EXPECT_EQ(after["counts"].value("downloading", 0), 1) << after.dump();
}

}  // namespace
}  // namespace canopy::testing
