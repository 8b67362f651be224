// The irrigation rules: FAO-56 thresholds, and the safety rules on every path,
// checked case by case and then over three simulated days of random readings.
#include "field/irrigation.h"

#include <gtest/gtest.h>

#include <random>

namespace canopy::field {
namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kDay = 86'400'000;

ZoneRules loam() {
  ZoneRules rules;
  rules.soil = *soil_preset("loam");
  return rules;
}

// Runs the controller once at `now` and carries out its decision.
IrrigationDecision step(const ZoneRules& rules, ValveState& valve, std::optional<double> theta,
                        std::int64_t now, bool stress = false) {
  IrrigationDecision decision = decide_irrigation(rules, valve, {theta, stress}, now);
  valve = apply_decision(valve, decision, now);
  return decision;
}

TEST(IrrigationTest, LoamThresholdsFollowFao56) {
  const ZoneRules rules = loam();
  EXPECT_NEAR(start_threshold(rules), 0.195, 1e-9);  // θFC − p·(θFC − θWP)
  EXPECT_NEAR(total_available_water_mm(rules), 45, 1e-9);
  EXPECT_NEAR(readily_available_water_mm(rules), 22.5, 1e-9);
  EXPECT_NEAR(stop_threshold(rules), 0.2565, 1e-9);
  EXPECT_TRUE(validate(rules).ok());
  EXPECT_FALSE(soil_preset("gravel").ok());
}

TEST(IrrigationTest, BadRulesAreRefusedNamingTheSetting) {
  ZoneRules rules = loam();
  rules.allowed_depletion = 0.95;
  ASSERT_FALSE(validate(rules).ok());
  EXPECT_NE(validate(rules).error().message.find("allowed_depletion"), std::string::npos);
  rules = loam();
  rules.soil.theta_wp = 0.3;
  EXPECT_FALSE(validate(rules).ok());
  rules = loam();
  rules.stop_fraction = 0.5;  // would close below the start threshold
  EXPECT_FALSE(validate(rules).ok());
  rules = loam();
  rules.max_on_s = 0;
  EXPECT_FALSE(validate(rules).ok());
}

TEST(IrrigationTest, OpensWhenDryAndClosesNearFieldCapacity) {
  const ZoneRules rules = loam();
  ValveState valve;
  EXPECT_FALSE(step(rules, valve, 0.22, kMinute).open) << "above the start threshold";
  auto opened = step(rules, valve, 0.19, 2 * kMinute);
  EXPECT_TRUE(opened.open) << opened.reason;
  EXPECT_TRUE(step(rules, valve, 0.23, 3 * kMinute).open) << "still below the stop target";
  auto closed = step(rules, valve, 0.26, 4 * kMinute);
  EXPECT_FALSE(closed.open);
  EXPECT_NE(closed.reason.find("stop target"), std::string::npos) << closed.reason;
}

TEST(IrrigationTest, NoValidReadingClosesTheValveAtOnce) {
  const ZoneRules rules = loam();
  ValveState valve;
  ASSERT_TRUE(step(rules, valve, 0.15, kMinute).open);
  auto closed = step(rules, valve, std::nullopt, kMinute + 1);
  EXPECT_FALSE(closed.open);
  EXPECT_EQ(closed.reason, "no valid soil reading");
  EXPECT_FALSE(step(rules, valve, std::nullopt, 100 * kMinute).open);
}

TEST(IrrigationTest, MaximumOnTimeAndMinimumOffTimeHold) {
  ZoneRules rules = loam();
  rules.max_on_s = 600;
  rules.min_off_s = 900;
  ValveState valve;
  ASSERT_TRUE(step(rules, valve, 0.15, kMinute).open);
  EXPECT_TRUE(step(rules, valve, 0.15, kMinute + 599'999).open);
  auto stopped = step(rules, valve, 0.15, kMinute + 600'000);
  EXPECT_FALSE(stopped.open);
  EXPECT_NE(stopped.reason.find("maximum on-time"), std::string::npos) << stopped.reason;
  auto waiting = step(rules, valve, 0.15, kMinute + 600'000 + 899'999);
  EXPECT_FALSE(waiting.open);
  EXPECT_NE(waiting.reason.find("minimum off-time"), std::string::npos) << waiting.reason;
  EXPECT_TRUE(step(rules, valve, 0.15, kMinute + 600'000 + 900'000).open);
}

// A refill the maximum on-time cut short goes on after the minimum off-time,
// up to the stop target, instead of waiting for the soil to dry to the start
// threshold again (which on sand left every refill at a third).
TEST(IrrigationTest, ARefillCutShortGoesOnToTheStopTarget) {
  ZoneRules rules = loam();  // start 19.5 %, stop 25.65 %
  rules.max_on_s = 1800;
  rules.min_off_s = 600;
  ValveState valve;
  ASSERT_TRUE(step(rules, valve, 0.19, 0).open);
  EXPECT_TRUE(valve.refilling);
  auto cut = step(rules, valve, 0.22, 30 * kMinute);
  EXPECT_FALSE(cut.open);
  EXPECT_NE(cut.reason.find("maximum on-time"), std::string::npos) << cut.reason;
  EXPECT_TRUE(valve.refilling) << "22 % is short of the stop target";
  EXPECT_FALSE(step(rules, valve, 0.22, 39 * kMinute).open) << "the minimum off-time holds";
  auto resumed = step(rules, valve, 0.22, 40 * kMinute);
  EXPECT_TRUE(resumed.open);
  EXPECT_NE(resumed.reason.find("continuing the refill"), std::string::npos) << resumed.reason;
  auto done = step(rules, valve, 0.26, 55 * kMinute);
  EXPECT_FALSE(done.open);
  EXPECT_NE(done.reason.find("stop target"), std::string::npos) << done.reason;
  EXPECT_FALSE(valve.refilling);
  EXPECT_FALSE(step(rules, valve, 0.22, 90 * kMinute).open) << "refilled: wait for the start threshold again";
}

// A refill interrupted by a bad reading waits for a good one, and rain that
// reaches the stop target ends it with the valve still closed.
TEST(IrrigationTest, ARefillSurvivesABadReadingAndEndsOnRain) {
  ZoneRules rules = loam();
  rules.min_off_s = 600;
  ValveState valve;
  ASSERT_TRUE(step(rules, valve, 0.19, 0).open);
  EXPECT_FALSE(step(rules, valve, std::nullopt, 5 * kMinute).open);
  EXPECT_TRUE(valve.refilling);
  EXPECT_FALSE(step(rules, valve, std::nullopt, 30 * kMinute).open) << "never on a bad reading";
  EXPECT_TRUE(step(rules, valve, 0.21, 31 * kMinute).open) << "the refill goes on once the reading is good";
  EXPECT_FALSE(step(rules, valve, std::nullopt, 32 * kMinute).open);
  auto rained = step(rules, valve, 0.27, 50 * kMinute);
  EXPECT_FALSE(rained.open);
  EXPECT_FALSE(valve.refilling) << rained.reason;
}

TEST(IrrigationTest, TheDailyCapCountsEveryOpeningAndResetsAtMidnight) {
  ZoneRules rules = loam();
  rules.max_on_s = 600;
  rules.min_off_s = 0;
  rules.daily_on_cap_s = 1500;  // two full openings and a half
  ValveState valve;
  std::int64_t now = kDay + kMinute;
  std::int64_t opened_ms = 0;
  for (int i = 0; i < 60; ++i, now += kMinute) {
    const bool was_open = valve.open;
    step(rules, valve, 0.15, now);
    if (was_open) opened_ms += kMinute;
  }
  EXPECT_EQ(opened_ms, 1500'000) << "open exactly up to the cap";
  EXPECT_FALSE(valve.open);
  auto capped = decide_irrigation(rules, valve, {0.15, false}, now);
  EXPECT_NE(capped.reason.find("daily cap"), std::string::npos) << capped.reason;
  EXPECT_TRUE(decide_irrigation(rules, valve, {0.15, false}, 2 * kDay).open) << "a new day, a new cap";
}

TEST(IrrigationTest, AnOpeningAcrossMidnightCountsOnBothDays) {
  ZoneRules rules = loam();
  rules.max_on_s = 3600;
  ValveState valve;
  ASSERT_TRUE(step(rules, valve, 0.15, kDay - 10 * kMinute).open);
  EXPECT_EQ(open_today_ms(valve, kDay - kMinute), 9 * kMinute);
  EXPECT_EQ(open_today_ms(valve, kDay + 5 * kMinute), 5 * kMinute) << "the new day counts from midnight";
  step(rules, valve, 0.30, kDay + 5 * kMinute);
  EXPECT_FALSE(valve.open);
  EXPECT_EQ(open_today_ms(valve, kDay + 6 * kMinute), 5 * kMinute);
}

TEST(IrrigationTest, WaterStressStartsEarlyOnlyWhenTheSoilAgrees) {
  const ZoneRules rules = loam();  // start 19.5 %, early start at 23.25 %
  ValveState valve;
  EXPECT_FALSE(decide_irrigation(rules, valve, {0.22, false}, kMinute).open) << "no stress: wait for 19.5 %";
  EXPECT_TRUE(decide_irrigation(rules, valve, {0.22, true}, kMinute).open) << "stress and half-dry soil";
  EXPECT_FALSE(decide_irrigation(rules, valve, {0.25, true}, kMinute).open)
      << "stress but wet soil: not water";
  ZoneRules strict = rules;
  strict.stress_starts_early = false;
  EXPECT_FALSE(decide_irrigation(strict, valve, {0.22, true}, kMinute).open);
}

// Three days of readings every minute, some missing, from a random walk:
// whatever they are, the valve is never open without a valid reading, never
// open longer than its maximum, never reopened before its minimum off-time,
// and never open longer than the cap on any day.
TEST(IrrigationTest, SafetyHoldsOverThreeDaysOfRandomReadings) {
  ZoneRules rules = loam();
  rules.max_on_s = 900;
  rules.min_off_s = 1200;
  rules.daily_on_cap_s = 3600;
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 random(seed);
    std::uniform_real_distribution<double> walk(-0.01, 0.008);
    std::bernoulli_distribution missing(0.05), stress(0.3);
    ValveState valve;
    double theta = 0.24;
    std::int64_t opened_at = -1, closed_at = -1;
    std::map<std::int64_t, std::int64_t> open_per_day;
    for (std::int64_t now = kMinute; now < 3 * kDay; now += kMinute) {
      theta = std::clamp(theta + walk(random) + (valve.open ? 0.02 : 0.0), 0.05, 0.35);
      const std::optional<double> reading = missing(random) ? std::nullopt : std::optional(theta);
      const bool was_open = valve.open;
      if (was_open) open_per_day[(now - 1) / kDay] += kMinute;
      step(rules, valve, reading, now, stress(random));
      if (valve.open) {
        ASSERT_TRUE(reading.has_value()) << "seed " << seed << " at " << now;
      }
      if (valve.open && !was_open) {
        if (closed_at >= 0) {
          ASSERT_GE(now - closed_at, rules.min_off_s * 1000) << "seed " << seed;
        }
        opened_at = now;
      }
      if (!valve.open && was_open) closed_at = now;
      if (valve.open) {
        ASSERT_LE(now - opened_at, rules.max_on_s * 1000) << "seed " << seed;
      }
    }
    for (const auto& [day, ms] : open_per_day) EXPECT_LE(ms, rules.daily_on_cap_s * 1000) << "day " << day;
  }
}

}  // namespace
}  // namespace canopy::field
