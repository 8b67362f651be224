// The real canopy-agent on a simulation's virtual clock, against the real
// server: started with --simulated-clock on a clock file that runs an hour
// per real second from 2026-03-01, its field loop reads a soil sensor
// every virtual minute and its outbox delivers the readings, stamped with
// virtual time over several virtual hours, within seconds of real time.
// Enrollment still works (its timestamp stays real: the server checks it
// against its own clock). A clock file that is missing or not a clock is
// refused, and the setting cannot come from the configuration file or the
// environment.
#include <signal.h>

#include <chrono>
#include <iostream>
#include <sstream>
#include <thread>

#include "agent_fixture.h"
#include "common/subprocess.h"
#include "sim/virtual_time.h"

namespace canopy::testing {
namespace {

constexpr std::int64_t kStartMs = 1'772'323'200'000;  // 2026-03-01T00:00:00Z
constexpr std::int64_t kHourMs = 3'600'000;
constexpr double kSpeed = 3600;  // a virtual hour per real second
constexpr const char* kSimulatedNotice = "time is simulated";

std::string shell_command(const std::vector<std::string>& argv) {
  std::string command;
  for (const auto& arg : argv) command += arg + " ";
  return command;
}

class SimulatedClockTest : public AgentFixture {
 protected:
  void SetUp() override {
    // Inherited by the server the fixture starts: devices poll every
    // virtual hour, a real second at this speed.
    ::setenv("CANOPY_POLL_INTERVAL_S", "3600", 1);
    AgentFixture::SetUp();
    fs::create_directories(device_);
    write_bytes(device_ / "soil", "0.25\n");
    write_bytes(device_ / "field.yaml",
                "location: {latitude: 41.6}\n"
                "sensors:\n"
                "  - {name: soil-north, measures: soil_moisture, file: " +
                    (device_ / "soil").string() +
                    ", period: 1m, range: [0, 0.6]}\n"
                    "telemetry: {period: 10m}\n");
  }

  std::vector<std::string> agent_argv(const std::vector<std::string>& extra) const {
    std::vector<std::string> argv = {agent_binary().string(),
                                     "run",
                                     "--server",
                                     server_->url(),
                                     "--data-dir",
                                     (device_ / "data").string(),
                                     "--enroll-token",
                                     token_,
                                     "--name",
                                     "north-field-1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  // How many readings the server stored, and the span of their times (Unix ms).
  struct Stored {
    std::int64_t count = 0, first_ms = 0, last_ms = 0;
  };
  Stored stored_readings() {
    auto listed = run_shell("sqlite3 -readonly " + (work_ / "data" / "registry.db").string() +
                            " \"SELECT COUNT(*), IFNULL(MIN(at_ms), 0), IFNULL(MAX(at_ms), 0) FROM field_records "
                            "WHERE stream = 'readings'\"");
    EXPECT_EQ(listed.exit_code, 0) << listed.output;
    Stored stored;
    char bar = 0;
    std::istringstream(listed.output) >> stored.count >> bar >> stored.first_ms >> bar >> stored.last_ms;
    return stored;
  }

  const fs::path device_ = work_ / "field-device";
};

TEST_F(SimulatedClockTest, FieldReadingsSpanVirtualHoursWithinSecondsOfRealTime) {
  auto time = sim::VirtualTime::start(work_ / "clock", kStartMs, kSpeed);
  ASSERT_TRUE(time.ok()) << time.error().message;
  const auto began = std::chrono::steady_clock::now();
  Subprocess::Options options;
  options.argv = agent_argv({"--field-config", (device_ / "field.yaml").string(), "--simulated-clock",
                             (work_ / "clock").string()});
  options.stderr_file = device_ / "agent.log";
  auto agent = Subprocess::start(options);
  ASSERT_TRUE(agent.ok()) << agent.error().message;

  // The server holds readings over three virtual hours (polled: only the
  // server's answers show it).
  Stored stored;
  const auto deadline = began + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    stored = stored_readings();
    if (stored.count > 0 && stored.last_ms - stored.first_ms >= 3 * kHourMs) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double real_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  const std::int64_t virtual_now_ms = (*time)->clock().wall_ms();
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait(), 0) << "a stop ends its sleeps on the virtual clock";
  const std::string log = read_bytes(device_ / "agent.log");

  ASSERT_GE(stored.last_ms - stored.first_ms, 3 * kHourMs) << log;
  EXPECT_GE(stored.first_ms, kStartMs) << "stamped with virtual time, not the system clock's";
  EXPECT_LE(stored.last_ms, virtual_now_ms);
  // A reading every virtual minute: the loop keeps its schedule at this speed.
  const std::int64_t minutes = (stored.last_ms - stored.first_ms) / 60'000 + 1;
  EXPECT_GE(stored.count, minutes * 9 / 10) << stored.count << " readings over " << minutes << " minutes";
  EXPECT_LE(stored.count, minutes + 1);
  EXPECT_LT(real_s, 30) << "three virtual hours took " << real_s << " s";
  EXPECT_NE(log.find(kSimulatedNotice), std::string::npos) << "the agent says so when it starts\n" << log;
  std::cout << stored.count << " readings over " << (stored.last_ms - stored.first_ms) / 60'000
            << " virtual minutes reached the server " << real_s << " s after the agent started\n";
}

TEST_F(SimulatedClockTest, AMissingOrForeignClockFileIsRefused) {
  write_bytes(work_ / "not-a-clock", std::string(40, 'x'));
  for (const std::string& file : {(work_ / "missing").string(), (work_ / "not-a-clock").string()}) {
    auto ran = run_shell(shell_command(agent_argv({"--once", "--simulated-clock", file})) + "2>&1");
    EXPECT_EQ(ran.exit_code, 2) << ran.output;
    EXPECT_NE(ran.output.find("error: --simulated-clock: "), std::string::npos) << ran.output;
    EXPECT_NE(ran.output.find(file), std::string::npos) << ran.output;
    EXPECT_FALSE(fs::exists(device_ / "data" / "identity.key")) << "refused before it does anything";
  }
}

TEST_F(SimulatedClockTest, NeitherTheConfigurationFileNorTheEnvironmentCanTurnItOn) {
  // A valid clock, stopped in 2026-03-01: an agent on it would say so.
  auto writer = SharedClockWriter::create(work_ / "clock", kStartMs, 1);
  ASSERT_TRUE(writer.ok());
  write_bytes(work_ / "agent.yaml", "simulated_clock: " + (work_ / "clock").string() +
                                        "\nsimulated-clock: " + (work_ / "clock").string() + "\n");
  auto ran = run_shell("CANOPY_SIMULATED_CLOCK=" + (work_ / "clock").string() + " " +
                       shell_command(agent_argv({"--once", "--config", (work_ / "agent.yaml").string()})) +
                       "2>&1");
  EXPECT_EQ(ran.exit_code, 0) << ran.output;
  EXPECT_EQ(ran.output.find(kSimulatedNotice), std::string::npos) << ran.output;
}

}  // namespace
}  // namespace canopy::testing
