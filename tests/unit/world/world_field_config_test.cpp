// The field configuration the world writes for its device is one the agent
// accepts, and it points the agent at the world's files. This test links
// the agent and the world together; the agent itself never links the world.
#include <gtest/gtest.h>

#include "agent/field_config.h"
#include "test_support.h"
#include "world/field_world.h"

namespace canopy::world {
namespace {

TEST(WorldFieldConfig, TheAgentParsesItAndFindsTheWorldsFiles) {
  testing::TempDir dir;
  WorldConfig config = default_world_config(3, 5);
  ZoneConfig second;
  second.name = "zone-2";
  second.texture = "clay";
  second.custom_soil = true;
  second.water.soil = {0.36, 0.22};
  config.zones.push_back(second);
  // A path with a colon and a space, as IIO's and a user's directories have.
  auto world = FieldWorld::create(config, dir / "my fields" / "device-3", dir / "truth");
  ASSERT_TRUE(world.ok()) << world.error().message;
  const std::string yaml = world->field_config_yaml();
  auto parsed = agent::parse_field_config(yaml, "field.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message << "\n" << yaml;
  EXPECT_DOUBLE_EQ(parsed->latitude_deg, 41.6);
  ASSERT_EQ(parsed->cameras.size(), 1u);
  EXPECT_EQ(parsed->cameras[0].spool, world->files().spool("cam-1"));
  EXPECT_EQ(parsed->cameras[0].zone, "zone-1");
  ASSERT_EQ(parsed->sensors.size(), 5u);
  const agent::SensorConfig* soil = parsed->sensor("soil-zone-2");
  ASSERT_NE(soil, nullptr);
  EXPECT_EQ(soil->source, agent::SensorSource::kIio);
  EXPECT_EQ(soil->path, world->files().iio_raw(1));
  EXPECT_EQ(soil->scale_path, world->files().iio_scale());
  EXPECT_EQ(parsed->sensor("soil-temperature")->path, world->files().w1_slave());
  ASSERT_EQ(parsed->zones.size(), 2u);
  EXPECT_EQ(parsed->zones[0].valve, agent::ValveKind::kFile);
  EXPECT_EQ(parsed->zones[0].valve_file, world->files().valve("zone-1"));
  EXPECT_DOUBLE_EQ(parsed->zones[0].rules.soil.theta_fc, world->config().zones[0].water.soil.theta_fc);
  EXPECT_DOUBLE_EQ(parsed->zones[1].rules.soil.theta_wp, 0.22);
}

}  // namespace
}  // namespace canopy::world
