// Enrollment, device authentication, the desired-state poll, package access
// and rollouts, against the real server with simulated devices over HTTP.
#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "fleet_fixture.h"

namespace canopy::testing {
namespace {

using FleetTest = FleetFixture;

TEST_F(FleetTest, EnrollsAndReEnrollingRotatesTheToken) {
  std::string token = enrollment_token("north-field");
  ASSERT_EQ(token.rfind("cet_", 0), 0u) << token;
  SimDevice device{KeyPair::generate(), "field-3-cam-2", "", ""};
  auto enrolled = try_enroll(device, token, {{"crop", "wheat"}, {"zone", "3"}});
  ASSERT_EQ(enrolled.status, 201) << enrolled.body;
  Json body = body_of(enrolled);
  EXPECT_EQ(device.id, device.key.public_key.key_id());
  EXPECT_EQ(device.token.rfind("cdt_", 0), 0u);
  EXPECT_EQ(body["status"], "active");
  EXPECT_EQ(body["group"], "north-field");
  EXPECT_EQ(body["poll_interval_s"], 30);
  std::string server_key = read_bytes(work_ / "data" / "keys" / "publisher.pub");
  server_key.pop_back();
  ASSERT_FALSE(body["trusted_keys"].empty());
  EXPECT_EQ(body["trusted_keys"][0], server_key);

  Json state = desired(device);
  EXPECT_EQ(state["device_id"], device.id);
  EXPECT_EQ(state["status"], "active");
  EXPECT_TRUE(state["deployment"].is_null());
  EXPECT_TRUE(state["model"].is_null());

  auto listed = body_of(admin("GET", "/api/v1/devices?group=north-field&tag=crop:wheat&status=active"));
  ASSERT_EQ(listed["devices"].size(), 1u) << listed;
  EXPECT_EQ(listed["devices"][0]["name"], "field-3-cam-2");
  EXPECT_TRUE(body_of(admin("GET", "/api/v1/devices?tag=crop:maize"))["devices"].empty());

  SimDevice again = device;
  ASSERT_EQ(try_enroll(again, token).status, 201);
  EXPECT_EQ(again.id, device.id);
  EXPECT_NE(again.token, device.token);
  auto old_token = device_call(device, "GET", "/api/v1/device/desired");
  EXPECT_EQ(old_token.status, 401) << "the old token stops working";
  EXPECT_EQ(device_call(again, "GET", "/api/v1/device/desired").status, 200);
}

TEST_F(FleetTest, RefusesExpiredUsedUpAndForgedEnrollments) {
  std::string once = enrollment_token("north-field", 1);
  enroll("first", once);
  SimDevice second{KeyPair::generate(), "second", "", ""};
  auto used_up = try_enroll(second, once);
  EXPECT_EQ(used_up.status, 401);
  EXPECT_NE(used_up.body.find("has no uses left"), std::string::npos) << used_up.body;

  std::string token = enrollment_token("north-field");
  SimDevice forger{KeyPair::generate(), "forger", "", ""};
  KeyPair other = KeyPair::generate();
  auto forged =
      call("POST", "/api/v1/enroll", enroll_request(forger, token, Json::object(), other, utc_now()), {});
  EXPECT_EQ(forged.status, 422);
  EXPECT_NE(forged.body.find("bad_signature"), std::string::npos) << forged.body;
  auto stale = call("POST", "/api/v1/enroll",
                    enroll_request(forger, token, Json::object(), forger.key, utc_now(-3600)), {});
  EXPECT_EQ(stale.status, 422) << stale.body;
  auto unknown = call("POST", "/api/v1/enroll",
                      enroll_request(forger, "cet_0_0", Json::object(), forger.key, utc_now()), {});
  EXPECT_EQ(unknown.status, 401) << unknown.body;

  std::string brief = enrollment_token("north-field", 10, "auto", 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  SimDevice late{KeyPair::generate(), "late", "", ""};
  auto expired = try_enroll(late, brief);
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(expired.body.find("enrollment token is expired"), std::string::npos) << expired.body;
  EXPECT_EQ(body_of(admin("GET", "/api/v1/devices"))["devices"].size(), 1u) << "no refused device was stored";
}

TEST_F(FleetTest, ManualApprovalHoldsADeviceUntilApproved) {
  int version = publish(1);
  SimDevice device = enroll("cam", enrollment_token("north-field", 5, "manual"));
  Json deployed = deploy(
      {{"model", "crop-disease-detector"}, {"version", version}, {"target", {{"group", "north-field"}}}});
  Json state = desired(device);
  EXPECT_EQ(state["status"], "pending");
  EXPECT_TRUE(state["model"].is_null());
  auto approved = admin("POST", "/api/v1/devices/" + device.id + "/approve");
  ASSERT_EQ(approved.status, 200) << approved.body;
  EXPECT_EQ(body_of(approved)["status"], "active");
  state = desired(device);
  EXPECT_EQ(state["status"], "active");
  EXPECT_EQ(action_of(state), "install");
  EXPECT_EQ(model_version_of(state), version);
  EXPECT_EQ(state["deployment"]["id"], deployed["id"]);
}

TEST_F(FleetTest, DeviceTokensAndApiKeysStayOnTheirOwnRoutes) {
  SimDevice device = enroll("cam", enrollment_token("north-field"));
  for (const char* path :
       {"/api/v1/models", "/api/v1/devices", "/api/v1/deployments", "/api/v1/enrollment-tokens"}) {
    auto response = device_call(device, "GET", path);
    EXPECT_EQ(response.status, 401) << path << ": " << response.body;
  }
  auto with_key =
      call("GET", "/api/v1/device/desired", Json(), {std::string("X-API-KEY: ") + ServerProcess::kAdminKey});
  EXPECT_EQ(with_key.status, 401) << with_key.body;
  auto key_as_bearer = call("GET", "/api/v1/device/desired", Json(),
                            {std::string("Authorization: Bearer ") + ServerProcess::kAdminKey});
  EXPECT_EQ(key_as_bearer.status, 401) << key_as_bearer.body;

  ASSERT_EQ(admin("POST", "/api/v1/devices/" + device.id + "/revoke").status, 200);
  auto revoked = device_call(device, "GET", "/api/v1/device/desired");
  EXPECT_EQ(revoked.status, 401);
  EXPECT_NE(revoked.body.find("device " + device.id + " is revoked"), std::string::npos) << revoked.body;
  EXPECT_EQ(report(device, 0, "idle", 0, 0, 0).status, 401);
  auto refused = try_enroll(device, enrollment_token("north-field"));
  EXPECT_EQ(refused.status, 401) << "a revoked device cannot enroll itself back";
}

TEST_F(FleetTest, OversizeBodiesAreRefused) {
  SimDevice device = enroll("cam", enrollment_token("north-field"));
  const Json big = {{"padding", std::string(200 << 10, 'x')}};
  auto enroll_big = call("POST", "/api/v1/enroll", big, {});
  EXPECT_EQ(enroll_big.status, 413) << enroll_big.body;
  auto status_big = device_call(device, "POST", "/api/v1/device/status", big);
  EXPECT_EQ(status_big.status, 413) << status_big.body;
  auto not_json = call("POST", "/api/v1/enroll", "[1, 2]", {});
  EXPECT_EQ(not_json.status, 400) << not_json.body;
  EXPECT_EQ(desired(device)["status"], "active") << "the server still answers";
}

TEST_F(FleetTest, DesiredStateAnswers304UntilItChanges) {
  int version = publish(2);
  SimDevice device = enroll("cam", enrollment_token("north-field"));
  auto first = device_call(device, "GET", "/api/v1/device/desired");
  ASSERT_EQ(first.status, 200);
  std::string etag = first.header("etag");
  ASSERT_FALSE(etag.empty());
  auto cached = device_call(device, "GET", "/api/v1/device/desired", Json(), {"If-None-Match: " + etag});
  EXPECT_EQ(cached.status, 304);
  EXPECT_TRUE(cached.body.empty());
  deploy({{"model", "crop-disease-detector"}, {"version", version}, {"target", {{"group", "north-field"}}}});
  auto changed = device_call(device, "GET", "/api/v1/device/desired", Json(), {"If-None-Match: " + etag});
  EXPECT_EQ(changed.status, 200);
  EXPECT_NE(changed.header("etag"), etag);
  EXPECT_EQ(model_version_of(body_of(changed)), version);
}

TEST_F(FleetTest, ADeviceDownloadsOnlyWhatItIsAllowed) {
  int old_version = publish(3);
  int new_version = publish(4);
  int other_version = publish(5);
  SimDevice device = enroll("cam", enrollment_token("north-field"));
  deploy(
      {{"model", "crop-disease-detector"}, {"version", new_version}, {"target", {{"group", "north-field"}}}});
  const std::string base = "/api/v1/device/packages/crop-disease-detector/";
  auto package = device_call(device, "GET", base + std::to_string(new_version));
  ASSERT_EQ(package.status, 200) << package.body;
  Json desired_state = desired(device);
  EXPECT_EQ(sha256_hex(package.body), desired_state["model"]["sha256"]);
  EXPECT_EQ(package.body.size(), desired_state["model"]["size"].get<std::size_t>());
  auto ranged =
      device_call(device, "GET", base + std::to_string(new_version), Json(), {"Range: bytes=10-19"});
  EXPECT_EQ(ranged.status, 206);
  EXPECT_EQ(ranged.body, package.body.substr(10, 10));

  EXPECT_EQ(device_call(device, "GET", base + std::to_string(old_version)).status, 404);
  ASSERT_EQ(report(device, 0, "idle", 0, old_version, 0).status, 200);
  EXPECT_EQ(device_call(device, "GET", base + std::to_string(old_version)).status, 200)
      << "its current model";
  EXPECT_EQ(device_call(device, "GET", base + std::to_string(other_version)).status, 404);
  EXPECT_EQ(call("GET", base + std::to_string(new_version), Json(), {}).status, 401);
}

TEST_F(FleetTest, CanaryThenWavesAdvanceOnSuccessReports) {
  int previous = publish(6);
  int version = publish(7);
  std::vector<SimDevice> devices = enroll_group("north-field", 10);
  Json created = deploy_to_group(version, "north-field",
                                 {{"canary", {{"count", 2}}},
                                  {"waves",
                                   {{{"percent", 50}, {"soak_s", 0}, {"success_ratio", 1.0}},
                                    {{"percent", 100}, {"soak_s", 0}, {"success_ratio", 1.0}}}}});
  const std::int64_t id = created["id"];
  EXPECT_EQ(created["stage_name"], "canary");
  EXPECT_EQ(created["targeted"], 10);
  EXPECT_EQ(created["admitted"], 2);

  auto installing = [&] {
    std::vector<SimDevice*> out;
    for (auto& d : devices)
      if (action_of(desired(d)) == "install") out.push_back(&d);
    return out;
  };
  auto succeed = [&](const std::vector<SimDevice*>& told) {
    for (SimDevice* d : told) {
      ASSERT_EQ(report(*d, id, "downloading", version, previous, 0).status, 200);
      ASSERT_EQ(report(*d, id, "success", version, version, previous).status, 200);
    }
  };
  auto canaries = installing();
  ASSERT_EQ(canaries.size(), 2u);
  ASSERT_EQ(report(*canaries[0], id, "downloading", version, previous, 0).status, 200);
  EXPECT_EQ(deployment(id)["counts"]["downloading"], 1);
  succeed(canaries);
  Json status = deployment(id);
  EXPECT_EQ(status["stage_name"], "wave 1") << status;
  EXPECT_EQ(status["admitted"], 5);
  EXPECT_EQ(status["stages"][0]["status"], "done");
  EXPECT_EQ(status["stages"][0]["successes"], 2);

  auto wave1 = installing();
  ASSERT_EQ(wave1.size(), 5u);
  succeed(wave1);
  status = deployment(id);
  EXPECT_EQ(status["stage_name"], "wave 2");
  EXPECT_EQ(status["admitted"], 10);
  EXPECT_EQ(status["state"], "running");

  succeed(installing());
  status = deployment(id);
  EXPECT_EQ(status["state"], "completed") << status;
  EXPECT_EQ(status["successes"], 10);
  EXPECT_EQ(status["counts"]["success"], 10);
  auto shown = body_of(admin("GET", "/api/v1/devices/" + devices[0].id));
  EXPECT_EQ(shown["current"]["version"], version);
  EXPECT_EQ(shown["previous"]["version"], previous);
  EXPECT_GE(shown["reports"].size(), 2u);
  EXPECT_EQ(shown["reports"][0]["state"], "success");
}

TEST_F(FleetTest, AStageAdvancesOnlyAfterItsSoakTime) {
  int version = publish(8);
  std::vector<SimDevice> devices = enroll_group("north-field", 4);
  Json created = deploy_to_group(
      version, "north-field", {{"canary", {{"count", 1}, {"soak_s", 2}}}, {"waves", {{{"percent", 100}}}}});
  const std::int64_t id = created["id"];
  for (auto& d : devices) {
    if (action_of(desired(d)) == "install") {
      ASSERT_EQ(report(d, id, "success", version, version, 0).status, 200);
    }
  }
  EXPECT_EQ(deployment(id)["stage_name"], "canary") << "the soak has not passed";
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  int installing = 0;
  for (auto& d : devices) installing += action_of(desired(d)) == "install";
  EXPECT_EQ(installing, 4) << "a poll after the soak moves the rollout on";
  EXPECT_EQ(deployment(id)["stage_name"], "wave 1");
}

TEST_F(FleetTest, FailuresRollBackDevicesThatSucceeded) {
  int previous = publish(9);
  int version = publish(10);
  std::vector<SimDevice> devices = enroll_group("north-field", 8);
  Json created = deploy_to_group(version, "north-field",
                                 {{"canary", {{"count", 4}}},
                                  {"waves", {{{"percent", 100}}}},
                                  {"max_failure_ratio", 0.2},
                                  {"min_failures", 2}});
  const std::int64_t id = created["id"];
  std::vector<SimDevice*> told;
  for (auto& d : devices)
    if (action_of(desired(d)) == "install") told.push_back(&d);
  ASSERT_EQ(told.size(), 4u);
  ASSERT_EQ(report(*told[0], id, "success", version, version, previous).status, 200);
  ASSERT_EQ(report(*told[1], id, "success", version, version, previous).status, 200);
  ASSERT_EQ(report(*told[2], id, "failed", version, previous, 0, "health check: 2 of 5 golden samples differ")
                .status,
            200);
  EXPECT_EQ(deployment(id)["state"], "running") << "one failure is below min_failures";
  ASSERT_EQ(report(*told[3], id, "rolled-back", version, previous, 0, "crashed on first frame").status, 200);

  Json status = deployment(id);
  EXPECT_EQ(status["state"], "rolled-back") << status;
  EXPECT_NE(status["reason"].get<std::string>().find("2 of 4"), std::string::npos) << status["reason"];
  ASSERT_EQ(status["failure_reports"].size(), 2u);
  std::set<std::string> reasons;
  for (const auto& failure : status["failure_reports"]) reasons.insert(failure["error"].get<std::string>());
  EXPECT_EQ(reasons,
            (std::set<std::string>{"health check: 2 of 5 golden samples differ", "crashed on first frame"}));
  for (int i : {0, 1}) {
    Json state = desired(*told[i]);
    EXPECT_EQ(action_of(state), "rollback") << state;
    EXPECT_EQ(model_version_of(state), previous);
    EXPECT_EQ(device_call(*told[i], "GET",
                          "/api/v1/device/packages/crop-disease-detector/" + std::to_string(previous))
                  .status,
              200);
  }
  for (int i : {2, 3}) EXPECT_TRUE(desired(*told[i])["deployment"].is_null());
  // The agent reports its return to the previous model: neither success nor failure.
  ASSERT_EQ(report(*told[0], id, "rolled-back", version, previous, version, "deployment rolled back").status,
            200);
  status = deployment(id);
  EXPECT_EQ(status["counts"]["reverted"], 1) << status;
  EXPECT_EQ(status["failures"], 2);
  EXPECT_EQ(action_of(desired(*told[0])), "rollback") << "the instruction stays put";
  for (auto& d : devices) {
    if (std::find(told.begin(), told.end(), &d) == told.end()) {
      EXPECT_TRUE(desired(d)["model"].is_null());
    }
  }
}

TEST_F(FleetTest, FailuresPauseWithoutAutoRollbackAndResumeAcknowledgesThem) {
  int version = publish(11);
  std::vector<SimDevice> devices = enroll_group("north-field", 4);
  Json created = deploy_to_group(version, "north-field",
                                 {{"min_failures", 1}, {"max_failure_ratio", 0.1}, {"auto_rollback", false}});
  const std::int64_t id = created["id"];
  ASSERT_EQ(report(devices[0], id, "failed", version, 0, 0, "disk full").status, 200);
  EXPECT_EQ(deployment(id)["state"], "paused");
  EXPECT_TRUE(desired(devices[1])["model"].is_null()) << "a pause holds back devices that had not started";
  auto resumed = admin("POST", "/api/v1/deployments/" + std::to_string(id) + "/resume");
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  EXPECT_EQ(body_of(resumed)["state"], "running");
  EXPECT_EQ(action_of(desired(devices[1])), "install");
  EXPECT_EQ(admin("POST", "/api/v1/deployments/" + std::to_string(id) + "/resume").status, 409);
  ASSERT_EQ(admin("POST", "/api/v1/deployments/" + std::to_string(id) + "/abort").status, 200);
  EXPECT_TRUE(desired(devices[1])["deployment"].is_null());
}

TEST_F(FleetTest, ADeviceJoiningTheTargetLaterGetsTheModel) {
  int version = publish(12);
  std::string token = enrollment_token("north-field");
  SimDevice first = enroll("first", token);
  auto refused = admin("POST", "/api/v1/deployments",
                       {{"model", "crop-disease-detector"},
                        {"version", version},
                        {"target", {{"tags", {{"crop", "wheat"}}}}}});
  EXPECT_EQ(refused.status, 400) << "no device is tagged crop=wheat yet";
  EXPECT_NE(refused.body.find("matches no enrolled device"), std::string::npos) << refused.body;
  Json created = deploy({{"model", "crop-disease-detector"},
                         {"version", version},
                         {"target", {{"tags", {{"crop", "wheat"}}}}},
                         {"allow_empty", true}});
  EXPECT_TRUE(desired(first)["model"].is_null()) << "not tagged crop=wheat";
  SimDevice later = enroll("later", token, {{"crop", "wheat"}});
  Json state = desired(later);
  EXPECT_EQ(action_of(state), "install");
  EXPECT_EQ(model_version_of(state), version);
  EXPECT_EQ(deployment(created["id"])["targeted"], 1);
}

TEST_F(FleetTest, ANewerDeploymentSupersedesAnOverlappingOne) {
  int v1 = publish(13);
  int v2 = publish(14);
  std::string token = enrollment_token("north-field");
  SimDevice a = enroll("a", token, {{"crop", "wheat"}});
  SimDevice b = enroll("b", token, {{"crop", "maize"}});
  Json first =
      deploy({{"model", "crop-disease-detector"}, {"version", v1}, {"target", {{"group", "north-field"}}}});
  Json second =
      deploy({{"model", "crop-disease-detector"}, {"version", v2}, {"target", {{"devices", {a.id}}}}});
  Json state_a = desired(a), state_b = desired(b);
  EXPECT_EQ(state_a["deployment"]["id"], second["id"]);
  EXPECT_EQ(model_version_of(state_a), v2);
  EXPECT_EQ(state_b["deployment"]["id"], first["id"]);
  Json old = deployment(first["id"]);
  EXPECT_EQ(old["counts"]["superseded"], 1) << old;
  EXPECT_EQ(old["targeted"], 1);
  // A report for the superseded deployment changes nothing there.
  ASSERT_EQ(report(a, first["id"], "success", v1, v1, 0).status, 200);
  EXPECT_EQ(deployment(first["id"])["successes"], 0);
  auto listed = body_of(admin("GET", "/api/v1/deployments"));
  ASSERT_EQ(listed["deployments"].size(), 2u);
  EXPECT_EQ(listed["deployments"][0]["id"], second["id"]) << "newest first";
}

TEST_F(FleetTest, VersionsDevicesOrDeploymentsUseCannotBeDeleted) {
  int v1 = publish(15);
  int v2 = publish(16);
  int v3 = publish(17);
  SimDevice device = enroll("cam", enrollment_token("north-field"));
  Json created =
      deploy({{"model", "crop-disease-detector"}, {"version", v2}, {"target", {{"group", "north-field"}}}});
  ASSERT_EQ(report(device, created["id"], "success", v2, v2, v1).status, 200);
  const std::string base = "/api/v1/models/crop-disease-detector/versions/";
  auto in_deployment = admin("DELETE", base + std::to_string(v2));
  EXPECT_EQ(in_deployment.status, 409) << in_deployment.body;
  EXPECT_NE(in_deployment.body.find("deployment"), std::string::npos) << in_deployment.body;
  auto previous = admin("DELETE", base + std::to_string(v1));
  EXPECT_EQ(previous.status, 409) << previous.body;
  auto cli_delete = cli("model delete crop-disease-detector " + std::to_string(v1));
  EXPECT_NE(cli_delete.exit_code, 0) << cli_delete.output;
  EXPECT_EQ(admin("DELETE", base + std::to_string(v3)).status, 200) << "nothing uses v3";

  ASSERT_EQ(admin("POST", "/api/v1/devices/" + device.id + "/decommission").status, 200);
  ASSERT_EQ(
      admin("POST", "/api/v1/deployments/" + std::to_string(created["id"].get<int>()) + "/abort").status,
      200);
  EXPECT_EQ(admin("DELETE", base + std::to_string(v1)).status, 200) << "no longer referenced";
}

TEST_F(FleetTest, FleetStateSurvivesARestart) {
  int version = publish(18);
  SimDevice device = enroll("cam", enrollment_token("north-field"));
  Json created = deploy(
      {{"model", "crop-disease-detector"}, {"version", version}, {"target", {{"group", "north-field"}}}});
  ASSERT_EQ(report(device, created["id"], "success", version, version, 0).status, 200);
  std::string before = desired(device).dump();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  (void)desired(device);  // a poll's last_seen is written only in batches, or at shutdown
  const Json seen = body_of(admin("GET", "/api/v1/devices/" + device.id))["last_seen"];
  server_->stop();
  server_->start();
  EXPECT_EQ(body_of(admin("GET", "/api/v1/devices/" + device.id))["last_seen"], seen);
  EXPECT_EQ(desired(device).dump(), before);
  Json status = deployment(created["id"]);
  EXPECT_EQ(status["state"], "completed");
  EXPECT_EQ(status["successes"], 1);
}

TEST_F(FleetTest, AKilledServerKeepsEveryAnsweredChange) {
  int version = publish(21);
  std::string token = enrollment_token("north-field");
  SimDevice a = enroll("a", token);
  SimDevice b = enroll("b", token);
  Json created = deploy({{"model", "crop-disease-detector"},
                         {"version", version},
                         {"target", {{"group", "north-field"}}},
                         {"strategy", {{"canary", {{"count", 1}}}, {"waves", {{{"percent", 100}}}}}}});
  SimDevice& canary = action_of(desired(a)) == "install" ? a : b;
  ASSERT_EQ(report(canary, created["id"], "success", version, version, 0).status, 200);
  server_->kill_hard();
  server_->start();
  Json status = deployment(created["id"]);
  EXPECT_EQ(status["successes"], 1) << status;
  EXPECT_EQ(status["stage_name"], "wave 1");
  EXPECT_EQ(action_of(desired(a)), "install");
  EXPECT_EQ(action_of(desired(b)), "install");
  SimDevice late = enroll("late", token);
  EXPECT_EQ(action_of(desired(late)), "install") << "the enrollment token's use count survived too";
  EXPECT_EQ(body_of(admin("GET", "/api/v1/enrollment-tokens"))["enrollment_tokens"][0]["uses"], 3);
}

TEST_F(FleetTest, TheCliManagesTokensDevicesAndDeployments) {
  int previous = publish(19);
  int version = publish(20);
  auto token = cli("enroll-token create --group north-field --expires 1h --uses 3 --approval manual");
  ASSERT_EQ(token.exit_code, 0) << token.output;
  // stdout holds the token alone; the note about it goes to stderr.
  const auto start = token.output.find("cet_");
  ASSERT_NE(start, std::string::npos) << token.output;
  const std::string secret = token.output.substr(start, token.output.find('\n', start) - start);
  auto tokens = cli("enroll-token list");
  EXPECT_NE(tokens.output.find("0/3"), std::string::npos) << tokens.output;
  EXPECT_EQ(tokens.output.find(secret), std::string::npos) << "the secret is shown once";

  SimDevice a = enroll("cam-a", secret, {{"crop", "wheat"}});
  SimDevice b = enroll("cam-b", secret, {{"crop", "maize"}});
  auto pending = cli("device list --status pending --tag crop=wheat");
  ASSERT_EQ(pending.exit_code, 0) << pending.output;
  EXPECT_NE(pending.output.find("cam-a"), std::string::npos) << pending.output;
  EXPECT_EQ(pending.output.find("cam-b"), std::string::npos) << pending.output;
  for (const SimDevice* d : {&a, &b}) ASSERT_EQ(cli("device approve " + d->id).exit_code, 0);

  auto missing = cli("deploy create --model crop-disease-detector --version " + std::to_string(version));
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("exactly one of --group, --tag or --devices"), std::string::npos)
      << missing.output;
  auto half = cli("deploy create --model crop-disease-detector --version " + std::to_string(version) +
                  " --group north-field --waves 50%");
  EXPECT_NE(half.exit_code, 0);
  EXPECT_NE(half.output.find("--waves must end with a wave of 100 percent"), std::string::npos)
      << "the flag the user typed, not the API's field name\n"
      << half.output;
  auto created =
      cli("--json deploy create --model crop-disease-detector --version " + std::to_string(version) +
          " --group north-field --canary 1 --waves 100% --soak 0s --success-ratio 1");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  const std::int64_t id = parse_json(created.output.substr(created.output.find('{')))->value("id", 0);
  for (SimDevice* d : {&a, &b}) {
    if (action_of(desired(*d)) == "install") {
      ASSERT_EQ(report(*d, id, "success", version, version, previous).status, 200);
    }
  }
  for (SimDevice* d : {&a, &b}) {
    if (action_of(desired(*d)) == "install") {
      ASSERT_EQ(report(*d, id, "success", version, version, previous).status, 200);
    }
  }
  auto watched = cli("deploy status " + std::to_string(id) + " --watch --interval 1s");
  EXPECT_EQ(watched.exit_code, 0) << watched.output;
  EXPECT_NE(watched.output.find("completed"), std::string::npos) << watched.output;
  EXPECT_NE(watched.output.find("canary"), std::string::npos) << watched.output;
  auto finished = cli("deploy status " + std::to_string(id));
  EXPECT_EQ(finished.output.find("current"), std::string::npos)
      << "a completed rollout has no current stage\n"
      << finished.output;
  auto listed = cli("deploy list");
  EXPECT_NE(listed.output.find("crop-disease-detector:" + std::to_string(version)), std::string::npos)
      << listed.output;

  auto rolled = cli("deploy rollback " + std::to_string(id));
  ASSERT_EQ(rolled.exit_code, 0) << rolled.output;
  EXPECT_NE(rolled.output.find("2 device(s) return to their previous model"), std::string::npos)
      << rolled.output;
  EXPECT_EQ(action_of(desired(a)), "rollback");
  auto watch_rolled = cli("deploy status " + std::to_string(id) + " --watch");
  EXPECT_NE(watch_rolled.exit_code, 0) << "a rolled-back deployment is not a success";
  EXPECT_NE(watch_rolled.output.find("rolled back by"), std::string::npos) << watch_rolled.output;

  auto shown = cli("device show " + a.id);
  EXPECT_NE(shown.output.find("crop-disease-detector:" + std::to_string(version)), std::string::npos)
      << shown.output;
  ASSERT_EQ(cli("device revoke " + a.id).exit_code, 0);
  EXPECT_EQ(device_call(a, "GET", "/api/v1/device/desired").status, 401);
  auto conflict = cli("device approve " + a.id);
  EXPECT_NE(conflict.exit_code, 0);
  EXPECT_NE(conflict.output.find("is revoked"), std::string::npos) << conflict.output;
  for (const char* help : {"enroll-token create", "device list", "deploy create", "deploy status"})
    EXPECT_EQ(cli(std::string(help) + " --help").exit_code, 0) << help;
}

}  // namespace
}  // namespace canopy::testing
