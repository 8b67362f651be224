// `canopy pipeline` end to end: the real canopy binary runs pipeline files the
// test writes (trivial commands instead of python), against a real registry
// server: the step format runs as is, failures stop the pipeline with the
// step's exit code, the cache skips what is unchanged, secrets never reach a
// log or a record, kill -9 and SIGTERM of the runner are handled, independent
// steps run in parallel, and the agriculture example runs end to end in its
// tiny configuration.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "common/json.h"
#include "common/subprocess.h"
#include "test_support.h"

namespace canopy {
namespace {

using testing::read_bytes;
using testing::run_shell;
using testing::ServerProcess;
using testing::TempDir;
using testing::write_bytes;
namespace fs = std::filesystem;

const std::string kOnnxTestData = "/usr/share/libonnx-testdata/data/node/test_basic_conv_with_padding";

int count_lines(const fs::path& file) {
  std::ifstream in(file);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}

bool process_gone(long pid) {
  // Gone, or a zombie waiting for init to reap it: either way it runs no more.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  const auto paren = text.rfind(')');
  return paren != std::string::npos && text.size() > paren + 2 && text[paren + 2] == 'Z';
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(project());
    server_ = std::make_unique<ServerProcess>(work_ / "data");
  }

  fs::path project() const { return work_ / "project"; }
  fs::path pipeline_file() const { return project() / "pipeline.yaml"; }
  fs::path runs_dir() const { return project() / ".canopy" / "runs"; }
  std::string canopy() const { return testing::canopy_binary().string(); }
  std::string server_env() const {
    return "CANOPY_SERVER=" + server_->url() + " CANOPY_API_KEY=" + ServerProcess::kAdminKey + " ";
  }
  void write_pipeline(const std::string& yaml) { write_bytes(pipeline_file(), yaml); }

  // Runs `canopy pipeline run` in the project directory.
  testing::CommandResult run(const std::string& args = "", const std::string& env = "") {
    return run_shell("cd " + project().string() + " && " + server_env() + env + " " + canopy() + " pipeline run " +
                     pipeline_file().string() + " " + args);
  }

