// A device's whole world: the same seed and configuration give the same
// frames, sensor files and truth bytes; the agent's file valve waters the
// soil; a dry spell stresses the plants the frames show; drift switches the
// scenario; the truth stays in its own directory.
#include "world/field_world.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/files.h"
#include "test_support.h"
#include "vision/image_codec.h"

namespace canopy::world {
namespace {

using testing::TempDir;

WorldConfig small_world(std::uint64_t seed) {
  WorldConfig config = default_world_config(2, seed);
  config.cameras[0].width = 160;
  config.cameras[0].height = 120;
  config.faults = {{"soil-zone-1", SensorFaultKind::kStuck, config.start_ms + 30 * kMinuteMs,
                    config.start_ms + 50 * kMinuteMs}};
  return config;
}

// Two hours of a device: sensors each minute, a frame every ten, and the
// valve the "agent" opens for twenty minutes.
void live(FieldWorld& world) {
  const std::int64_t start = world.config().start_ms + 6 * kHourMs;
  for (std::int64_t t = start; t <= start + 2 * kHourMs; t += kMinuteMs) {
    if (t == start + 30 * kMinuteMs || t == start + 50 * kMinuteMs) {
      ASSERT_TRUE(
          write_file_atomic(world.files().valve("zone-1"), t == start + 30 * kMinuteMs ? "1" : "0").ok());
    }
    ASSERT_TRUE(world.follow_valves(t).ok());
    ASSERT_TRUE(world.publish_sensors(t).ok());
    if ((t - start) % (10 * kMinuteMs) == 0) {
      ASSERT_TRUE(world.publish_frame("cam-1", t).ok());
    }
  }
}

std::map<std::string, std::string> files_under(const std::filesystem::path& root) {
  std::map<std::string, std::string> files;
  for (const std::string& name : testing::list_files(root)) files[name] = testing::read_bytes(root / name);
  return files;
}

TEST(FieldWorld, TheSameSeedGivesTheSameWorldAndAnotherSeedAnother) {
  TempDir dir;
  for (const char* name : {"a", "b", "c"}) {
    auto world =
        FieldWorld::create(small_world(name[0] == 'c' ? 8 : 7), dir / name / "device", dir / name / "truth");
    ASSERT_TRUE(world.ok()) << world.error().message;
    live(*world);
  }
  const auto a = files_under(dir / "a"), b = files_under(dir / "b"), c = files_under(dir / "c");
  ASSERT_TRUE(a.count("truth/frames.jsonl"));
  ASSERT_TRUE(a.count("truth/soil.jsonl"));
  ASSERT_TRUE(a.count("truth/weather.jsonl"));
  ASSERT_TRUE(a.count("device/sys/class/hwmon/hwmon0/temp1_input"));
  EXPECT_EQ(std::count_if(a.begin(), a.end(), [](const auto& f) { return f.first.ends_with(".jpg"); }), 13);
  EXPECT_EQ(a, b) << "frames, sensor files and truth are byte-identical";
  ASSERT_EQ(c.size(), a.size());
  // Everything but what no seed changes (the ADC scale, the valve files the test wrote) differs.
  for (const auto& [name, bytes] : a)
    if (name.find("valves/") == std::string::npos && !name.ends_with("in_voltage_scale")) {
      EXPECT_NE(c.at(name), bytes) << name;
    }
}

TEST(FieldWorld, TheAgentsValveWatersTheSimulatedSoil) {
  TempDir dir;
  WorldConfig config = small_world(7);
  auto watered = FieldWorld::create(config, dir / "w/device", dir / "w/truth");
  auto dry = FieldWorld::create(config, dir / "d/device", dir / "d/truth");
  ASSERT_TRUE(watered.ok() && dry.ok());
  live(*watered);
  ASSERT_TRUE(dry->advance_to(watered->now_ms()).ok());
  const SoilWaterConfig& zone = watered->config().zones[0].water;
  const double applied_mm = zone.valve_flow_l_per_h * (20.0 / 60) / zone.area_m2;
  EXPECT_NEAR(watered->soil("zone-1").state().irrigation_mm, applied_mm, 1e-9);
  EXPECT_NEAR(watered->soil("zone-1").state().theta - dry->soil("zone-1").state().theta,
              applied_mm / (1000 * zone.root_depth_m), 1e-9);
  // The soil truth records the valve's changes at their minutes.
  const std::string soil = testing::read_bytes(dir / "w/truth/soil.jsonl");
  EXPECT_NE(soil.find("\"valve_open\":true"), std::string::npos);
}

TEST(FieldWorld, ADrySpellShowsStressedPlantsInTheFramesAndTruth) {
  TempDir dir;
  WorldConfig config = small_world(3);
  config.weather.dry_spell_from_day = 0;
  config.weather.dry_spell_until_day = 30;
  config.zones[0].water.initial_depletion_mm = 30;  // sand holds 30 mm: Ks < 1 from the start
  config.crop.drawn_onsets = 0;
  config.drifts = {{.day = 2, .scenario = "late-season"}};
  auto world = FieldWorld::create(config, dir / "device", dir / "truth");
  ASSERT_TRUE(world.ok()) << world.error().message;
  ASSERT_LT(world->soil("zone-1").state().ks, 1);
  auto before = world->capture("cam-1", config.start_ms + 12 * kHourMs);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->objects.size(), 8u);
  for (const TrueObject& object : before->objects) EXPECT_EQ(object.condition, PlantCondition::kHealthy);
  EXPECT_EQ(before->scenario, "baseline");

