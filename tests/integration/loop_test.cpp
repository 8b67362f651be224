// The closed loop's job protocol end to end: a real server, real `canopy
// worker` processes running a real pipeline, one of them killed with
// SIGKILL mid-step. Its pipeline dies with it (no orphan keeps the
// workspace), its lease runs out on the server, and another worker takes the
// job over on the next attempt and finishes it; the pipeline's gate refuses
// the result, so the job is rejected and no alias moves. A server restarted
// mid-job keeps the job and its lease. Malformed worker calls change nothing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "common/files.h"
#include "common/json.h"
#include "common/subprocess.h"
#include "test_support.h"

namespace canopy::testing {
namespace {

// A step slow enough to be killed in, then a metric its gate refuses.
constexpr const char* kSlowPipeline = R"(- step:
    name: train
    command:
    - "echo $$ > {workspace}/step.pid"
    - sleep 4
    - "echo '{\"map50\": 0.1}' > {workspace}/metrics.json"
    parameters:
    - {name: model, type: string, default: ""}
    - {name: dataset, type: string, default: ""}
    - {name: parent, type: string, default: ""}
    - {name: job, type: integer, default: 0}
    outputs: ["{workspace}/metrics.json"]
    metrics: "{workspace}/metrics.json"
- gate: "train.map50 >= 0.5"
)";

// A loopback port nothing listens on now.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), size);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A fixed port, so that a restarted server is where the worker left it.
    server = std::make_unique<ServerProcess>(
        dir / "data",
        std::vector<std::string>{"--job-lease", "3", "--listen", "127.0.0.1:" + std::to_string(free_port())});
    env = "CANOPY_SERVER=" + server->url() + " CANOPY_API_KEY=" + ServerProcess::kAdminKey + " ";
    canopy = env + canopy_binary().string();
    write_bytes(dir / "slow.yaml", kSlowPipeline);
    // Something to train on: a base dataset the policy brings in.
    ASSERT_EQ(run_shell(canopy + " dataset generate --out " + (dir / "scenes").string() + " --images 3 -q")
                  .exit_code,
              0);
    CommandResult imported =
        run_shell(canopy + " dataset version import " + (dir / "scenes").string() + " --name scenes -q");
    ASSERT_EQ(imported.exit_code, 0) << imported.output;
    write_bytes(dir / "policy.json",
                R"({"min_new_labels": 0, "on_drift": false, "bases": ["scenes:1"], "promotion": "manual"})");
    CommandResult policy =
        run_shell(canopy + " retrain policy detector --file " + (dir / "policy.json").string());
    ASSERT_EQ(policy.exit_code, 0) << policy.output;
  }

  Json job(int id) {
    CommandResult shown = run_shell(canopy + " retrain show " + std::to_string(id));
    EXPECT_EQ(shown.exit_code, 0) << shown.output;
    return parse_json(shown.output).value();
  }

  Subprocess start_worker(const std::string& name) {
    return Subprocess::start({{canopy_binary().string(), "worker", "--pipeline", (dir / "slow.yaml").string(),
                               "--workspace", (dir / "work").string(), "--name", name, "--once", "--server",
                               server->url(), "--api-key", ServerProcess::kAdminKey},
                              {},
                              dir / (name + ".log"),
                              dir / (name + ".log")})
        .value();
  }

  // Waits (real time: a real worker runs a real step) until the job's state is `state`.
  bool wait_for_state(int id, const std::string& state, int seconds) {
    for (int i = 0; i < seconds * 10; ++i) {
      if (job(id).value("state", "") == state) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  TempDir dir;
  std::unique_ptr<ServerProcess> server;
  std::string env, canopy;
};

TEST_F(LoopTest, AWorkerKilledMidStepLosesTheJobToAnotherThatFinishesIt) {
  CommandResult started = run_shell(canopy + " retrain start detector");
  ASSERT_EQ(started.exit_code, 0) << started.output;
  EXPECT_NE(started.output.find("queued"), std::string::npos) << started.output;

  Subprocess first = start_worker("first");
  ASSERT_TRUE(wait_for_state(1, "running", 20));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // inside `sleep 4`
  first.signal(SIGKILL);
  first.wait();
  // The pipeline went with its worker: the step's shell is gone too.
  const std::string step_pid = read_bytes(dir / "work" / "job-1" / "step.pid");
  ASSERT_FALSE(step_pid.empty());
  bool step_gone = false;
  for (int i = 0; i < 50 && !step_gone; ++i) {
    step_gone = ::kill(std::stoi(step_pid), 0) != 0;
    if (!step_gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(step_gone) << "the killed worker's step still runs";
  EXPECT_EQ(job(1).value("worker", ""), "first");

  // The lease (3 s) runs out; the next worker gets the job on attempt 2.
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  Subprocess second = start_worker("second");
  EXPECT_EQ(second.wait(), 0) << read_bytes(dir / "second.log");
  Json finished = job(1);
  EXPECT_EQ(finished["state"], "rejected") << finished.dump();
  EXPECT_EQ(finished["attempts"], 2);
  EXPECT_EQ(finished["worker"], "second");
  EXPECT_NE(finished.value("message", "").find("train.map50 = 0.1 is not >= 0.5"), std::string::npos);
  EXPECT_FALSE(finished.value("run_id", "").empty());
  // A rejected challenger never becomes an alias.
  CommandResult aliases = run_shell(canopy + " model list");
  EXPECT_EQ(aliases.output.find("challenger"), std::string::npos) << aliases.output;
}

TEST_F(LoopTest, AServerRestartedMidJobKeepsTheJobAndTheWorkerReportsItsEnd) {
  ASSERT_EQ(run_shell(canopy + " retrain start detector").exit_code, 0);
  Subprocess worker = start_worker("steady");
  ASSERT_TRUE(wait_for_state(1, "running", 20));
  server->kill_hard();
  server->start();  // same port: the worker's next heartbeat reaches it
  EXPECT_EQ(job(1).value("state", ""), "running");
  EXPECT_EQ(worker.wait(), 0) << read_bytes(dir / "steady.log");
  EXPECT_EQ(job(1).value("state", ""), "rejected");
  EXPECT_EQ(job(1)["attempts"], 1);
  // A second request for a model with no open job queues the next one; while it is open, no third.
  ASSERT_EQ(run_shell(canopy + " retrain start detector").exit_code, 0);
  CommandResult again = run_shell(canopy + " retrain start detector");
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.output.find("already queued or running"), std::string::npos) << again.output;
}

// The real retrain pipeline (examples/agriculture/retrain.yaml), tiny: a
// first model trained by the example pipeline is production; a drifted
// field's labeled data is the job's dataset. The first worker is killed
// with SIGKILL once training has saved its first checkpoint; the second
// resumes from it (the data step cached, training "resuming ... at epoch"),
// the challenger passes its gates and is published with its lineage. A
// second job whose gate asks for more than the challenger can give is
// rejected, and the challenger alias stays where it was.
TEST_F(LoopTest, ARealRetrainKilledMidTrainingIsResumedByAnotherWorkerAndItsChallengerHasItsLineage) {
  const std::string tools = "PATH=" + canopy_binary().parent_path().string() + ":" +
                            train_binary().parent_path().string() + ":$PATH ";
  const std::string publish = "API_KEY=" + std::string(ServerProcess::kAdminKey) +
                              " MODEL_REPOSITORY=" + server->url() + "/repository ";
  CommandResult first_model = run_shell(
      env + tools + publish + canopy_binary().string() + " pipeline run " +
      (examples_dir() / "agriculture" / "pipeline.yaml").string() + " --workspace " +
      (dir / "first").string() +
      " -q --param images=64 --param val_images=16 --param epochs=4 --param img=160 --param width=0.25"
      " --param batch=8 --param min_map50=0 --param max_drop=1");
  ASSERT_EQ(first_model.exit_code, 0) << first_model.output;
  ASSERT_EQ(run_shell(canopy + " model alias set crop-disease-detector 1 production").exit_code, 0);
  ASSERT_EQ(run_shell(canopy + " dataset generate --out " + (dir / "drifted").string() +
                      " --images 60 --seed 11 --scenario new-disease -q")
                .exit_code,
            0);
  ASSERT_EQ(run_shell(canopy + " dataset version import " + (dir / "drifted").string() + " --name drifted -q")
                .exit_code,
            0);
  write_bytes(dir / "retrain.json", R"({"min_new_labels": 0, "on_drift": false, "bases": ["drifted:1"],
    "promotion": "manual", "parameters": {"replay": 32, "val_images": 16, "epochs": 8, "img": 160,
    "width": 0.25, "batch": 8, "max_drop": 1, "min_gain": -1, "max_forgetting": 1}})");
  ASSERT_EQ(
      run_shell(canopy + " retrain policy crop-disease-detector --file " + (dir / "retrain.json").string())
          .exit_code,
      0);
  ASSERT_EQ(run_shell(canopy + " retrain start crop-disease-detector").exit_code, 0);

  auto retrain_worker = [&](const std::string& name) {
    return Subprocess::start(
               {{canopy_binary().string(), "worker", "--pipeline",
                 (examples_dir() / "agriculture" / "retrain.yaml").string(), "--workspace",
                 (dir / "work").string(), "--name", name, "--once", "--server", server->url(), "--api-key",
                 ServerProcess::kAdminKey},
                {{"PATH", canopy_binary().parent_path().string() + ":" +
                              train_binary().parent_path().string() + ":" + std::getenv("PATH")}},
                dir / (name + ".log"),
                dir / (name + ".log")})
        .value();
  };
  Subprocess first = retrain_worker("first");
  const fs::path checkpoint = dir / "work" / "job-1" / "train" / "last.pt";
  for (int i = 0; i < 1200 && !fs::exists(checkpoint); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(checkpoint)) << read_bytes(dir / "first.log");
  first.signal(SIGKILL);
  first.wait();
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));  // the lease runs out

  Subprocess second = retrain_worker("second");
  ASSERT_EQ(second.wait(), 0) << read_bytes(dir / "second.log");
  const std::string log = read_bytes(dir / "second.log");
  EXPECT_NE(log.find("[train] resuming"), std::string::npos) << log;
  EXPECT_NE(log.find("data                 cached"), std::string::npos) << log;
  Json job = this->job(1);
  EXPECT_EQ(job["state"], "succeeded") << job.dump();
  EXPECT_EQ(job["attempts"], 2);
  EXPECT_EQ(job["version"], 2);
  EXPECT_EQ(job["parent_version"], 1);
  CommandResult models = run_shell(canopy + " model list");
  EXPECT_NE(models.output.find("challenger=2 production=1"), std::string::npos) << models.output;

  // Lineage both ways.
  CommandResult version_lineage = run_shell(canopy + " lineage crop-disease-detector:2");
  ASSERT_EQ(version_lineage.exit_code, 0) << version_lineage.output;
  Json from_version = parse_json(version_lineage.output).value();
  EXPECT_EQ(from_version["job"], 1);
  EXPECT_EQ(from_version["parent"], "crop-disease-detector:1");
  EXPECT_EQ(from_version["dataset"], "crop-disease-detector-field:1");
  ASSERT_EQ(from_version["samples"].size(), 60u);
  const std::string sample = from_version["samples"][0]["sample_id"];
  CommandResult sample_lineage = run_shell(canopy + " lineage --sample " + sample);
  ASSERT_EQ(sample_lineage.exit_code, 0) << sample_lineage.output;
  Json from_sample = parse_json(sample_lineage.output).value();
  ASSERT_EQ(from_sample["models"].size(), 1u) << from_sample.dump();
  EXPECT_EQ(from_sample["models"][0]["version"], 2);

  // A gate that asks for more than the challenger gives: rejected, never an alias.
  write_bytes(dir / "strict.json", R"({"min_new_labels": 0, "on_drift": false, "bases": ["drifted:1"],
    "promotion": "manual", "parameters": {"replay": 32, "val_images": 16, "epochs": 1, "img": 160,
    "width": 0.25, "batch": 8, "max_drop": 1, "min_gain": 1, "max_forgetting": 1}})");
  ASSERT_EQ(
      run_shell(canopy + " retrain policy crop-disease-detector --file " + (dir / "strict.json").string())
          .exit_code,
      0);
  ASSERT_EQ(run_shell(canopy + " retrain start crop-disease-detector").exit_code, 0);
  Subprocess strict = retrain_worker("strict");
  ASSERT_EQ(strict.wait(), 0) << read_bytes(dir / "strict.log");
  Json rejected = this->job(2);
  EXPECT_EQ(rejected["state"], "rejected") << rejected.dump();
  EXPECT_NE(rejected.value("message", "").find("challenger_field.map50"), std::string::npos)
      << rejected.dump();
  models = run_shell(canopy + " model list");
  EXPECT_NE(models.output.find("challenger=2 production=1"), std::string::npos) << models.output;
}