  std::vector<std::string> run_ids() const {
    std::vector<std::string> ids;
    for (const auto& entry : fs::directory_iterator(runs_dir())) ids.push_back(entry.path().filename().string());
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  Json record(const std::string& id) const { return Json::parse(read_bytes(runs_dir() / id / "run.json")); }
  Json last_record() const { return record(run_ids().back()); }
  static const Json& step(const Json& record, const std::string& name) {
    for (const auto& s : record["steps"])
      if (s["name"] == name) return s;
    throw std::runtime_error("no step " + name);
  }
  Json server_run(const std::string& id) {
    auto shown = run_shell(server_env() + canopy() + " run show " + id + " --json");
    EXPECT_EQ(shown.exit_code, 0) << shown.output;
    return Json::parse(shown.output);
  }

  TempDir work_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(PipelineTest, TheStepFormatRunsAndTheRunIsOnTheServer) {
  ASSERT_TRUE(fs::exists(kOnnxTestData + "/model.onnx")) << "libonnx-testdata is missing";
  // The issue's format; preprocess writes a package directory instead of running python.
  write_pipeline(R"(- step:
    name: preprocess-data
    image: python:3.9
    command:
    - rm -rf models && )" + canopy() + R"( package init models/crop-disease-detector --model )" + kOnnxTestData +
                 R"(/model.onnx --name crop-disease-detector --labels healthy,diseased --input 1x1x5x5
- step:
    name: deploy-model
    image: python:3.9
    command:
    - zip -r /tmp/model.zip /models/crop-disease-detector
    - curl -H "X-API-KEY:$API_KEY" -T /tmp/model.zip "$MODEL_REPOSITORY/model.zip"
    environment-variables:
    - name: API_KEY
      optional: false
    - name: MODEL_REPOSITORY
      optional: false
)");
  // The test's own /tmp and /models: point the two absolute paths into the project.
  std::string yaml = read_bytes(pipeline_file());
  for (auto [from, to] : {std::pair<std::string, std::string>{"/tmp/model.zip", (project() / "model.zip").string()},
                          {"/models/crop-disease-detector", (project() / "models/crop-disease-detector").string()}})
    for (size_t at = yaml.find(from); at != std::string::npos; at = yaml.find(from, at + to.size())) yaml.replace(at, from.size(), to);
  write_pipeline(yaml);

  const std::string env = std::string("API_KEY=") + ServerProcess::kAdminKey + " MODEL_REPOSITORY=" + server_->url() + "/repository";
  auto result = run("", env);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("[preprocess-data] started (image python:3.9)"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("[deploy-model]   adding:"), std::string::npos) << "zip's lines, prefixed\n" << result.output;
  EXPECT_NE(result.output.find("[deploy-model] succeeded in"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("STEP"), std::string::npos) << "the summary table\n" << result.output;
  EXPECT_EQ(result.output.find(ServerProcess::kAdminKey), std::string::npos) << "API_KEY is a secret";

  auto models = run_shell(server_env() + canopy() + " model show crop-disease-detector --json");
  ASSERT_EQ(models.exit_code, 0) << models.output;
  EXPECT_EQ(Json::parse(models.output)["version"], 1);

  const Json local = last_record();
  EXPECT_EQ(local["status"], "succeeded");
  EXPECT_EQ(local["pipeline"]["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(step(local, "deploy-model")["image"], "python:3.9");
  EXPECT_EQ(step(local, "deploy-model")["environment"]["API_KEY"], "***");
  EXPECT_EQ(step(local, "deploy-model")["environment"]["MODEL_REPOSITORY"], server_->url() + "/repository");
  const Json remote = server_run(local["id"]);
  EXPECT_EQ(remote["status"], "succeeded");
  EXPECT_EQ(remote["steps"].size(), 2u);
  EXPECT_EQ(remote["steps"][1]["exit_code"], 0);
  auto show = run_shell(server_env() + canopy() + " run show " + local["id"].get<std::string>());
  EXPECT_NE(show.output.find("deploy-model"), std::string::npos) << show.output;

  // The server checks what it stores.
  const std::string post = "curl -s -o /dev/null -w '%{http_code}' -H 'X-API-KEY: " + std::string(ServerProcess::kAdminKey) +
                           "' -H 'Content-Type: application/json' " + server_->url() + "/api/v1/runs --data ";
  EXPECT_EQ(run_shell(post + "'{\"id\": \"../x\", \"status\": \"running\", \"steps\": []}'").output, "400");
  EXPECT_EQ(run_shell(post + "'{\"id\": \"r1\", \"status\": \"done\", \"steps\": []}'").output, "400");
  EXPECT_EQ(run_shell(post + "'{\"id\": \"r1\", \"status\": \"running\", \"steps\": []}'").output, "201");
  EXPECT_EQ(run_shell(post + "'{\"id\": \"r1\", \"status\": \"failed\", \"steps\": []}'").output, "200");
  EXPECT_EQ(server_run("r1")["status"], "failed");

  auto listed = run_shell("cd " + project().string() + " && " + canopy() + " pipeline runs");
  EXPECT_NE(listed.output.find(local["id"].get<std::string>()), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("2/2"), std::string::npos) << listed.output;
}

TEST_F(PipelineTest, AFailingCommandStopsThePipelineWithItsExitCode) {
  write_pipeline(R"(- step:
    name: first
    command: echo first > first.txt
- step:
    name: second
    command:
    - echo before-failure
    - bash -c 'exit 7'
    - echo after-failure
- step:
    name: third
    command: touch third.txt
)");
  auto result = run();
  EXPECT_EQ(result.exit_code, 7) << result.output;
  EXPECT_NE(result.output.find("[second] before-failure"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("after-failure"), std::string::npos) << result.output;
  EXPECT_TRUE(fs::exists(project() / "first.txt"));
  EXPECT_FALSE(fs::exists(project() / "third.txt")) << "a later step ran";
  const Json r = last_record();
  EXPECT_EQ(r["status"], "failed");
  EXPECT_EQ(step(r, "second")["status"], "failed");
  EXPECT_EQ(step(r, "second")["exit_code"], 7);
  EXPECT_EQ(step(r, "third")["status"], "not-run");
  EXPECT_NE(read_bytes(runs_dir() / r["id"].get<std::string>() / "logs/second.log").find("before-failure"),
            std::string::npos);
  // The record carries the log's end, for the server and the dashboard.
  const std::string tail = step(r, "second").value("log_tail", "");
  EXPECT_NE(tail.find("before-failure"), std::string::npos) << tail;
  EXPECT_NE(tail.find("== exit code 7"), std::string::npos) << tail;
  EXPECT_FALSE(step(r, "third").contains("log_tail")) << "a step that never ran has no log";

  // `a && b` is not stopped by set -e alone; the runner's per-line check stops it.
  write_pipeline("- step:\n    name: only\n    command:\n    - false && true\n    - touch after-and.txt\n");
  result = run();
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_FALSE(fs::exists(project() / "after-and.txt"));
}

TEST_F(PipelineTest, TheCacheSkipsUnchangedStepsAndRerunsChangedOnes) {
  write_pipeline(R"(- step:
    name: build
    command:
    - cat in/data.txt > out.txt
    - echo {suffix} >> out.txt
    - echo ran >> build-count.txt
    parameters:
    - name: suffix
      default: a
    inputs: [in/*.txt]
    outputs: [out.txt]
- step:
    name: report
    command:
    - wc -c out.txt > report.txt
    - echo ran >> report-count.txt
    inputs: out.txt
    outputs: report.txt
)");
  write_bytes(project() / "in/data.txt", "one\n");
  auto counts = [&] {
    return std::make_pair(count_lines(project() / "build-count.txt"), count_lines(project() / "report-count.txt"));
  };
  ASSERT_EQ(run().exit_code, 0);
  EXPECT_EQ(counts(), std::make_pair(1, 1));

  auto again = run();
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(counts(), std::make_pair(1, 1)) << again.output;
  EXPECT_NE(again.output.find("[build] cached"), std::string::npos) << again.output;
  EXPECT_EQ(step(last_record(), "build")["cached"], true);
  EXPECT_EQ(step(last_record(), "report")["status"], "cached");

  write_bytes(project() / "in/data.txt", "two\n");  // a changed input
  ASSERT_EQ(run().exit_code, 0);
  EXPECT_EQ(counts(), std::make_pair(2, 2));

  ASSERT_EQ(run("--param suffix=b").exit_code, 0);  // a changed parameter
  EXPECT_EQ(counts(), std::make_pair(3, 3));
  EXPECT_NE(read_bytes(project() / "out.txt").find("b"), std::string::npos);
  ASSERT_EQ(run("--param suffix=b").exit_code, 0);
  EXPECT_EQ(counts(), std::make_pair(3, 3));

  fs::remove(project() / "report.txt");  // a missing output
  auto missing = run("--param suffix=b");
  ASSERT_EQ(missing.exit_code, 0);
  EXPECT_EQ(counts(), std::make_pair(3, 4));
  EXPECT_NE(missing.output.find("output 'report.txt' is missing"), std::string::npos) << missing.output;

  auto dry = run("--param suffix=b --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_NE(dry.output.find("build: cached"), std::string::npos) << dry.output;
  EXPECT_EQ(counts(), std::make_pair(3, 4));

  ASSERT_EQ(run("--param suffix=b --force").exit_code, 0);
  EXPECT_EQ(counts(), std::make_pair(4, 5));
  ASSERT_EQ(run("--param suffix=b --force --only report").exit_code, 0);
  EXPECT_EQ(counts(), std::make_pair(4, 6));
  EXPECT_EQ(step(last_record(), "build")["status"], "skipped");
}

TEST_F(PipelineTest, SecretsNeverReachALogOrARecord) {
  const std::string token = "tok-8d1f0c2e9b77";
  const std::string material = "mat-55aa9911cc";
  const std::string password = "default-password-value";
  write_pipeline(R"(- step:
    name: leak
    command:
    - echo "token=$SERVICE_TOKEN"
    - echo "material=$SIGNING_MATERIAL" >&2
    - echo "password $DB_PASSWORD in a line"
    - test "$SERVICE_TOKEN" = )" + token + R"(
    environment-variables:
    - name: SERVICE_TOKEN
      optional: false
    - name: SIGNING_MATERIAL
      secret: true
    - name: DB_PASSWORD
      default: )" + password + R"(
- step:
    name: fails-loudly
    command: echo "it was $SERVICE_TOKEN" >&2; exit 3
)");
  auto result = run("", "SERVICE_TOKEN=" + token + " SIGNING_MATERIAL=" + material);
  EXPECT_EQ(result.exit_code, 3) << result.output;
  EXPECT_NE(result.output.find("[leak] token=***"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("[leak] material=***"), std::string::npos) << result.output;
  const std::string id = last_record()["id"];
  EXPECT_EQ(step(last_record(), "leak")["status"], "succeeded") << "the step saw the real value";
  EXPECT_EQ(step(last_record(), "leak")["environment"]["SIGNING_MATERIAL"], "***");

  auto stored = run_shell("curl -sf -H 'X-API-KEY: " + std::string(ServerProcess::kAdminKey) + "' " + server_->url() +
                          "/api/v1/runs/" + id);
  ASSERT_EQ(stored.exit_code, 0) << stored.output;
  EXPECT_NE(stored.output.find("\"leak\""), std::string::npos) << stored.output;
  EXPECT_NE(stored.output.find("it was ***"), std::string::npos) << "the failed step's log tail\n" << stored.output;
  for (const std::string& secret : {token, material, password, std::string(ServerProcess::kAdminKey)}) {
    EXPECT_EQ(result.output.find(secret), std::string::npos) << secret << " in the live output";
    auto grep = run_shell("grep -rF -- '" + secret + "' " + (project() / ".canopy").string());
    EXPECT_EQ(grep.exit_code, 1) << secret << " in the workspace:\n" << grep.output;
    EXPECT_EQ(stored.output.find(secret), std::string::npos) << secret << " in the server's record";
  }
}

TEST_F(PipelineTest, KillNineOfTheRunnerIsRecoveredAndARerunCompletes) {
  write_pipeline(R"(- step:
    name: prepare
    command: echo ready > ready.txt
    outputs: ready.txt
- step:
    name: slow
    command:
    - echo sleeping
    - sleep {seconds}
    - echo done > slow.txt
    parameters:
    - {name: seconds, type: integer, default: 60}
    outputs: slow.txt
)");
  auto runner = Subprocess::start({{canopy(), "pipeline", "run", pipeline_file().string()},
                                   {{"CANOPY_SERVER", server_->url()}, {"CANOPY_API_KEY", ServerProcess::kAdminKey}},
                                   work_ / "runner.out",
                                   work_ / "runner.out"});
  ASSERT_TRUE(runner.ok()) << runner.error().message;
  long step_pid = 0;
  std::string id;
  for (int i = 0; i < 200 && step_pid == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!fs::exists(runs_dir()) || run_ids().empty()) continue;
    id = run_ids().back();
    try {
      const Json r = record(id);
      if (step(r, "slow")["status"] == "running") step_pid = step(r, "slow").value("pid", 0L);
    } catch (const std::exception&) {
    }
  }
  ASSERT_GT(step_pid, 0) << read_bytes(work_ / "runner.out");
  // Killed only once the step has written its line: a step that writes after
  // its runner died gets SIGPIPE, and this test is about the runner's crash.
  const fs::path step_log = runs_dir() / id / "logs/slow.log";
  for (int i = 0; i < 200 && (!fs::exists(step_log) || read_bytes(step_log).find("sleeping") == std::string::npos);
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  runner->signal(SIGKILL);
  runner->wait();
  EXPECT_EQ(record(id)["status"], "running") << "nothing could record the crash";
  EXPECT_FALSE(process_gone(step_pid)) << "the step outlives a kill -9 of its runner";

  auto rerun = run("--param seconds=0");
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_NE(rerun.output.find("run " + id + " was left running"), std::string::npos) << rerun.output;
  const Json crashed = record(id);
  EXPECT_EQ(crashed["status"], "interrupted");
  EXPECT_EQ(step(crashed, "slow")["status"], "interrupted");
  EXPECT_EQ(server_run(id)["status"], "interrupted") << "the server's copy is corrected too";
  for (int i = 0; i < 50 && !process_gone(step_pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(process_gone(step_pid)) << "the orphaned step was ended";

  const Json resumed = last_record();
  EXPECT_NE(resumed["id"], id);
  EXPECT_EQ(resumed["status"], "succeeded");
  EXPECT_EQ(step(resumed, "prepare")["status"], "cached") << "a re-run resumes from the cache";
  EXPECT_TRUE(fs::exists(project() / "slow.txt"));
}

TEST_F(PipelineTest, SigtermStopsTheStepsAndMarksTheRunInterrupted) {
  write_pipeline("- step:\n    name: slow\n    command:\n    - sleep 60\n");
  auto runner = Subprocess::start({{canopy(), "pipeline", "run", pipeline_file().string()}, {}, work_ / "runner.out",
                                   work_ / "runner.out"});
  ASSERT_TRUE(runner.ok());
  long step_pid = 0;
  for (int i = 0; i < 200 && step_pid == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!fs::exists(runs_dir()) || run_ids().empty()) continue;
    try {
      step_pid = step(last_record(), "slow").value("pid", 0L);
    } catch (const std::exception&) {
    }
  }
  ASSERT_GT(step_pid, 0) << read_bytes(work_ / "runner.out");
  const auto start = std::chrono::steady_clock::now();
  runner->signal(SIGTERM);
  EXPECT_EQ(runner->wait(), 130) << read_bytes(work_ / "runner.out");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_TRUE(process_gone(step_pid));
  EXPECT_EQ(last_record()["status"], "interrupted");
  EXPECT_EQ(step(last_record(), "slow")["status"], "interrupted");
}

TEST_F(PipelineTest, IndependentStepsRunInParallelUpToJobs) {
  // a and b are independent; c waits for both.
  write_pipeline(R"(- step: {name: a, command: sleep 1, depends: []}
- step: {name: b, command: sleep 1, depends: []}
- step: {name: c, command: touch c.txt, depends: [a, b]}
)");
  auto timed = [&](const std::string& args) {
    const auto start = std::chrono::steady_clock::now();
    auto result = run(args);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  EXPECT_LT(timed("--jobs 2"), 1.8) << "a and b at once";
  EXPECT_TRUE(fs::exists(project() / "c.txt"));
  EXPECT_GE(timed("--jobs 1"), 2.0) << "one at a time";
}

TEST_F(PipelineTest, AMissingRequiredVariableFailsBeforeAnyStepNamingIt) {
  write_pipeline(R"(- step:
    name: first
    command: touch first.txt
- step:
    name: deploy-model
    command: echo "$MODEL_REPOSITORY"
    environment-variables:
    - name: MODEL_REPOSITORY
      optional: false
)");
  auto result = run_shell("cd " + project().string() + " && env -u MODEL_REPOSITORY " + canopy() + " pipeline run " +
                          pipeline_file().string());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("step 'deploy-model' needs environment variable MODEL_REPOSITORY"), std::string::npos)
      << result.output;
  EXPECT_FALSE(fs::exists(project() / "first.txt"));
  EXPECT_FALSE(fs::exists(runs_dir()) && !run_ids().empty()) << "no run was recorded";
}

// A model brought in with `package init` has no metrics; the gate against
// `production` says what it could not compare instead of failing the run.
TEST_F(PipelineTest, AGateAgainstAProductionModelWithoutMetricsSaysWhatItSkipped) {
  ASSERT_TRUE(fs::exists(kOnnxTestData + "/model.onnx")) << "libonnx-testdata is missing";
  const std::string client = server_env() + canopy();
  auto init = run_shell("cd " + project().string() + " && " + canopy() +
                        " package init models/crop-disease-detector" + " --model " + kOnnxTestData +
                        "/model.onnx --name crop-disease-detector --labels healthy,diseased");
  ASSERT_EQ(init.exit_code, 0) << init.output;
  auto packed = run_shell("cd " + project().string() + " && " + canopy() +
                          " package create models/crop-disease-detector -o brought-in.zip");
  ASSERT_EQ(packed.exit_code, 0) << packed.output;
  auto pushed = run_shell(client + " model push " + (project() / "brought-in.zip").string());
  ASSERT_EQ(pushed.exit_code, 0) << pushed.output;
  ASSERT_EQ(run_shell(client + " model alias set crop-disease-detector 1 production").exit_code, 0);

  write_pipeline(R"(- step:
    name: evaluate
    command: echo '{"map50":0.4}' > metrics.json
    metrics: metrics.json
- gate: evaluate.map50 >= registry:crop-disease-detector@production.metrics.map50
- step:
    name: package
    command: touch packaged.txt
)");
  auto result = run();
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("crop-disease-detector@production (version 1) has no 'metrics.map50'"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("skipped the comparison"), std::string::npos) << result.output;
  EXPECT_TRUE(fs::exists(project() / "packaged.txt")) << "the steps after the gate ran";
  EXPECT_EQ(last_record()["gates"][0]["status"], "passed");
}

// Three runs of the example: a refused upload fails the first; the second,
// with the right key, publishes what the first built (every step but deploy
// from the cache) and is the run the version's lineage names; the third
// uploads the same package again and gets the same version.
TEST_F(PipelineTest, TheAgricultureExampleRunsEndToEndInItsTinyConfiguration) {
  const fs::path example = testing::examples_dir() / "agriculture" / "pipeline.yaml";
  const fs::path workspace = work_ / "ws";
  const std::string path = "PATH=" + testing::canopy_binary().parent_path().string() + ":" +
                           testing::train_binary().parent_path().string() + ":$PATH ";
  auto run_example = [&](const std::string& api_key) {
    return run_shell(server_env() + path + "API_KEY=" + api_key + " MODEL_REPOSITORY=" + server_->url() +
                     "/repository " + canopy() + " pipeline run " + example.string() + " --workspace " +
                     workspace.string() +
                     " --param images=48 --param val_images=16 --param epochs=2 --param img=160"
                     " --param width=0.25 --param batch=8 --param min_map50=0 --param max_drop=1");
  };
  auto run_ids_in_order = [&] {
    std::vector<std::string> ids;
    for (const auto& entry : fs::directory_iterator(workspace / "runs"))
      ids.push_back(entry.path().filename().string());
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  auto local_record = [&](const std::string& id) {
    return Json::parse(read_bytes(workspace / "runs" / id / "run.json"));
  };

  auto refused = run_example("wrong-key-0123456789");
  EXPECT_NE(refused.exit_code, 0) << "a refused upload must fail the run\n" << refused.output;
  EXPECT_NE(refused.output.find("the registry has no crop-disease-detector@production yet"),
            std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("a valid API key is required"), std::string::npos)
      << "the registry's answer is in the log\n"
      << refused.output;
  ASSERT_EQ(run_ids_in_order().size(), 1u);
  const std::string refused_id = run_ids_in_order()[0];
  const Json r1 = local_record(refused_id);
  EXPECT_EQ(r1["status"], "failed");
  for (const char* name : {"preprocess", "train", "evaluate", "compress", "package"})
    EXPECT_EQ(step(r1, name)["status"], "succeeded") << name;
  EXPECT_EQ(step(r1, "deploy")["status"], "failed");
  EXPECT_TRUE(step(r1, "evaluate")["metrics"].contains("map50"));
  EXPECT_TRUE(step(r1, "compress")["metrics"].contains("compressed.map50_drop"))
      << step(r1, "compress").dump();
  for (const auto& gate : r1["gates"]) EXPECT_EQ(gate["status"], "passed") << gate.dump();
  EXPECT_EQ(server_run(refused_id)["status"], "failed");
  EXPECT_NE(run_shell(server_env() + canopy() + " model show crop-disease-detector").exit_code, 0)
      << "nothing was published";

  auto published = run_example(ServerProcess::kAdminKey);
  ASSERT_EQ(published.exit_code, 0) << published.output;
  ASSERT_EQ(run_ids_in_order().size(), 2u);
  const std::string published_id = run_ids_in_order()[1];
  const Json r2 = local_record(published_id);
  for (const char* name : {"preprocess", "train", "evaluate", "compress", "package"}) {
    EXPECT_EQ(step(r2, name)["status"], "cached") << name;
    EXPECT_EQ(step(r2, name)["cached_from"], refused_id) << name;
  }
  EXPECT_EQ(step(r2, "deploy")["status"], "succeeded");

  // The run that published the version and the version name each other.
  const Json remote = server_run(published_id);
  ASSERT_EQ(remote["model_versions"].size(), 1u) << remote.dump(2);
  EXPECT_EQ(remote["model_versions"][0]["model"], "crop-disease-detector");
  EXPECT_TRUE(server_run(refused_id)["model_versions"].empty()) << "the failed run published nothing";
  auto version = run_shell(server_env() + canopy() + " model show crop-disease-detector --json");
  ASSERT_EQ(version.exit_code, 0) << version.output;
  const Json lineage = Json::parse(version.output)["lineage"];
  EXPECT_EQ(lineage["pipeline_run"], published_id) << lineage.dump();
  EXPECT_EQ(lineage["built_by_run"], refused_id) << lineage.dump();
  auto shown = run_shell(server_env() + canopy() + " run show " + published_id);
  EXPECT_NE(shown.output.find("models:     crop-disease-detector:1"), std::string::npos) << shown.output;

  // Unchanged: everything but the deploy step (no outputs) comes from the cache.
  auto again = run_example(ServerProcess::kAdminKey);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("[train] cached"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("\"created\": false"), std::string::npos) << "same package, same version\n"
                                                                        << again.output;
}

}  // namespace
}  // namespace canopy
