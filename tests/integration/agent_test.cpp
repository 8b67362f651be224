// canopy-agent end to end against the real server: enrollment, installs into
// A/B slots, server-ordered rollback, every failure that must leave the
// previous model active with the reason reported, and offline reporting.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "agent_fixture.h"
#include "common/subprocess.h"

namespace canopy::testing {
namespace {

using AgentTest = AgentFixture;

TEST_F(AgentTest, EnrollsInstallsUpdatesAndReports) {
  const fs::path data = work_ / "agent";
  auto first = run_agent(data);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  Json status = agent_status(data);
  ASSERT_TRUE(status["enrolled"].get<bool>()) << status;
  const std::string device_id = status["device_id"];
  EXPECT_TRUE(status["current"].is_null());
  struct stat info {};
  ASSERT_EQ(::stat((data / "identity.key").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((data / "enrollment.json").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  Json row = device_row(device_id);
  EXPECT_EQ(row["name"], "cam-1");
  EXPECT_EQ(row["tags"]["crop"], "wheat");

  const int v1 = publish_model({.seed = 1});
  deploy_version(v1, device_id);
  auto installed = run_agent(data);
  ASSERT_EQ(installed.exit_code, 0) << installed.output;
  status = agent_status(data);
  EXPECT_EQ(version_of(status["current"]), v1);
  EXPECT_TRUE(status["previous"].is_null());
  EXPECT_EQ(status["state"]["active_slot"], "a");
  EXPECT_TRUE(active_model_verifies(data, status));
  row = device_row(device_id);
  EXPECT_EQ(row["state"], "success") << row;
  EXPECT_EQ(version_of(row["current"]), v1) << row;

  const int v2 = publish_model({.scale = 3.0f, .golden_scale = 3.0f, .seed = 2});
  deploy_version(v2, device_id);
  auto updated = run_agent(data);
  ASSERT_EQ(updated.exit_code, 0) << updated.output;
  status = agent_status(data);
  EXPECT_EQ(version_of(status["current"]), v2);
  EXPECT_EQ(version_of(status["previous"]), v1);
  EXPECT_EQ(status["state"]["active_slot"], "b");
  EXPECT_TRUE(active_model_verifies(data, status));
  EXPECT_TRUE(partial_files(data).empty());
  EXPECT_FALSE(status["report_pending"].get<bool>());
  row = device_row(device_id);
  EXPECT_EQ(row["state"], "success") << row;
  EXPECT_EQ(version_of(row["current"]), v2) << row;
  EXPECT_EQ(version_of(row["previous"]), v1) << row;

  auto again = run_agent(data, "", " --verbose");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.output.find("agent.update "), std::string::npos)
      << "nothing to do when current: " << again.output;

  auto shown = run_shell(agent_binary().string() + " status --data-dir " + data.string());
  EXPECT_NE(shown.output.find("slot b:     crop-detector:" + std::to_string(v2) + "  (active)"),
            std::string::npos)
      << shown.output;
}

}  // namespace
}  // namespace canopy::testing

namespace canopy::testing {
namespace {

// Each failure leaves the previous model active, reports the reason, and
// does not try the same version again.
class AgentRollbackTest : public AgentFixture {
 protected:
  void SetUp() override {
    AgentFixture::SetUp();
    data_ = work_ / "agent";
    v1_ = publish_model({.seed = 1});
    device_id_ = enrolled_with(data_, v1_);
  }

