// Crash consistency of canopy-agent: a real agent process is killed with
// SIGKILL at every recorded transition, at instants inside the download,
// unpack and switch, and at random times; the next start must finish the
// update with a verified active model, report it, and leave no partial file.
// Trials are seeded, so a failure names the trial that reproduces it.
#include <signal.h>

#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "agent_fixture.h"
#include "common/subprocess.h"

namespace canopy::testing {
namespace {

class AgentCrashTest : public AgentFixture {
 protected:
  // Runs the agent once to completion or to its crash; returns the exit code
  // (137 = killed by SIGKILL). `kill_after_ms` >= 0 kills it from here.
  int run_agent_process(const fs::path& data_dir, const std::string& crash_at, int kill_after_ms = -1) {
    Subprocess::Options options;
    options.argv = {
        agent_binary().string(), "run", "--once", "--server", server_->url(), "--data-dir", data_dir.string(),
        "--enroll-token",    token_};
    if (!crash_at.empty()) options.env["CANOPY_AGENT_CRASH_AT"] = crash_at;
    options.stdout_file = work_ / "agent.log";
    options.stderr_file = work_ / "agent.log";
    auto process = Subprocess::start(options);
    EXPECT_TRUE(process.ok()) << process.error().message;
    if (!process.ok()) return -1;
    if (kill_after_ms >= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms));
      process->signal(SIGKILL);
    }
    return process->wait();
  }

  // Copies the enrolled device's data directory (v1 installed) for a trial.
  fs::path fresh_copy(const fs::path& template_dir, int trial) {
    const fs::path dir = work_ / ("trial-" + std::to_string(trial));
    fs::copy(template_dir, dir, fs::copy_options::recursive);
    return dir;
  }

  // After the crash: the next start finishes the update (v2 active and
  // verified, v1 kept as previous, reported, nothing partial left).
  void expect_recovered(const fs::path& dir, const std::string& what) {
    const int code = run_agent_process(dir, "");
    ASSERT_EQ(code, 0) << what << "\n" << read_bytes(work_ / "agent.log");
    Json status = agent_status(dir);
    ASSERT_EQ(status["state"]["phase"], "idle") << what << "\n" << status;
    EXPECT_EQ(version_of(status["current"]), v2_) << what << "\n" << status;
    EXPECT_EQ(version_of(status["previous"]), v1_) << what << "\n" << status;
    EXPECT_EQ(status["state"]["last_error"], "") << what;
    EXPECT_TRUE(active_model_verifies(dir, status)) << what;
    EXPECT_EQ(partial_files(dir), std::vector<std::string>{}) << what;
    EXPECT_FALSE(status["report_pending"].get<bool>()) << what;
    Json row = device_row(device_id_);
    EXPECT_EQ(version_of(row["current"]), v2_) << what << "\n" << row;
    EXPECT_EQ(row["state"], "success") << what << "\n" << row;
    fs::remove_all(dir);
  }

  // Where a killed agent was: its recorded phase, or finer, a transfer or an
  // extraction caught halfway (their partial files are still there).
  static std::string where_it_died(const fs::path& dir) {
    for (const std::string& file : partial_files(dir)) {
      if (file.ends_with(".part")) return "mid-download";
      if (file.find(".extract-") != std::string::npos) return "mid-unpack";
    }
    auto state = parse_json(read_bytes(dir / "state.json"));
    return state.ok() ? state->value("phase", "?") : "?";
  }

  void prepare() {
    v1_ = publish_model({.seed = 1});
    template_ = work_ / "template";
    device_id_ = enrolled_with(template_, v1_);
    // Big enough that downloading and unpacking take a while to hit at random.
    v2_ = publish_model({.scale = 3.0f, .golden_scale = 3.0f, .padding_bytes = 3u << 20, .seed = 2});
    deploy_version(v2_, device_id_);
  }

  fs::path template_;
  std::string device_id_;
  int v1_ = 0, v2_ = 0;
};

const std::vector<std::string> kTransitions = {"downloading",   "verifying", "installing", "health-checking",
                                               "switching",     "unpacked",  "promote",    "promoted",
                                               "report-stored", "committed"};

