// The dashboard on a real server with a real fleet (docs/dashboard.md): a
// model in two versions, sixteen enrolled devices in two fields, a staged
// rollout with a success and a failure, sensor readings and telemetry, a
// retrain job a real `canopy worker` ran through a real pipeline to a third
// version that awaits approval, and three people.
// tests/browser/dashboard.test.mjs then drives Chromium through every page;
// this test checks what the operator's clicks left behind.
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
                           {"confidence_histogram", {0, 0, 0, 1, 2, 3, 5, 8, 13, 21}},
                           {"model", "crop-disease-detector:1"},
                           {"field", "north"}}}});
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

  // Two days of hourly telemetry from `device` running version 1 in the
  // north field: confident the first day, unsure the second, so the drift
  // monitor sees the shift and its chart over time has something to show.
  void send_drift_days(const SimDevice& device) {
    const std::int64_t start_ms = 1'767'312'000'000;  // the day after the readings
    const Json confident = {0, 0, 5, 5, 10, 10, 20, 40, 60, 50},
               unsure = {10, 30, 50, 50, 40, 20, 10, 5, 5, 0};
    Json records = Json::array();
    for (int hour = 0; hour < 48; ++hour)
      records.push_back({{"stream", "telemetry"},
                         {"seq", 100 + hour},
                         {"at_ms", start_ms + 3'600'000LL * hour},
                         {"body",
                          {{"period_s", 3600},
                           {"values", {{"fps", 4.0}}},
                           {"confidence_histogram", hour < 24 ? confident : unsure},
                           {"model", "crop-disease-detector:1"},
                           {"field", "north"}}}});
    auto sent = device_call(device, "POST", "/api/v1/device/records", {{"records", records}});
    ASSERT_EQ(sent.status, 200) << sent.body;
  }

  // A retrain job of crop-disease-detector on a generated base dataset, run
  // by a real worker: its pipeline logs a few lines, passes its gate and
  // publishes the package `challenger` names as the run's. The policy asks
  // for approval, so the job ends succeeded with its promotion pending.
  void run_retrain_job(const fs::path& challenger) {
    const fs::path dir = work_ / "loop";
    fs::create_directories(dir);
    ASSERT_EQ(cli("dataset generate --out " + (dir / "scenes").string() + " --images 3 -q").exit_code, 0);
    auto imported = cli("dataset version import " + (dir / "scenes").string() + " --name scenes -q");
    ASSERT_EQ(imported.exit_code, 0) << imported.output;
    write_bytes(dir / "policy.json", R"({"min_new_labels": 0, "on_drift": false, "bases": ["scenes:1"],
                                         "promotion": "approval", "target": {"group": "south-field"}})");
    auto policy = cli("retrain policy crop-disease-detector --file " + (dir / "policy.json").string());
    ASSERT_EQ(policy.exit_code, 0) << policy.output;
    auto started = cli("retrain start crop-disease-detector");
    ASSERT_EQ(started.exit_code, 0) << started.output;
    write_bytes(dir / "retrain.yaml", R"(- step:
    name: train
    command:
    - "for epoch in 1 2 3; do echo epoch $epoch loss 0.$((9 - epoch)); done"
    - "echo '{\"map50\": 0.8}' > {workspace}/metrics.json"
    parameters:
    - {name: model, type: string, default: ""}
    - {name: dataset, type: string, default: ""}
    - {name: parent, type: string, default: ""}
    - {name: job, type: integer, default: 0}
    outputs: ["{workspace}/metrics.json"]
    metrics: "{workspace}/metrics.json"
- gate: "train.map50 >= 0.5"
- step:
    name: deploy
    depends: [train]
    command:
    - curl -sSf -H "X-API-KEY:$API_KEY" -H "X-Canopy-Run:$CANOPY_RUN_ID" -T )" +
                                          challenger.string() + R"( "$MODEL_REPOSITORY/model.zip"
    environment-variables:
    - name: API_KEY
      optional: false
    - name: MODEL_REPOSITORY
      optional: false
)");
    auto worker = run_shell(
        "API_KEY=" + std::string(ServerProcess::kAdminKey) + " MODEL_REPOSITORY=" + server_->url() +
        "/repository " + canopy_binary().string() + " worker --pipeline " + (dir / "retrain.yaml").string() +
        " --workspace " + (dir / "work").string() + " --name field-worker --once --server " + server_->url() +
        " --api-key " + ServerProcess::kAdminKey + " 2>&1");
    ASSERT_EQ(worker.exit_code, 0) << worker.output;
    auto job = admin("GET", "/api/v1/retrain/jobs/1");
    ASSERT_EQ(job.status, 200) << job.body;
    const Json shown = body_of(job);
    ASSERT_EQ(shown.value("state", ""), "succeeded") << shown.dump() << "\n" << worker.output;
    ASSERT_EQ(shown.value("promotion", ""), "pending") << shown.dump();
  }
};

