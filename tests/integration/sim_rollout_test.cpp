// Rollouts against a simulated fleet: the real server (polled every second),
// `canopy sim` as a child process running real canopy-agent processes behind
// its fault proxies, and real signed model packages. Each test drives a
// deployment through the admin API and checks what the server and the
// agents' data directories say at the end.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <thread>

#include "common/shared_clock.h"
#include "common/subprocess.h"
#include "fleet_fixture.h"
#include "model_packages.h"

namespace canopy::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kModel = "crop-detector";
constexpr auto kWait = std::chrono::seconds(60);

// `canopy sim` for the length of a test. Stopped with SIGTERM, so it stops
// its agents; a SIGKILL would leave them running.
class SimRun {
 public:
  SimRun(const fs::path& output, std::vector<std::string> args) : output_(output) {
    std::vector<std::string> argv = {canopy_binary().string(), "sim", "--agent", agent_binary().string()};
    if (std::find(args.begin(), args.end(), "--progress-interval") == args.end())
      argv.insert(argv.end(), {"--progress-interval", "2"});
    argv.insert(argv.end(), args.begin(), args.end());
    auto started = Subprocess::start({argv, {}, output, output});
    EXPECT_TRUE(started.ok()) << started.error().message;
    if (started.ok()) process_.emplace(std::move(*started));
  }
  ~SimRun() {
    if (!process_) return;
    process_->signal(SIGTERM);
    process_->wait();
  }
  SimRun(const SimRun&) = delete;
  SimRun& operator=(const SimRun&) = delete;

  std::string output() const { return read_bytes(output_); }
  bool printed(const std::string& text) const { return output().find(text) != std::string::npos; }
  bool printed_line(const std::string& pattern) const {
    return std::regex_search(output(), std::regex(pattern, std::regex::multiline));
  }

 private:
  fs::path output_;
  std::optional<Subprocess> process_;
};

class SimRolloutTest : public FleetFixture {
 protected:
  void SetUp() override {
    // Inherited by the server the fixture starts: devices poll every second.
    ::setenv("CANOPY_POLL_INTERVAL_S", "1", 1);
    FleetFixture::SetUp();
    token_ = enrollment_token("fields");
  }