TEST_F(AgentCrashTest, EveryTransitionAndRandomInstantsRecover) {
  prepare();
  std::mt19937 random(20261125);
  int trial = 0;
  int killed = 0;
  // Every named point, once alone and once followed by a second crash at a
  // later point in the restart (the attempt counter reaches its limit of 3).
  for (const std::string& point : kTransitions) {
    const fs::path dir = fresh_copy(template_, ++trial);
    ASSERT_EQ(run_agent_process(dir, point), 128 + SIGKILL) << point;
    ++killed;
    expect_recovered(dir, "trial " + std::to_string(trial) + ": crash at " + point);
    for (const std::string& second : kTransitions) {
      const fs::path twice = fresh_copy(template_, ++trial);
      killed += run_agent_process(twice, point) == 128 + SIGKILL;
      killed += run_agent_process(twice, second) == 128 + SIGKILL;
      expect_recovered(twice, "trial " + std::to_string(trial) + ": crash at " + point + " then " + second);
    }
  }
  // Inside the download (the N-th progress callback) and inside the unpack
  // (after the N-th of the package's 4 files).
  std::vector<std::string> inside;
  for (int n : {1, 2, 3, 4, 5, 6, 8, 10}) inside.push_back("download:" + std::to_string(n));
  for (int n : {1, 2, 3, 4}) inside.push_back("unpack:" + std::to_string(n));
  for (const std::string& point : inside) {
    const fs::path dir = fresh_copy(template_, ++trial);
    killed += run_agent_process(dir, point) == 128 + SIGKILL;
    if (point.starts_with("unpack")) {
      EXPECT_EQ(where_it_died(dir), "mid-unpack") << point;
    }
    expect_recovered(dir, "trial " + std::to_string(trial) + ": crash at " + point);
  }
  // SIGKILL from outside at random instants of a whole update (which takes
  // about 150 ms here), until 200 trials have really died mid-update.
  std::uniform_int_distribution<int> delay_ms(0, 160);
  std::map<std::string, int> landed;
  while ((killed < 210 || trial < 230) && trial < 400) {
    const int delay = delay_ms(random);
    const fs::path dir = fresh_copy(template_, ++trial);
    if (run_agent_process(dir, "", delay) == 128 + SIGKILL) {
      ++killed;
      ++landed[where_it_died(dir)];
    }
    expect_recovered(dir,
                     "trial " + std::to_string(trial) + ": killed after " + std::to_string(delay) + " ms");
    if (::testing::Test::HasFailure()) break;
  }
  RecordProperty("trials", trial);
  RecordProperty("killed", killed);
  std::string histogram;
  for (const auto& [where, count] : landed) histogram += where + "=" + std::to_string(count) + " ";
  RecordProperty("random_kills", histogram);
  EXPECT_GE(killed, 200) << "agent processes that really died mid-update";
}

TEST_F(AgentCrashTest, AVersionThatKeepsCrashingIsGivenUpAndNotRetried) {
  prepare();
  const fs::path dir = fresh_copy(template_, 1);
  for (int start = 0; start < 3; ++start)
    ASSERT_EQ(run_agent_process(dir, "unpacked"), 128 + SIGKILL) << start << read_bytes(work_ / "agent.log");
  ASSERT_EQ(run_agent_process(dir, ""), 0) << read_bytes(work_ / "agent.log");
  Json status = agent_status(dir);
  EXPECT_EQ(status["state"]["phase"], "idle");
  EXPECT_EQ(version_of(status["current"]), v1_) << status;
  EXPECT_EQ(version_of(status["state"]["failed"]), v2_) << status;
  EXPECT_NE(status["state"]["last_error"].get<std::string>().find("gave up after 3 attempts"),
            std::string::npos)
      << status;
  EXPECT_TRUE(active_model_verifies(dir, status));
  EXPECT_EQ(partial_files(dir), std::vector<std::string>{});
  Json row = device_row(device_id_);
  EXPECT_EQ(row["state"], "failed") << row;
  EXPECT_NE(row["last_error"].get<std::string>().find("gave up"), std::string::npos) << row;

  // The same version is not tried again, even with the crash point armed.
  ASSERT_EQ(run_agent_process(dir, "downloading"), 0);
  EXPECT_EQ(version_of(agent_status(dir)["current"]), v1_);
}

}  // namespace
}  // namespace canopy::testing