  void expect_kept_previous(int bad_version, const std::string& reason, const std::string& extra = "") {
    deploy_version(bad_version, device_id_);
    auto ran = run_agent(data_, "", extra);
    ASSERT_EQ(ran.exit_code, 0) << ran.output;
    Json status = agent_status(data_);
    EXPECT_EQ(status["state"]["phase"], "idle");
    EXPECT_EQ(version_of(status["current"]), v1_) << status;
    EXPECT_EQ(status["state"]["active_slot"], "a");
    EXPECT_EQ(version_of(status["state"]["failed"]), bad_version) << status;
    const std::string error = status["state"]["last_error"];
    EXPECT_NE(error.find(reason), std::string::npos) << error;
    EXPECT_TRUE(active_model_verifies(data_, status));
    EXPECT_EQ(partial_files(data_), std::vector<std::string>{});
    EXPECT_FALSE(status["report_pending"].get<bool>());
    Json row = device_row(device_id_);
    EXPECT_EQ(row["state"], "failed") << row;
    EXPECT_NE(row["last_error"].get<std::string>().find(reason), std::string::npos) << row;
    EXPECT_EQ(version_of(row["current"]), v1_) << row;

    auto again = run_agent(data_, "", extra + " --verbose");
    ASSERT_EQ(again.exit_code, 0) << again.output;
    EXPECT_EQ(again.output.find("agent.update "), std::string::npos)
        << "a failed version is not retried: " << again.output;
    EXPECT_EQ(version_of(agent_status(data_)["current"]), v1_);
  }

