// The simulation's field worlds: the --sensor-fault form and what starting
// the worlds leaves on disk (the agents' field configurations beside their
// data, the truth apart). The worlds stepping on a moving clock are tested
// with real agents in tests/integration/sim_rollout_test.cpp.
#include "sim/field_worlds.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/clock.h"
#include "common/files.h"
#include "sim/simulator.h"
#include "test_support.h"

namespace canopy::sim {
namespace {

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kStart = 1'780'272'000'000;  // 2026-06-01T00:00:00Z

TEST(DeviceSensorFault, ParsesDeviceSensorKindAndHours) {
  auto fault = parse_device_sensor_fault("2:soil-zone-1:dead:30:40");
  ASSERT_TRUE(fault.ok()) << fault.error().message;
  EXPECT_EQ(fault->device, 2);
  EXPECT_EQ(fault->fault.sensor, "soil-zone-1");
  EXPECT_EQ(fault->fault.kind, world::SensorFaultKind::kDead);
  EXPECT_EQ(fault->fault.from_ms, 30 * kHour);
  EXPECT_EQ(fault->fault.until_ms, 40 * kHour);
}

TEST(DeviceSensorFault, RefusesMalformedFaultsNamingTheForm) {
  for (const char* text : {"", "2:soil-zone-1:dead:30", "0:soil-zone-1:dead:1:2", "x:soil-zone-1:dead:1:2",
                           "1:soil-zone-1:melted:1:2", "1:soil-zone-1:nan:5:5", "1:soil-zone-1:nan:-1:2",
                           "1:soil-zone-1:nan:1:2:3"}) {
    auto fault = parse_device_sensor_fault(text);
    ASSERT_FALSE(fault.ok()) << text;
    EXPECT_NE(fault.error().message.find("DEVICE:SENSOR:KIND:FROM_H:UNTIL_H"), std::string::npos)
        << fault.error().message;
  }
}

TEST(DeviceDrift, ParsesDeviceDayAndScenarioAndRefusesTheRestNamingTheForm) {
  auto drift = parse_device_drift("2:1:new-disease");
  ASSERT_TRUE(drift.ok()) << drift.error().message;
  EXPECT_EQ(drift->device, 2);
  EXPECT_EQ(drift->event.day, 1);
  EXPECT_EQ(drift->event.scenario, "new-disease");
  for (const char* text : {"", "2:1", "0:1:new-disease", "x:1:new-disease", "2:-1:new-disease", "2:1:snow",
                           "2:1:new-disease:3"}) {
    auto bad = parse_device_drift(text);
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_NE(bad.error().message.find("DEVICE:DAY:SCENARIO"), std::string::npos) << bad.error().message;
  }
  EXPECT_NE(parse_device_drift("2:1:snow").error().message.find("new-disease"), std::string::npos);
}

// Time that stands still: the worlds' thread waits for a step that never
// comes, napping a real millisecond at a time, so it sees its stop at once
// (a ManualClock's sleeper would wait for the clock to move).
class StillClock final : public Clock {
 public:
  std::int64_t wall_ms() const override { return kStart; }
  std::int64_t monotonic_ms() const override { return 0; }
  void sleep_for_ms(std::int64_t) override { std::this_thread::sleep_for(std::chrono::milliseconds(1)); }
};

FieldWorldsOptions options_in(const std::filesystem::path& dir) {
  FieldWorldsOptions options;
  options.dir = dir;
  options.devices = {1, 2};
  options.fields = {{1, "north"}, {2, "south"}};
  options.seed = 7;
  options.start_ms = kStart;
  options.frame_interval_ms = 15 * 60'000;
  return options;
}

TEST(FieldWorlds, WriteEachAgentsFieldConfigurationAndKeepTheTruthApart) {
  testing::TempDir dir;
  StillClock clock;
  auto worlds = FieldWorlds::start(options_in(dir.path()), {}, clock);
  ASSERT_TRUE(worlds.ok()) << worlds.error().message;
  for (int device : {1, 2}) {
    const std::string id = "device-" + std::to_string(device);
    EXPECT_EQ((*worlds)->field_config(device), dir.path() / id / "field.yaml");
    auto yaml = read_file(dir.path() / id / "field.yaml");
    ASSERT_TRUE(yaml.ok()) << yaml.error().message;
    EXPECT_NE(yaml->find(device == 1 ? "field: north\n" : "field: south\n"), std::string::npos) << *yaml;
    // The agent reads its own world's files, and nothing of the truth.
    EXPECT_NE(yaml->find((dir.path() / id / "field").string()), std::string::npos) << *yaml;
    EXPECT_EQ(yaml->find("truth"), std::string::npos) << *yaml;
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "truth" / id / "soil.jsonl"));
  }
  const std::vector<WorldTally> tallies = (*worlds)->tallies();
  ASSERT_EQ(tallies.size(), 2u);
  EXPECT_EQ(tallies[0].texture, "sand");
  EXPECT_EQ(tallies[1].texture, "loam");
  EXPECT_EQ(tallies[0].plants, 8);
  EXPECT_EQ(tallies[0].frames, 1) << "the first step, at the start, takes a frame";
  EXPECT_TRUE((*worlds)->error().ok());
}

TEST(FieldWorlds, RefuseAFaultOnADeviceOrSensorThatIsNotThere) {
  testing::TempDir dir;
  StillClock clock;
  FieldWorldsOptions drifting = options_in(dir.path());
  drifting.drifts = {*parse_device_drift("3:1:new-disease")};
  auto unknown = FieldWorlds::start(drifting, {}, clock);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("--drift names device 3"), std::string::npos)
      << unknown.error().message;
  DeviceSensorFault fault = *parse_device_sensor_fault("3:soil-zone-1:dead:1:2");
  auto no_device = FieldWorlds::start(options_in(dir.path()), {fault}, clock);
  ASSERT_FALSE(no_device.ok());
  EXPECT_NE(no_device.error().message.find("device 3"), std::string::npos) << no_device.error().message;

  fault = *parse_device_sensor_fault("1:soil-zone-9:dead:1:2");
  auto no_sensor = FieldWorlds::start(options_in(dir.path()), {fault}, clock);
  ASSERT_FALSE(no_sensor.ok());
  EXPECT_NE(no_sensor.error().message.find("soil-zone-9"), std::string::npos) << no_sensor.error().message;
}

// Checked before anything starts, the server included: a world needs
// virtual time, and sensor faults need a world.
TEST(FieldWorlds, TheSimulatorRefusesAWorldWithoutSpeedAndFaultsWithoutAWorld) {
  testing::TempDir dir;
  SimOptions options;
  options.server_url = "http://127.0.0.1:1";
  options.enroll_token = "token";
  options.dir = dir.path();
  options.world = true;
  const std::atomic<bool> stop{false};
  const auto print = [](const std::string&) {};
  Status refused = run_simulation(options, stop, print);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("--world needs virtual time"), std::string::npos)
      << refused.error().message;

  options.world = false;
  options.speed = 100;
  options.sensor_faults = {*parse_device_sensor_fault("1:soil-zone-1:dead:1:2")};
  refused = run_simulation(options, stop, print);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("--sensor-fault needs --world"), std::string::npos)
      << refused.error().message;
}

}  // namespace
}  // namespace canopy::sim
