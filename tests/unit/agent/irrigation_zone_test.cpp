// One irrigation zone with a soil sensor file and valves the test watches,
// on a manual clock: outputs OFF at start (also after a crash left the valve
// open), a bad reading closes the valve within one period, the record is
// written before the valve opens, and a valve hook that fails is closed.
#include "agent/irrigation_zone.h"

#include <gtest/gtest.h>

#include "agent/sensor_channel.h"
#include "fault_env.h"
#include "test_support.h"

namespace canopy::agent {
namespace {

using canopy::testing::read_bytes;
using canopy::testing::TempDir;
using canopy::testing::write_bytes;

constexpr std::int64_t kMinute = 60'000;

class IrrigationZoneTest : public ::testing::Test {
 protected:
  ZoneSettings settings() const {
    ZoneSettings s;
    s.name = "north";
    s.rules.soil = *field::soil_preset("loam");  // opens at 19.5 %, closes at 25.65 %
    s.rules.max_on_s = 1800;
    s.rules.min_off_s = 600;
    return s;
  }

  static field::SensorRules soil_rules() {
    field::SensorRules rules;
    rules.min = 0;
    rules.max = 0.6;
    rules.max_age_ms = 5 * kMinute;
    return rules;
  }

  Result<std::unique_ptr<IrrigationZone>> open_zone(Env& env = default_env()) {
    return IrrigationZone::open(settings(), device::file_valve(dir_ / "valve"), dir_ / "data", clock_, env);
  }

  // One period: the soil sensor is read, and the zone decides on its verdict.
  Result<ZoneStep> run_period(IrrigationZone& zone) { return zone.step(soil_.read(clock_.wall_ms()), false); }

  bool valve_open() const { return read_bytes(dir_ / "valve") == "1\n"; }