TEST_F(LoopTest, APolicyChangesSettingBySettingFromTheCommandLineAndABadSettingChangesNothing) {
  CommandResult changed =
      run_shell(canopy +
                " retrain policy detector --promotion approval --group south --param epochs=2 "
                "--param note=fast --min-interval 60");
  ASSERT_EQ(changed.exit_code, 0) << changed.output;
  const auto shown = [&] {
    CommandResult policy = run_shell(canopy + " retrain policy detector");
    EXPECT_EQ(policy.exit_code, 0) << policy.output;
    return parse_json(policy.output).value().at("policy");
  };
  Json policy = shown();
  EXPECT_EQ(policy["promotion"], "approval");
  EXPECT_EQ(policy["target"]["group"], "south");
  EXPECT_EQ(policy["parameters"]["epochs"], 2);  // a number, as the pipeline's integer parameter wants
  EXPECT_EQ(policy["parameters"]["note"], "fast");
  EXPECT_EQ(policy["min_interval_s"], 60);
  EXPECT_EQ(policy["bases"], Json::array({"scenes:1"}));  // the file's settings stay
  EXPECT_EQ(policy["on_drift"], false);

  CommandResult bad =
      run_shell(canopy + " retrain policy detector --promotion sometimes --min-interval 5 2>&1");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("field 'promotion'"), std::string::npos) << bad.output;
  CommandResult unnamed = run_shell(canopy + " retrain policy detector --param =3 2>&1");
  EXPECT_NE(unnamed.exit_code, 0);
  EXPECT_NE(unnamed.output.find("expected NAME=VALUE"), std::string::npos) << unnamed.output;
  EXPECT_EQ(shown(), policy);
}