  fs::path data_;
  std::string device_id_;
  int v1_ = 0;
};

TEST_F(AgentRollbackTest, ModelFailingItsGoldenSamples) {
  const int bad = publish_model({.scale = 3.0f, .golden_scale = 2.0f, .seed = 2});
  expect_kept_previous(bad, "health check: golden sample golden/output_0.pb");
}

TEST_F(AgentRollbackTest, ModelTooSlowForItsLatencyBudget) {
  const int bad = publish_model({.latency_budget_ms = 1e-6, .seed = 3});
  expect_kept_previous(bad, "too slow");
}

TEST_F(AgentRollbackTest, PackageSignedByAKeyTheDeviceDoesNotTrust) {
  // Unsigned upload: the server signs it with its own publishing key.
  const int bad = publish_model({.seed = 4}, std::nullopt);
  // The device was provisioned to trust the pipeline's publisher, who signed
  // the model it runs, and another key; not the server's own. (Had it
  // stopped trusting its own model's signer, the check at every start would
  // refuse to serve that model too.)
  Json enrollment = *parse_json(read_bytes(data_ / "enrollment.json"));
  auto key_text = [](const PublicKey& key) {
    std::string text = key.to_text();
    text.pop_back();
    return text;
  };
  enrollment["trusted_keys"] = {key_text(KeyPair::generate().public_key), key_text(signing_key_.public_key)};
  write_bytes(data_ / "enrollment.json", enrollment.dump());
  expect_kept_previous(bad, "which is not trusted here");
}

TEST_F(AgentRollbackTest, DownloadWhoseHashDoesNotMatch) {
  const int bad = publish_model({.seed = 5});
  std::string bytes = read_bytes(last_blob());
  bytes[bytes.size() / 2] ^= 0x5a;  // damaged in storage or in transit, same length
  write_bytes(last_blob(), bytes);
  expect_kept_previous(bad, "does not match the announced");
}

TEST_F(AgentRollbackTest, TruncatedDownload) {
  const int bad = publish_model({.padding_bytes = 100000, .seed = 6});
  const std::string bytes = read_bytes(last_blob());
  write_bytes(last_blob(), bytes.substr(0, bytes.size() / 2));
  expect_kept_previous(bad, "truncated");
}

TEST_F(AgentRollbackTest, SlotDirectoryTooFullForTheModel) {
  const int bad = publish_model({.padding_bytes = 400000, .seed = 7});
  expect_kept_previous(bad, "not enough disk space", " --max-slot-bytes 200000");
}

TEST_F(AgentRollbackTest, DiskFullDuringUnpack) {
  const int bad = publish_model({.padding_bytes = 600000, .seed = 12});
  deploy_version(bad, device_id_);
  // Downloaded and verified; then the next start may write at most 300 KB
  // per file (ulimit -f), so the 600 KB file fails halfway through unpacking.
  ASSERT_NE(run_agent(data_, "CANOPY_AGENT_CRASH_AT=installing").exit_code, 0);
  auto ran = run_shell("ulimit -f 300 && " + agent_command(data_) + " 2>&1");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  Json status = agent_status(data_);
  EXPECT_EQ(version_of(status["current"]), v1_) << status;
  EXPECT_EQ(version_of(status["state"]["failed"]), bad) << status;
  const std::string error = status["state"]["last_error"];
  EXPECT_NE(error.find("install into slot b: cannot write extracted file calibration.bin: no space left"),
            std::string::npos)
      << error;
  EXPECT_TRUE(active_model_verifies(data_, status));
  EXPECT_EQ(partial_files(data_), std::vector<std::string>{})
      << "the half-written file went with its staging";
  EXPECT_EQ(device_row(device_id_)["state"], "failed");
}

TEST_F(AgentRollbackTest, ServerOrderedRollbackSwitchesBackToThePrevious) {
  const int v2 = publish_model({.scale = 3.0f, .golden_scale = 3.0f, .seed = 8});
  const std::int64_t deployment = deploy_version(v2, device_id_);
  ASSERT_EQ(run_agent(data_).exit_code, 0);
  ASSERT_EQ(version_of(agent_status(data_)["current"]), v2);
  auto rolled = admin("POST", "/api/v1/deployments/" + std::to_string(deployment) + "/rollback");
  ASSERT_EQ(rolled.status, 200) << rolled.body;

  auto ran = run_agent(data_, "", " --verbose");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  EXPECT_NE(ran.output.find("agent.rollback"), std::string::npos) << ran.output;
  EXPECT_EQ(ran.output.find("agent.phase phase=downloading"), std::string::npos)
      << "no download: " << ran.output;
  Json status = agent_status(data_);
  EXPECT_EQ(version_of(status["current"]), v1_) << status;
  EXPECT_EQ(version_of(status["previous"]), v2) << status;
  EXPECT_EQ(status["state"]["active_slot"], "a");
  EXPECT_TRUE(active_model_verifies(data_, status));
  Json row = device_row(device_id_);
  EXPECT_EQ(row["state"], "rolled-back") << row;
  EXPECT_EQ(version_of(row["current"]), v1_) << row;
}

TEST_F(AgentRollbackTest, DamagedActiveModelFallsBackThenIsReinstalled) {
  const int v2 = publish_model({.scale = 3.0f, .golden_scale = 3.0f, .seed = 11});
  deploy_version(v2, device_id_);
  ASSERT_EQ(run_agent(data_).exit_code, 0);
  ASSERT_EQ(agent_status(data_)["state"]["active_slot"], "b");
  write_bytes(data_ / "slots" / "b" / "model.onnx", "bit rot");

  auto ran = run_agent(data_, "", " --verbose");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  EXPECT_NE(ran.output.find("agent.fell_back to=crop-detector:" + std::to_string(v1_)), std::string::npos)
      << ran.output;
  Json status = agent_status(data_);
  EXPECT_EQ(version_of(status["current"]), v2) << "downloaded again: " << status;
  EXPECT_EQ(version_of(status["previous"]), v1_) << status;
  EXPECT_TRUE(active_model_verifies(data_, status));
  const Json reports = device_row(device_id_)["reports"];
  const bool fell_back = std::any_of(reports.begin(), reports.end(), [](const Json& r) {
    return r["state"] == "rolled-back" &&
           r["error"].get<std::string>().find("failed its health check at start") != std::string::npos;
  });
  EXPECT_TRUE(fell_back) << reports;
}

// Flips one bit inside the ONNX file's producer name: the model still loads
// and reproduces its golden samples, so only the signed manifest's SHA-256
// can tell that the file is no longer the one that was published.
void flip_a_bit_the_golden_check_misses(const fs::path& model_file) {
  std::string bytes = read_bytes(model_file);
  const size_t at = bytes.find("canopy-tests");
  ASSERT_NE(at, std::string::npos);
  bytes[at] ^= 0x01;
  write_bytes(model_file, bytes);
}

bool reported(const Json& reports, const std::string& state, const std::string& error_part) {
  return std::any_of(reports.begin(), reports.end(), [&](const Json& r) {
    return r["state"] == state && r["error"].get<std::string>().find(error_part) != std::string::npos;
  });
}

TEST_F(AgentRollbackTest, OneFlippedBitFallsBackAtTheNextStart) {
  const int v2 = publish_model({.scale = 3.0f, .golden_scale = 3.0f, .seed = 12});
  deploy_version(v2, device_id_);
  ASSERT_EQ(run_agent(data_).exit_code, 0);
  ASSERT_EQ(agent_status(data_)["state"]["active_slot"], "b");
  flip_a_bit_the_golden_check_misses(data_ / "slots" / "b" / "model.onnx");

  auto ran = run_agent(data_, "", " --verbose");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  EXPECT_NE(ran.output.find("agent.fell_back to=crop-detector:" + std::to_string(v1_)), std::string::npos)
      << ran.output;
  EXPECT_TRUE(reported(device_row(device_id_)["reports"], "rolled-back",
                       "model.onnx does not match the SHA-256 of the signed manifest"))
      << device_row(device_id_)["reports"];
  Json status = agent_status(data_);
  EXPECT_EQ(version_of(status["current"]), v2) << "installed again from the server: " << status;
  EXPECT_TRUE(active_model_verifies(data_, status));
}

TEST_F(AgentRollbackTest, OneFlippedBitFallsBackAtTheNextPeriodicCheck) {
  const int v2 = publish_model({.scale = 3.0f, .golden_scale = 3.0f, .seed = 13});
  deploy_version(v2, device_id_);
  ASSERT_EQ(run_agent(data_).exit_code, 0);
  const fs::path log = work_ / "periodic.log";
  Subprocess::Options options;
  options.argv = {agent_binary().string(),
                  "run",
                  "--verbose",
                  "--server",
                  server_->url(),
                  "--data-dir",
                  data_.string(),
                  "--integrity-check-interval",
                  "1"};
  options.stderr_file = log;
  auto daemon = Subprocess::start(options);
  ASSERT_TRUE(daemon.ok());
  // Waits, bounded, until the daemon's log shows `event`.
  auto logged = [&](const std::string& event) {
    for (int i = 0; i < 200; ++i) {
      if (read_bytes(log).find(event) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  // Damaged only once the running daemon has checked intact files, so the
  // periodic check, not the one at start, is what finds it.
  ASSERT_TRUE(logged("agent.integrity_ok active=crop-detector:" + std::to_string(v2))) << read_bytes(log);
  flip_a_bit_the_golden_check_misses(data_ / "slots" / "b" / "model.onnx");
  EXPECT_TRUE(logged("agent.integrity_failed slot=b")) << read_bytes(log);
  EXPECT_TRUE(logged("agent.fell_back to=crop-detector:" + std::to_string(v1_))) << read_bytes(log);
  EXPECT_TRUE(logged("agent.switched model=crop-detector:" + std::to_string(v2)))
      << "reinstalled: " << read_bytes(log);
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(), 0);
  Json status = agent_status(data_);
  EXPECT_EQ(version_of(status["current"]), v2) << status;
  EXPECT_TRUE(active_model_verifies(data_, status));
  EXPECT_TRUE(reported(device_row(device_id_)["reports"], "rolled-back", "damaged on disk"))
      << device_row(device_id_)["reports"];
}

TEST_F(AgentRollbackTest, BothModelsDamagedServesNothingThenReinstalls) {
  const int v2 = publish_model({.scale = 3.0f, .golden_scale = 3.0f, .seed = 14});
  deploy_version(v2, device_id_);
  ASSERT_EQ(run_agent(data_).exit_code, 0);
  flip_a_bit_the_golden_check_misses(data_ / "slots" / "a" / "model.onnx");
  flip_a_bit_the_golden_check_misses(data_ / "slots" / "b" / "model.onnx");

  // Offline, the device serves nothing rather than a model it cannot trust.
  server_->stop();
  auto offline = run_agent(data_, "", " --verbose");
  EXPECT_EQ(offline.exit_code, 1) << offline.output;
  EXPECT_NE(offline.output.find("agent.no_intact_model"), std::string::npos) << offline.output;
  Json status = agent_status(data_);
  EXPECT_TRUE(status["current"].is_null()) << status;
  EXPECT_TRUE(status["report_pending"].get<bool>());

  server_->start();
  auto online = run_agent(data_);
  ASSERT_EQ(online.exit_code, 0) << online.output;
  status = agent_status(data_);
  EXPECT_EQ(version_of(status["current"]), v2) << status;
  EXPECT_TRUE(active_model_verifies(data_, status));
  EXPECT_TRUE(reported(device_row(device_id_)["reports"], "failed", "the previous model cannot serve either"))
      << device_row(device_id_)["reports"];
}

TEST_F(AgentRollbackTest, ReportsKeptWhileOfflineAreSentWhenTheServerIsBack) {
  const int v2 = publish_model({.scale = 3.0f, .golden_scale = 3.0f, .seed = 9});
  deploy_version(v2, device_id_);
  // Killed right after storing the success report, before sending it.
  ASSERT_NE(run_agent(data_, "CANOPY_AGENT_CRASH_AT=report-stored").exit_code, 0);
  server_->stop();
  auto offline = run_agent(data_);
  EXPECT_EQ(offline.exit_code, 1) << offline.output;
  Json status = agent_status(data_);
  EXPECT_EQ(version_of(status["current"]), v2) << "the switch finished without the network: " << status;
  EXPECT_TRUE(status["report_pending"].get<bool>());
  EXPECT_TRUE(partial_files(data_).empty());

  server_->start();
  auto online = run_agent(data_);
  ASSERT_EQ(online.exit_code, 0) << online.output;
  EXPECT_FALSE(agent_status(data_)["report_pending"].get<bool>());
  Json row = device_row(device_id_);
  EXPECT_EQ(row["state"], "success") << row;
  EXPECT_EQ(version_of(row["current"]), v2) << row;
}

TEST_F(AgentRollbackTest, DaemonModeUpdatesAndStopsOnSigterm) {
  const int v2 = publish_model({.scale = 3.0f, .golden_scale = 3.0f, .seed = 10});
  deploy_version(v2, device_id_);
  Subprocess::Options options;
  options.argv = {agent_binary().string(), "run", "--server", server_->url(), "--data-dir", data_.string()};
  options.stderr_file = work_ / "daemon.log";
  auto daemon = Subprocess::start(options);
  ASSERT_TRUE(daemon.ok());
  int current = 0;
  for (int i = 0; i < 100 && current != v2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    current = version_of(agent_status(data_)["current"]);
  }
  EXPECT_EQ(current, v2) << read_bytes(work_ / "daemon.log");
  const auto stop_started = std::chrono::steady_clock::now();
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, std::chrono::seconds(2));
}

}  // namespace
}  // namespace canopy::testing

namespace canopy::testing {
namespace {

// docs/security.md, "Rotating the publishing key": three devices, one of them
// offline through two rotations. Each update after a rotation is signed by a
// key the devices were never given at enrollment; every one installs.
TEST_F(AgentTest, RotatedPublishingKeysReachEveryDeviceAndNoUpdateFails) {
  const std::vector<fs::path> devices = {work_ / "dev-a", work_ / "dev-b", work_ / "dev-offline"};
  // Unsigned uploads: the server signs them with its current publishing key.
  const int v1 = publish_model({.seed = 1}, std::nullopt);
  std::vector<std::string> ids;
  for (const fs::path& device : devices) ids.push_back(enrolled_with(device, v1));

  auto rotate = [&] {
    server_->stop();
    auto rotated = cli("publishing-key rotate --data " + (work_ / "data").string());
    EXPECT_EQ(rotated.exit_code, 0) << rotated.output;
    server_->start();
  };
  auto update = [&](std::size_t device, int version) {
    deploy_version(version, ids[device]);
    auto ran = run_agent(devices[device]);
    EXPECT_EQ(ran.exit_code, 0) << ran.output;
    const Json status = agent_status(devices[device]);
    EXPECT_EQ(version_of(status["current"]), version) << devices[device] << ": " << status;
    EXPECT_TRUE(status["state"]["failed"].is_null()) << status;
  };

  // A running server's data directory cannot be rotated under it.
  auto refused = cli("publishing-key rotate --data " + (work_ / "data").string());
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("stop it"), std::string::npos) << refused.output;