  TempDir dir_;
  ManualClock clock_{1'795'600'000'000};
  SensorChannel soil_{"soil", device::file_input(dir_ / "vwc"), soil_rules()};
};

TEST_F(IrrigationZoneTest, OpensWhenDryClosesWhenWetAndRecordsWhy) {
  write_bytes(dir_ / "vwc", "0.18\n");
  auto zone = open_zone();
  ASSERT_TRUE(zone.ok()) << zone.error().message;
  EXPECT_FALSE(valve_open()) << "outputs are OFF at start";
  auto step = run_period(**zone);
  ASSERT_TRUE(step.ok()) << step.error().message;
  EXPECT_TRUE(step->changed);
  EXPECT_TRUE(valve_open());
  clock_.advance_ms(10 * kMinute);
  write_bytes(dir_ / "vwc", "0.26\n");
  ASSERT_TRUE(run_period(**zone).ok());
  EXPECT_FALSE(valve_open());
  const auto& actuations = (*zone)->actuations();
  ASSERT_EQ(actuations.size(), 3u);
  EXPECT_EQ(actuations[0].reason, "closed at start");
  EXPECT_NE(actuations[1].reason.find("at or below start"), std::string::npos) << actuations[1].reason;
  EXPECT_NE(actuations[2].reason.find("stop target"), std::string::npos) << actuations[2].reason;
  EXPECT_EQ((*zone)->valve_state().open_today_ms, 10 * kMinute);
}

// A refill cut short by the maximum on-time is kept in the zone's record, so
// an agent restarted in the pause goes on with it (after closing the valve
// at start); rain that ends the refill while the valve is closed is kept too.
TEST_F(IrrigationZoneTest, ARefillUnderWaySurvivesARestart) {
  write_bytes(dir_ / "vwc", "0.18\n");
  {
    auto zone = open_zone();
    ASSERT_TRUE(zone.ok()) << zone.error().message;
    ASSERT_TRUE(run_period(**zone).ok());
    EXPECT_TRUE(valve_open());
    clock_.advance_ms(30 * kMinute);
    write_bytes(dir_ / "vwc", "0.22\n");  // short of the 25.65 % stop target
    ASSERT_TRUE(run_period(**zone).ok());
    EXPECT_FALSE(valve_open()) << "maximum on-time";
    EXPECT_TRUE((*zone)->valve_state().refilling);
  }
  clock_.advance_ms(10 * kMinute);
  auto restarted = open_zone();
  ASSERT_TRUE(restarted.ok()) << restarted.error().message;
  EXPECT_TRUE((*restarted)->valve_state().refilling);
  auto step = run_period(**restarted);
  ASSERT_TRUE(step.ok()) << step.error().message;
  EXPECT_TRUE(valve_open());
  EXPECT_NE(step->decision.reason.find("continuing the refill"), std::string::npos) << step->decision.reason;
  clock_.advance_ms(30 * kMinute);
  ASSERT_TRUE(run_period(**restarted).ok());
  EXPECT_FALSE(valve_open());
  clock_.advance_ms(kMinute);
  write_bytes(dir_ / "vwc", "0.27\n");  // rain
  ASSERT_TRUE(run_period(**restarted).ok());
  EXPECT_FALSE((*restarted)->valve_state().refilling);
  restarted->reset();
  auto again = open_zone();
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE((*again)->valve_state().refilling) << "the end of the refill was kept";
}

TEST_F(IrrigationZoneTest, EveryBadReadingClosesTheValveAtTheNextPeriod) {
  for (const char* bad : {"nan\n", "7.5\n", "", "gone"}) {
    SCOPED_TRACE(bad);
    TempDir data;
    write_bytes(dir_ / "vwc", "0.18\n");
    auto zone = IrrigationZone::open(settings(), device::file_valve(dir_ / "valve"), data.path(), clock_);
    ASSERT_TRUE(zone.ok()) << zone.error().message;
    ASSERT_TRUE(run_period(**zone).ok());
    ASSERT_TRUE(valve_open());
    clock_.advance_ms(kMinute);
    if (std::string(bad) == "gone")
      std::filesystem::remove(dir_ / "vwc");
    else
      write_bytes(dir_ / "vwc", bad);
    auto step = run_period(**zone);
    ASSERT_TRUE(step.ok()) << step.error().message;
    EXPECT_FALSE(valve_open());
    EXPECT_NE(step->decision.reason.find("no valid soil reading"), std::string::npos)
        << step->decision.reason;
    clock_.advance_ms(kMinute);
  }
}

TEST_F(IrrigationZoneTest, AStuckReadingClosesTheValve) {
  ZoneSettings s = settings();
  s.rules.max_on_s = 7200;
  field::SensorRules rules = soil_rules();
  rules.stuck_after_ms = 20 * kMinute;
  soil_ = SensorChannel("soil", device::file_input(dir_ / "vwc"), rules);
  write_bytes(dir_ / "vwc", "0.18\n");
  auto zone = IrrigationZone::open(s, device::file_valve(dir_ / "valve"), dir_ / "data", clock_);
  ASSERT_TRUE(zone.ok()) << zone.error().message;
  ASSERT_TRUE(run_period(**zone).ok());
  ASSERT_TRUE(valve_open());
  for (int i = 0; i < 20; ++i) {
    clock_.advance_ms(kMinute);
    ASSERT_TRUE(run_period(**zone).ok());
  }
  EXPECT_FALSE(valve_open()) << "irrigating for 20 minutes and the soil never got wetter: the probe is stuck";
}

TEST_F(IrrigationZoneTest, AValveLeftOpenByACrashIsClosedAtStart) {
  write_bytes(dir_ / "vwc", "0.18\n");
  {
    auto zone = open_zone();
    ASSERT_TRUE(zone.ok());
    ASSERT_TRUE(run_period(**zone).ok());
    ASSERT_TRUE(valve_open());
    // The agent dies here: nothing closes the valve.
  }
  ASSERT_TRUE(valve_open());
  clock_.advance_ms(5 * kMinute);
  auto restarted = open_zone();
  ASSERT_TRUE(restarted.ok()) << restarted.error().message;
  EXPECT_FALSE(valve_open());
  EXPECT_EQ((*restarted)->actuations().back().reason, "closed at start: it was open when the agent stopped");
  EXPECT_EQ((*restarted)->valve_state().open_today_ms, 5 * kMinute) << "the unattended opening counts";
  auto step = run_period(**restarted);
  ASSERT_TRUE(step.ok());
  EXPECT_FALSE(valve_open()) << "the minimum off-time holds after a restart too";
}

TEST_F(IrrigationZoneTest, TheValveNeverOpensWithoutItsRecordWritten) {
  write_bytes(dir_ / "vwc", "0.18\n");
  testing::FaultEnv env;
  auto zone = open_zone(env);
  ASSERT_TRUE(zone.ok()) << zone.error().message;
  env.fail_from_operation(1);  // every write from now on fails
  auto step = run_period(**zone);
  EXPECT_FALSE(step.ok());
  EXPECT_FALSE(valve_open()) << "no record, no opening";
}

TEST_F(IrrigationZoneTest, AFailingValveHookIsAnErrorAndTheValveIsClosed) {
  write_bytes(dir_ / "hook.sh", "#!/bin/sh\necho \"$1\" >> \"$(dirname \"$0\")/calls\"\n[ \"$1\" = off ]\n");
  std::filesystem::permissions(dir_ / "hook.sh", std::filesystem::perms::owner_all);
  write_bytes(dir_ / "vwc", "0.18\n");
  auto zone = IrrigationZone::open(settings(), device::command_valve({(dir_ / "hook.sh").string()}),
                                   dir_ / "data", clock_);
  ASSERT_TRUE(zone.ok()) << zone.error().message;
  auto step = run_period(**zone);
  ASSERT_FALSE(step.ok());
  EXPECT_NE(step.error().message.find("exited with 1"), std::string::npos) << step.error().message;
  EXPECT_EQ(read_bytes(dir_ / "calls"), "off\non\noff\n") << "closed at start, tried to open, closed again";
}

}  // namespace
}  // namespace canopy::agent