TEST_F(LoopTest, MalformedWorkerCallsAreRefusedAndChangeNothing) {
  ASSERT_EQ(run_shell(canopy + " retrain start detector").exit_code, 0);
  const std::string post = "curl -sS -H 'X-API-KEY: " + std::string(ServerProcess::kAdminKey) +
                           "' -H 'Content-Type: application/json' -w ' %{http_code}' -X POST " +
                           server->url() + "/api/v1/retrain/jobs/";
  CommandResult nameless = run_shell(post + "claim -d '{}'");
  EXPECT_NE(nameless.output.find("field 'worker'"), std::string::npos) << nameless.output;
  EXPECT_NE(nameless.output.find(" 400"), std::string::npos) << nameless.output;
  EXPECT_EQ(job(1).value("state", ""), "queued");

  CommandResult claimed = run_shell(post + "claim -d '{\"worker\": \"w\"}'");
  EXPECT_NE(claimed.output.find(" 200"), std::string::npos) << claimed.output;
  CommandResult no_exit_code = run_shell(post + "1/complete -d '{\"worker\": \"w\"}'");
  EXPECT_NE(no_exit_code.output.find("exit_code"), std::string::npos) << no_exit_code.output;
  EXPECT_NE(no_exit_code.output.find(" 400"), std::string::npos) << no_exit_code.output;
  CommandResult not_json = run_shell(post + "1/complete -d 'done'");
  EXPECT_NE(not_json.output.find(" 400"), std::string::npos) << not_json.output;
  CommandResult stranger = run_shell(post + "1/heartbeat -d '{\"worker\": \"stranger\"}'");
  EXPECT_NE(stranger.output.find(" 409"), std::string::npos) << stranger.output;
  Json still = job(1);
  EXPECT_EQ(still["state"], "running");
  EXPECT_EQ(still["worker"], "w");
  EXPECT_EQ(still["attempts"], 1);
}

}  // namespace
}  // namespace canopy::testing
