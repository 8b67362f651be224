// Sensor health: a reading is used only when it is valid, and every way a
// sensor fails (a read error, NaN, out of range, stuck, stale) is caught.
#include "field/sensor_health.h"

#include <gtest/gtest.h>

#include <cmath>

namespace canopy::field {
namespace {

constexpr std::int64_t kSecond = 1000;

SensorRules soil_rules() {
  SensorRules rules;
  rules.min = 0;
  rules.max = 0.6;
  rules.max_age_ms = 120 * kSecond;
  rules.stuck_after_ms = 3600 * kSecond;
  return rules;
}

TEST(SensorHealthTest, AFreshValidReadingIsUsed) {
  const SensorRules rules = soil_rules();
  EXPECT_EQ(judge({}, rules, 0).status, SensorStatus::kNoReading);
  SensorHistory history = observe({}, 0.21, rules, 10 * kSecond);
  auto verdict = judge(history, rules, 20 * kSecond);
  EXPECT_EQ(verdict.status, SensorStatus::kValid);
  EXPECT_DOUBLE_EQ(*verdict.value, 0.21);
}

TEST(SensorHealthTest, EveryFailureMakesTheSensorInvalidUntilAGoodRead) {
  const SensorRules rules = soil_rules();
  SensorHistory good = observe({}, 0.21, rules, 0);

  auto crc =
      judge(observe(good, make_error(ErrorCode::kCorrupt, "w1_slave: CRC check failed"), rules, kSecond),
            rules, kSecond);
  EXPECT_EQ(crc.status, SensorStatus::kReadFailed);
  EXPECT_FALSE(crc.value);
  EXPECT_NE(crc.reason.find("CRC"), std::string::npos);

  auto nan = judge(observe(good, std::nan(""), rules, kSecond), rules, kSecond);
  EXPECT_EQ(nan.status, SensorStatus::kReadFailed);
  EXPECT_EQ(nan.reason, "the sensor read NaN");

  SensorHistory wild = observe(good, 1.7, rules, kSecond);
  auto range = judge(wild, rules, kSecond);
  EXPECT_EQ(range.status, SensorStatus::kOutOfRange);
  EXPECT_FALSE(range.value);
  EXPECT_EQ(judge(observe(wild, 0.22, rules, 2 * kSecond), rules, 2 * kSecond).status, SensorStatus::kValid)
      << "a good read after a bad one is valid again";

  auto stale = judge(good, rules, 121 * kSecond);
  EXPECT_EQ(stale.status, SensorStatus::kStale);
  EXPECT_NE(stale.reason.find("121 s old"), std::string::npos) << stale.reason;
  EXPECT_EQ(judge(good, rules, 120 * kSecond).status, SensorStatus::kValid) << "at the limit it still counts";
}

TEST(SensorHealthTest, AReadingThatNeverChangesIsStuck) {
  const SensorRules rules = soil_rules();
  SensorHistory history;
  for (std::int64_t t = 0; t <= 3600; t += 60) history = observe(history, 0.2, rules, t * kSecond);
  auto stuck = judge(history, rules, 3600 * kSecond);
  EXPECT_EQ(stuck.status, SensorStatus::kStuck);
  history = observe(history, 0.201, rules, 3660 * kSecond);
  EXPECT_EQ(judge(history, rules, 3660 * kSecond).status, SensorStatus::kValid);
}

TEST(SensorHealthTest, SmoothingWeighsThePastAndIgnoresInvalidReads) {
  SensorRules rules = soil_rules();
  rules.smoothing = 0.5;
  SensorHistory history = observe({}, 0.2, rules, 0);
  history = observe(history, 0.3, rules, kSecond);
  EXPECT_DOUBLE_EQ(*judge(history, rules, kSecond).value, 0.25);
  history = observe(history, 5.0, rules, 2 * kSecond);  // out of range: not smoothed in
  history = observe(history, 0.25, rules, 3 * kSecond);
  EXPECT_DOUBLE_EQ(*judge(history, rules, 3 * kSecond).value, 0.25);
}

}  // namespace
}  // namespace canopy::field