  rotate();
  const int v2 = publish_model({.seed = 2}, std::nullopt);
  update(0, v2);
  update(1, v2);
  rotate();
  const int v3 = publish_model({.seed = 3}, std::nullopt);
  for (std::size_t device = 0; device < devices.size(); ++device) update(device, v3);

  // Each device trusts the first key and both rotations now; the offline one
  // followed the chain in one poll.
  for (const fs::path& device : devices) {
    const Json enrollment = *parse_json(read_bytes(device / "enrollment.json"));
    EXPECT_EQ(enrollment["trusted_keys"].size(), 4u)
        << device << ": the trusted publisher and three server keys";
  }
  // A device enrolled now is given every key at once.
  const fs::path late = work_ / "dev-late";
  enrolled_with(late, v1);
  EXPECT_EQ(parse_json(read_bytes(late / "enrollment.json"))->at("trusted_keys").size(), 4u);
}

}  // namespace
}  // namespace canopy::testing

namespace canopy::testing {
namespace {

std::string device_token_of(const fs::path& data_dir) {
  return parse_json(read_bytes(data_dir / "enrollment.json"))->value("device_token", "");
}

// docs/fleet.md, "Rotating the device token": the agent rotates a token past
// its age; the old one works until the new one's first use, then never again;
// a rotation whose answer was lost costs nothing.
TEST_F(AgentTest, TheAgentRotatesItsTokenAndTheOldOneEndsAtTheNewOnesFirstUse) {
  const fs::path data = work_ / "agent";
  ASSERT_EQ(run_agent(data).exit_code, 0);
  const std::string first = device_token_of(data);
  auto poll_with = [&](const std::string& token) {
    return call("GET", "/api/v1/device/desired", Json::object(), {"Authorization: Bearer " + token}).status;
  };
  ASSERT_EQ(run_agent(data).exit_code, 0);
  EXPECT_EQ(device_token_of(data), first) << "a young token is kept";

  write_bytes(data / "token_issued_ms", "0\n");  // issued long ago
  auto rotated = run_agent(data);
  ASSERT_EQ(rotated.exit_code, 0) << rotated.output;
  const std::string second = device_token_of(data);
  ASSERT_NE(second, first);
  EXPECT_EQ(poll_with(first), 200) << "the old token works until the new one is used";

  ASSERT_EQ(run_agent(data).exit_code, 0);  // its polls use the new token
  EXPECT_EQ(poll_with(first), 401);
  EXPECT_EQ(poll_with(second), 200);

  // A rotation whose answer never reached the device: it goes on with its token.
  auto lost = call("POST", "/api/v1/device/token", Json::object(), {"Authorization: Bearer " + second});
  ASSERT_EQ(lost.status, 201) << lost.body;
  const std::string never_saved = body_of(lost).value("device_token", "");
  EXPECT_EQ(poll_with(second), 200);
  // A server restart keeps both.
  server_->stop();
  server_->start();
  EXPECT_EQ(poll_with(second), 200);
  write_bytes(data / "token_issued_ms", "0\n");
  ASSERT_EQ(run_agent(data).exit_code, 0);
  EXPECT_EQ(poll_with(never_saved), 401) << "the next rotation replaces the unused token";
  ASSERT_EQ(run_agent(data).exit_code, 0);
  EXPECT_EQ(poll_with(device_token_of(data)), 200);
  EXPECT_EQ(poll_with(second), 401);
}

}  // namespace
}  // namespace canopy::testing