  auto after = world->publish_frame("cam-1", config.start_ms + 2 * kDayMs + 12 * kHourMs);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->scenario, "late-season");
  for (const TrueObject& object : after->objects) {
    EXPECT_EQ(object.condition, PlantCondition::kWaterStressed);
    EXPECT_GE(object.severity, 2);
  }
  auto image = vision::decode_image(after->jpeg);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->cols, 160);
  // The frame is in the spool under its name, with the world's time as its file time.
  const std::filesystem::path spooled = world->files().spool("cam-1") / after->file_name;
  ASSERT_TRUE(std::filesystem::exists(spooled));
  const auto file_time =
      std::filesystem::file_time_type::clock::to_sys(std::filesystem::last_write_time(spooled));
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(file_time.time_since_epoch()).count(),
            after->at_ms);
  const std::string plants = testing::read_bytes(dir / "truth/plants.jsonl");
  EXPECT_NE(plants.find("\"to\":\"water_stressed\""), std::string::npos);
  EXPECT_NE(plants.find("\"cause\":\"dry soil\""), std::string::npos);
  const std::string frames = testing::read_bytes(dir / "truth/frames.jsonl");
  EXPECT_NE(frames.find(after->file_name), std::string::npos);
  // Nothing of the truth is in the device's directory.
  for (const std::string& name : testing::list_files(dir / "device"))
    EXPECT_EQ(name.find("jsonl"), std::string::npos);
}

TEST(FieldWorld, RefusesABadConfiguration) {
  TempDir dir;
  WorldConfig config = default_world_config(1, 1);
  config.cameras[0].zone = "nowhere";
  EXPECT_FALSE(FieldWorld::create(config, dir / "d", dir / "t").ok());
  config = default_world_config(1, 1);
  config.zones[0].texture = "gravel";
  EXPECT_FALSE(FieldWorld::create(config, dir / "d", dir / "t").ok());
  config = default_world_config(1, 1);
  config.faults = {{"soil-zone-1", SensorFaultKind::kPowerOn85, 0, 1}};
  EXPECT_FALSE(FieldWorld::create(config, dir / "d", dir / "t").ok());
  config = default_world_config(1, 1);
  config.field = "north field";  // the field configuration would not read back
  auto spaced = FieldWorld::create(config, dir / "d", dir / "t");
  ASSERT_FALSE(spaced.ok());
  EXPECT_NE(spaced.error().message.find("field 'north field'"), std::string::npos) << spaced.error().message;
  EXPECT_EQ(default_world_config(1, 1).zones[0].texture, "sand");
  EXPECT_EQ(default_world_config(2, 1).zones[0].texture, "loam");
  EXPECT_NE(default_world_config(1, 1).seed, default_world_config(2, 1).seed);
}

}  // namespace
}  // namespace canopy::world
