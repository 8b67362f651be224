// The simulator's fleet plan: device names, fields, tags and faults, and the
// --offline windows.
#include "sim/fleet_plan.h"

#include <gtest/gtest.h>

namespace canopy::sim {
namespace {

TEST(FleetPlanTest, DealsFieldsRoundRobinAndNumbersCamerasWithinTheirField) {
  auto plan =
      plan_fleet({.devices = 7, .crash_during_install = 2, .full_disk = 1, .offline = {{5, 6, 10, 40}}});
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  ASSERT_EQ(plan->size(), 7u);
  const DevicePlan& fourth = (*plan)[3];
  EXPECT_EQ(fourth.number, 4);
  EXPECT_EQ(fourth.name, "north-field-cam-2");
  EXPECT_EQ(fourth.tags.at("field"), "north");
  EXPECT_EQ(fourth.tags.at("crop"), "wheat");
  EXPECT_EQ(fourth.tags.at("zone"), "1");
  EXPECT_EQ(fourth.tags.at("hardware"), "rpi4");
  EXPECT_EQ((*plan)[1].name, "south-field-cam-1");
  EXPECT_EQ((*plan)[2].tags.at("hardware"), "jetson-nano");
  for (const auto& device : *plan) {
    EXPECT_EQ(device.crash_during_install, device.number <= 2) << device.name;
    EXPECT_EQ(device.full_disk, device.number == 7) << device.name;
    EXPECT_EQ(device.offline.size(), device.number == 5 || device.number == 6 ? 1u : 0u) << device.name;
  }
}

TEST(FleetPlanTest, ASecondSimulatorContinuesTheNumbering) {
  auto plan = plan_fleet({.devices = 1, .first_device = 10, .fields = 3});
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->front().name, "north-field-cam-4");
  EXPECT_EQ(plan->front().tags.at("zone"), "2");
}

TEST(FleetPlanTest, RefusesOptionsThatDoNotFit) {
  EXPECT_FALSE(plan_fleet({.devices = 0}).ok());
  EXPECT_FALSE(plan_fleet({.devices = 3, .fields = 7}).ok());
  EXPECT_FALSE(plan_fleet({.devices = 3, .crash_during_install = 4}).ok());
  EXPECT_FALSE(plan_fleet({.devices = 3, .full_disk = -1}).ok());
  auto outside = plan_fleet({.devices = 3, .offline = {{2, 4, 0, 10}}});
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().message.find("devices are 1 to 3"), std::string::npos) << outside.error().message;
}

TEST(OfflineWindowTest, ParsesOneDeviceOrARange) {
  auto one = parse_offline_window("3:10:40");
  ASSERT_TRUE(one.ok()) << one.error().message;
  EXPECT_EQ(one->first_device, 3);
  EXPECT_EQ(one->last_device, 3);
  EXPECT_DOUBLE_EQ(one->start_s, 10);
  EXPECT_DOUBLE_EQ(one->end_s, 40);
  auto range = parse_offline_window("2-5:0.5:7.5");
  ASSERT_TRUE(range.ok()) << range.error().message;
  EXPECT_EQ(range->first_device, 2);
  EXPECT_EQ(range->last_device, 5);
  EXPECT_DOUBLE_EQ(range->start_s, 0.5);
  for (const char* bad :
       {"", "3", "3:10", "x:1:2", "3:40:10", "5-2:1:2", "0:1:2", "3:-1:2", "3:1:2:4", "3-:1:2"}) {
    auto parsed = parse_offline_window(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.error().message.find("--offline"), std::string::npos);
  }
}

}  // namespace
}  // namespace canopy::sim