  std::vector<std::string> sim_args(int devices, std::vector<std::string> extra) const {
    std::vector<std::string> args = {"--devices",    std::to_string(devices),   "--server",
                                     server_->url(), "--enroll-token",          token_,
                                     "--dir",        (work_ / "fleet").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  int publish_model(ModelPackageSpec spec) {
    spec.name = kModel;
    const std::string tag = std::to_string(++packages_);
    const fs::path zip = work_ / ("model-" + tag + ".zip");
    build_model_package(work_ / ("model-src-" + tag), zip, spec, signing_key_);
    auto pushed = cli("--json model push " + zip.string());
    EXPECT_EQ(pushed.exit_code, 0) << pushed.output;
    const auto brace = pushed.output.find('{');
    auto json = parse_json(brace == std::string::npos ? std::string_view()
                                                      : std::string_view(pushed.output).substr(brace));
    return json.ok() ? json->value("version", 0) : 0;
  }

  std::int64_t deploy_to_group(int version) {
    return deploy({{"model", kModel}, {"version", version}, {"target", {{"group", "fields"}}}})
        .value("id", std::int64_t{0});
  }

  Json devices() { return body_of(admin("GET", "/api/v1/devices"))["devices"]; }

  Json device_named(const std::string& name) {
    for (const auto& row : devices())
      if (row.value("name", "") == name) return row;
    return Json();
  }

  static int current_version(const Json& row) {
    return row.is_object() && row["current"].is_object() ? row["current"].value("version", 0) : 0;
  }

  // Polls `done` every 200 ms until it holds or kWait has passed.
  static bool wait_until(const std::function<bool()>& done) {
    const auto deadline = Clock::now() + kWait;
    while (Clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return done();
  }

  bool wait_for_devices(size_t count) {
    return wait_until([&] { return devices().size() == count; });
  }

  // What the agent itself runs, from its data directory.
  int agent_current_version(int device_number) {
    auto shown = run_shell(agent_binary().string() + " status --json --data-dir " +
                           (work_ / "fleet" / ("device-" + std::to_string(device_number))).string());
    auto json = parse_json(shown.output);
    return json.ok() && (*json)["current"].is_object() ? (*json)["current"].value("version", 0) : 0;
  }

  std::string token_;
  int packages_ = 0;
};

std::string diagnostics(const SimRun& sim, const Json& state) {
  return "deployment: " + state.dump() + "\nsim output:\n" + sim.output();
}

// Devices 3 and 4 have a full disk and are offline while devices 1 and 2
// install version 2; back online, they fail to install it, which crosses the
// failure threshold: the deployment pauses and rolls devices 1 and 2 back.
TEST_F(SimRolloutTest, FailureThresholdPausesAndRollsBackUpdatedDevices) {
  const int v1 = publish_model({.seed = 1});
  const int v2 = publish_model({.scale = 3.0f, .golden_scale = 3.0f, .padding_bytes = 300000, .seed = 2});
  SimRun sim(work_ / "sim.out",
             sim_args(4, {"--full-disk", "2", "--full-disk-bytes", "100000", "--offline", "3-4:14:28"}));
  ASSERT_TRUE(wait_for_devices(4)) << sim.output();

  const std::int64_t first = deploy_to_group(v1);
  ASSERT_TRUE(wait_until([&] { return deployment(first).value("state", "") == "completed"; }))
      << diagnostics(sim, deployment(first));
  ASSERT_FALSE(sim.printed("lost its network"))
      << "version 1 must be everywhere before devices 3 and 4 go offline";

  ASSERT_TRUE(wait_until([&] { return sim.printed("east-field-cam-1 lost its network"); })) << sim.output();
  const std::int64_t second = deploy_to_group(v2);
  ASSERT_TRUE(wait_until([&] { return deployment(second).value("successes", 0) == 2; }))
      << diagnostics(sim, deployment(second));

  ASSERT_TRUE(wait_until([&] { return deployment(second).value("state", "") == "rolled-back"; }))
      << diagnostics(sim, deployment(second));
  Json state = deployment(second);
  EXPECT_NE(state.value("reason", "").find("2 of 4 admitted devices failed"), std::string::npos) << state;
  ASSERT_EQ(state["failure_reports"].size(), 2u) << state;
  for (const auto& failure : state["failure_reports"])
    EXPECT_NE(failure.value("error", "").find("not enough disk space"), std::string::npos) << failure;

  // Every device ends on version 1: the two that updated were rolled back.
  ASSERT_TRUE(wait_until([&] {
    for (const auto& row : devices())
      if (current_version(row) != v1) return false;
    return true;
  })) << devices().dump()
      << "\n"
      << sim.output();
  for (const char* name : {"north-field-cam-1", "south-field-cam-1"}) {
    Json row = device_named(name);
    EXPECT_EQ(row.value("state", ""), "rolled-back") << row;
    EXPECT_EQ(row["previous"].value("version", 0), v2) << row;
  }
  for (int number = 1; number <= 4; ++number)
    EXPECT_EQ(agent_current_version(number), v1) << "device " << number;

  auto status = cli("deploy status " + std::to_string(second));
  EXPECT_NE(status.output.find("rolled-back"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("2 of 4 admitted devices failed"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("not enough disk space"), std::string::npos) << status.output;
}

// Device 3 is offline when the deployment starts, over a lossy, slow link:
// the others update, it does not, and it catches up once it is back.
TEST_F(SimRolloutTest, ADeviceOfflineDuringTheRolloutCatchesUpWhenBack) {
  const int v1 = publish_model({.seed = 3});
  SimRun sim(work_ / "sim.out",
             sim_args(3, {"--offline", "3:5:18", "--latency-ms", "20", "--drop-rate", "0.1"}));
  ASSERT_TRUE(wait_for_devices(3)) << sim.output();
  ASSERT_TRUE(wait_until([&] { return sim.printed("east-field-cam-1 lost its network"); })) << sim.output();

  const std::int64_t id = deploy_to_group(v1);
  ASSERT_TRUE(wait_until([&] { return deployment(id).value("successes", 0) == 2; }))
      << diagnostics(sim, deployment(id));
  if (!sim.printed("east-field-cam-1 is back online")) {
    EXPECT_EQ(current_version(device_named("east-field-cam-1")), 0);
    EXPECT_EQ(deployment(id).value("state", ""), "running");
  }

  ASSERT_TRUE(wait_until([&] { return deployment(id).value("state", "") == "completed"; }))
      << diagnostics(sim, deployment(id));
  EXPECT_TRUE(sim.printed("east-field-cam-1 is back online")) << sim.output();
  EXPECT_EQ(current_version(device_named("east-field-cam-1")), v1);
  EXPECT_EQ(agent_current_version(3), v1);
}

// A completed deployment stays in force: a device that joins the group later
// is admitted and installs the model, here even though its agent is killed
// in the middle of the install and restarted by the simulator.
TEST_F(SimRolloutTest, ADeviceAddedLaterReceivesTheModel) {
  const int v1 = publish_model({.seed = 4});
  SimRun first(work_ / "sim-1.out", sim_args(2, {}));
  ASSERT_TRUE(wait_for_devices(2)) << first.output();
  const std::int64_t id = deploy_to_group(v1);
  ASSERT_TRUE(wait_until([&] { return deployment(id).value("state", "") == "completed"; }))
      << diagnostics(first, deployment(id));
  EXPECT_EQ(deployment(id).value("targeted", 0), 2);

  SimRun added(work_ / "sim-2.out", sim_args(1, {"--first-device", "3", "--crash-during-install", "1"}));
  ASSERT_TRUE(wait_until([&] { return current_version(device_named("east-field-cam-1")) == v1; }))
      << diagnostics(added, deployment(id));
  Json state = deployment(id);
  EXPECT_EQ(state.value("targeted", 0), 3) << state;
  ASSERT_TRUE(wait_until([&] { return deployment(id).value("state", "") == "completed"; }))
      << diagnostics(added, deployment(id));
  EXPECT_TRUE(added.printed("east-field-cam-1: agent killed by signal 9")) << added.output();
  EXPECT_TRUE(added.printed("east-field-cam-1: agent restarted")) << added.output();
  EXPECT_EQ(agent_current_version(3), v1);
}

// A fleet on virtual time (docs/simulator.md): the server's poll interval
// is ten virtual minutes (0.6 s of real time at 1000x).
class SimVirtualTimeTest : public SimRolloutTest {
 protected:
  void SetUp() override {
    ::setenv("CANOPY_POLL_INTERVAL_S", "600", 1);
    FleetFixture::SetUp();
    token_ = enrollment_token("fields");
  }
};

// At 1000x from 2026-03-01, two virtual hours pass in about 7 real seconds:
// the agents follow DIR/clock, device 2's offline window and the progress
// lines are in virtual time, and the simulation ends by itself after its
// virtual duration.
TEST_F(SimVirtualTimeTest, TheAgentsAndTheScheduleRunOnVirtualTime) {
  const auto began = Clock::now();
  SimRun sim(work_ / "sim.out",
             sim_args(2, {"--speed", "1000", "--start", "2026-03-01", "--duration", "7200", "--offline",
                          "2:1800:3600", "--progress-interval", "1800"}));
  ASSERT_TRUE(wait_for_devices(2)) << sim.output();
  ASSERT_TRUE(wait_until([&] { return sim.printed("stopped 2 agents"); })) << sim.output();
  const double real_s = std::chrono::duration<double>(Clock::now() - began).count();

  EXPECT_TRUE(sim.printed("sim: virtual time from 2026-03-01T00:00:00Z at 1000x real time")) << sim.output();
  // The simulator looks every 100 ms of real time: 100 virtual seconds.
  EXPECT_TRUE(sim.printed_line("^sim 2026-03-01T00:3[01]:..Z: south-field-cam-1 lost its network$"))
      << sim.output();
  EXPECT_TRUE(sim.printed_line("^sim 2026-03-01T01:0[01]:..Z: south-field-cam-1 is back online$"))
      << sim.output();
  EXPECT_TRUE(sim.printed_line("^sim 2026-03-01T00:3[01]:..Z: 2 of 2 agents running.* virtual hours in "))
      << sim.output();
  // Stopping the agents takes real time, 1000-fold in virtual time: up to
  // 0.3 s on two loaded cores (ctest -j2 with the browser and training tests).
  EXPECT_TRUE(sim.printed_line("^sim 2026-03-01T02:0[0-5]:..Z: stopped 2 agents$")) << sim.output();
  EXPECT_GT(real_s, 7) << "two virtual hours at 1000x";
  EXPECT_LT(real_s, 60);
  for (int device = 1; device <= 2; ++device) {
    const std::string log = read_bytes(work_ / "fleet" / "logs" / ("device-" + std::to_string(device) + ".log"));
    EXPECT_NE(log.find("time is simulated"), std::string::npos) << log;
  }
  // The clock file stays where the simulation stopped, for the next run on this directory.
  auto clock = SharedFileClock::open(work_ / "fleet" / "clock");
  ASSERT_TRUE(clock.ok()) << clock.error().message;
  EXPECT_GE((*clock)->wall_ms(), 1'772'323'200'000 + 7'200'000);
}

// A virtual day on the field world at 2880x (about 30 real seconds): each
// agent reads its world's sensor files and drives its file valve; device 1's
// soil probe is gone from 08:00 to 12:00. The world's truth says the valve
// was used and was never open on the missing readings beyond the one sensor
// period the loop needs to notice; the truth stays outside the agents'
// directories, and the readings reach the server.
TEST_F(SimVirtualTimeTest, AgentsWaterTheirWorldAndNeverOnADeadProbe) {
  SimRun sim(work_ / "sim.out",
             sim_args(2, {"--speed", "2880", "--start", "2026-06-01", "--duration", "86400", "--world",
                          "--sensor-fault", "1:soil-zone-1:dead:8:12", "--progress-interval", "21600"}));
  ASSERT_TRUE(wait_for_devices(2)) << sim.output();
  ASSERT_TRUE(wait_until([&] { return sim.printed("stopped 2 agents"); })) << sim.output();
  ASSERT_TRUE(wait_until([&] { return sim.printed("field of device-2 (loam)"); })) << sim.output();
  EXPECT_TRUE(sim.printed_line("^sim 2026-06-01T0[56]:..:..Z: fields: soil .* valve openings")) << sim.output();
  EXPECT_TRUE(sim.printed_line("^sim .*: field of device-1 \\(sand\\): soil .*, valve opened [1-9][0-9]* times"))
      << sim.output();

  const fs::path truth = work_ / "fleet" / "truth" / "device-1";
  ASSERT_TRUE(fs::exists(truth / "soil.jsonl"));
  EXPECT_TRUE(fs::exists(truth / "weather.jsonl"));
  EXPECT_FALSE(fs::exists(work_ / "fleet" / "device-1" / "truth"));
  EXPECT_TRUE(fs::exists(work_ / "fleet" / "device-1" / "field.yaml"));

  // The valve's state between the truth's soil lines (one at every change).
  constexpr std::int64_t kStart = 1'780'272'000'000;  // 2026-06-01T00:00:00Z
  constexpr std::int64_t kFaultFrom = kStart + 8 * 3'600'000, kFaultUntil = kStart + 12 * 3'600'000;
  constexpr std::int64_t kNoticeMs = 2 * 60'000;  // a sensor period, and the world's next step
  std::int64_t open_on_bad_data_ms = 0, open_ms = 0, opened_since_ms = -1;
  int openings = 0;
  std::ifstream lines(truth / "soil.jsonl");
  for (std::string line; std::getline(lines, line);) {
    auto record = parse_json(line);
    ASSERT_TRUE(record.ok()) << line;
    const std::int64_t at = record->value("at_ms", std::int64_t{0});
    const bool open = record->value("valve_open", false);
    if (open && opened_since_ms < 0) {
      opened_since_ms = at;
      ++openings;
    } else if (!open && opened_since_ms >= 0) {
      open_ms += at - opened_since_ms;
      open_on_bad_data_ms += std::max<std::int64_t>(
          0, std::min(at, kFaultUntil) - std::max(opened_since_ms, kFaultFrom + kNoticeMs));
      opened_since_ms = -1;
    }
  }
  EXPECT_GE(openings, 2) << "the sandy field dries within the day and is watered";
  EXPECT_GT(open_ms, 0);
  EXPECT_EQ(open_on_bad_data_ms, 0) << "valve-open time on a dead soil probe";

  for (const auto& row : devices()) {
    const std::string id = row.value("id", "");
    EXPECT_TRUE(wait_until([&] {
      return !body_of(admin("GET", "/api/v1/devices/" + id + "/readings"))["readings"].empty();
    })) << id;
  }
}

}  // namespace
}  // namespace canopy::testing
