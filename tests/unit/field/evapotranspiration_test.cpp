// Hargreaves ET0 and the extraterrestrial radiation it rests on (FAO-56).
#include "field/evapotranspiration.h"

#include <gtest/gtest.h>

#include <cmath>

namespace canopy::field {
namespace {

TEST(EvapotranspirationTest, RadiationMatchesFao56Example8) {
  // 20°S on 3 September (day 246): Ra = 32.2 MJ m⁻² day⁻¹.
  EXPECT_NEAR(extraterrestrial_radiation(-20, 246), 32.2, 0.1);
}

TEST(EvapotranspirationTest, Et0GrowsWithWarmthAndTheDailyRange) {
  const double mild = hargreaves_et0(12, 24, 45, 180);
  EXPECT_GT(mild, 3);
  EXPECT_LT(mild, 7) << "a mid-latitude summer day is a few mm";
  EXPECT_GT(hargreaves_et0(16, 28, 45, 180), mild) << "warmer";
  EXPECT_GT(hargreaves_et0(8, 28, 45, 180), mild) << "clearer sky, larger range";
  EXPECT_LT(hargreaves_et0(12, 24, 45, 355), mild) << "winter sun";
  EXPECT_EQ(hargreaves_et0(20, 20, 45, 180), 0) << "no range: no estimate";
  EXPECT_TRUE(std::isfinite(hargreaves_et0(-5, 5, 80, 172))) << "the polar day";
  EXPECT_GE(hargreaves_et0(-5, 5, 80, 355), 0) << "the polar night";
}

}  // namespace
}  // namespace canopy::field