TEST_F(DashboardTest, EveryPageWorksInChromiumAndAnOperatorControlsARollout) {
  const int v1 = publish(1);
  const int v2 = publish(2);
  run_retrain_job(signed_package("crop-disease-detector", random_bytes(20000, 3), signing_key_, "3.zip"));
  std::vector<SimDevice> north = enroll_group("north-field", 12);
  std::vector<SimDevice> south = enroll_group("south-field", 4);
  for (const SimDevice& device : north) ASSERT_EQ(report(device, 0, "idle", 0, v1, 0).status, 200);
  send_field_records(north[0]);
  send_drift_days(north[1]);
  // The drift history the page draws: an hour a point, the shift past its
  // threshold at the end; bad parameters are refused naming them.
  const std::string history = "/api/v1/drift/history?model=crop-disease-detector:1&field=north";
  auto day = admin("GET", history + "&hours=24");
  ASSERT_EQ(day.status, 200) << day.body;
  const Json points = body_of(day)["points"];
  ASSERT_EQ(points.size(), 24u) << day.body;
  EXPECT_GT(points.back().value("psi", 0.0), body_of(day)["thresholds"].value("psi", 1.0)) << day.body;
  for (const char* hours : {"0", "2161", "x"}) {
    auto refused = admin("GET", history + "&hours=" + hours);
    EXPECT_EQ(refused.status, 400) << hours;
    EXPECT_NE(refused.body.find("hours '"), std::string::npos) << refused.body;
  }
  auto unnamed = admin("GET", "/api/v1/drift/history?model=crop-disease-detector:1");
  EXPECT_EQ(unnamed.status, 400) << unnamed.body;
  EXPECT_NE(unnamed.body.find("'field'"), std::string::npos) << unnamed.body;
  EXPECT_EQ(admin("GET", "/api/v1/drift/history?model=crop-disease-detector:1&field=east").status, 404);

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
  auto browser =
      run_shell("cd " + browser_tests_dir().string() + " && CANOPY_URL='" + server_->url() +
                "' CANOPY_PASSWORD='" + kPassword +
                "' CANOPY_ADMIN=adam CANOPY_OPERATOR=olga CANOPY_READER=rita CANOPY_JOB=1 CANOPY_CHALLENGER=3"
                " CANOPY_DEPLOYMENT=" +
                std::to_string(id) + " CANOPY_TELEMETRY_DEVICE=" + north[0].id + " CANOPY_DEVICE_TOKEN='" +
                canaries[2]->token + "' CANOPY_REPORT='" + downloading.dump() +
                "' node --test --test-reporter=spec dashboard.test.mjs 2>&1");
  ASSERT_EQ(browser.exit_code, 0) << browser.output;

  // The operator paused and resumed it; the reader changed nothing.
  Json after = deployment(id);
  EXPECT_EQ(after["state"], "running") << after.dump();
  EXPECT_EQ(after["counts"].value("downloading", 0), 1) << after.dump();
}

}  // namespace
}  // namespace canopy::testing
