// The synthetic field renderer: determinism by seed, a valid YOLO dataset
// with sensor records, and the drift scenarios.
#include "vision/field_renderer.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/json.h"
#include "test_support.h"
#include "vision/dataset_formats.h"

namespace canopy::vision {
namespace {

using testing::TempDir;

Status generate(const std::filesystem::path& out, int images, std::uint64_t seed,
                const std::string& scenario = "baseline") {
  FieldOptions options;
  options.out = out;
  options.images = images;
  options.seed = seed;
  options.scenario = scenario;
  return generate_field_dataset(options);
}

TEST(FieldRenderer, SameSeedSameBytesOtherSeedOtherImages) {
  TempDir dir;
  ASSERT_TRUE(generate(dir / "a", 6, 11).ok());
  ASSERT_TRUE(generate(dir / "b", 6, 11).ok());
  ASSERT_TRUE(generate(dir / "c", 6, 12).ok());
  const std::vector<std::string> files = testing::list_files(dir / "a");
  EXPECT_EQ(files, testing::list_files(dir / "b"));
  for (const std::string& file : files) {
    EXPECT_EQ(testing::read_bytes(dir / "a" / file), testing::read_bytes(dir / "b" / file)) << file;
  }
  EXPECT_NE(testing::read_bytes(dir / "a/images/000000.jpg"),
            testing::read_bytes(dir / "c/images/000000.jpg"));
}

TEST(FieldRenderer, WritesAValidYoloDatasetWithSensorRecords) {
  TempDir dir;
  ASSERT_TRUE(generate(dir / "field", 20, 3).ok());
  // Strict: a single bad box or label would fail the read.
  ReadOptions strict;
  strict.strict = true;
  auto loaded = read_dataset(dir / "field", DatasetFormat::kYolo, strict);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->dataset.labels, kFieldLabels);
  ASSERT_EQ(loaded->dataset.samples.size(), 20u);
  std::vector<int> per_class(3, 0);
  for (const Sample& sample : loaded->dataset.samples) {
    EXPECT_EQ(sample.width, 480);
    EXPECT_EQ(sample.height, 360);
    for (const Annotation& object : sample.objects) ++per_class[size_t(object.label)];
  }
  for (int count : per_class) EXPECT_GT(count, 0) << "every class appears in 20 images";

  std::ifstream records(dir / "field/samples.jsonl");
  int lines = 0;
  for (std::string line; std::getline(records, line); ++lines) {
    const Json record = Json::parse(line);
    const Json& sensors = record["sensors"];
    EXPECT_GE(sensors["soil_moisture"].get<double>(), 0.0);
    EXPECT_LE(sensors["soil_moisture"].get<double>(), 0.5);
    EXPECT_TRUE(sensors["temperature_c"].is_number());
    EXPECT_TRUE(sensors["humidity"].is_number());
    EXPECT_EQ(sensors["field_id"], "field-1");
    EXPECT_EQ(sensors["timestamp"].get<std::string>().size(), 20u);
    // The finer disease type is kept for every diseased plant.
    for (const Json& object : record["objects"]) {
      if (object["label"] == "diseased") {
        EXPECT_TRUE(object.contains("disease_type"));
      }
    }
    EXPECT_EQ(record["objects"].size(), loaded->dataset.samples[size_t(lines)].objects.size());
  }
  EXPECT_EQ(lines, 20);
}

TEST(FieldRenderer, DriftScenariosChangeTheWorld) {
  TempDir dir;
  ASSERT_TRUE(generate(dir / "base", 30, 5).ok());
  ASSERT_TRUE(generate(dir / "drift", 30, 5, "new-disease").ok());
  const std::string base = testing::read_bytes(dir / "base/samples.jsonl");
  const std::string drift = testing::read_bytes(dir / "drift/samples.jsonl");
  const auto has = [](const std::string& text, const char* disease) {
    return text.find(std::string("\"") + disease + "\"") != std::string::npos;
  };
  // The new variant replaces every disease the baseline model knows.
  for (const char* known : {"leaf_spot", "mildew", "rust", "blight"})
    EXPECT_FALSE(has(drift, known)) << known;
  EXPECT_TRUE(has(drift, "mosaic") || has(drift, "downy_spot"));
  EXPECT_TRUE(has(base, "leaf_spot") || has(base, "rust") || has(base, "mildew") || has(base, "blight"));

  auto unknown = generate(dir / "x", 1, 1, "mars");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("mars"), std::string::npos);
}

ScenePlant plant_at(double x, int label, int severity, std::string disease_type, std::uint64_t look_seed) {
  ScenePlant plant;
  plant.x = x;
  plant.label = label;
  plant.severity = severity;
  plant.disease_type = std::move(disease_type);
  plant.look_seed = look_seed;
  return plant;
}

// A healthy, a diseased and a water-stressed plant across the middle of the frame.
FieldScene three_plants() {
  FieldScene scene;
  scene.plants = {plant_at(0.25, 0, 0, "", 1), plant_at(0.5, 1, 2, "rust", 2), plant_at(0.75, 2, 3, "", 3)};
  return scene;
}

TEST(FieldRenderer, RendersAGivenSceneWithABoxAroundEachPlant) {
  FieldScene scene = three_plants();
  auto first = render_field_scene(scene);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->objects.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const SceneObject& object = first->objects[size_t(i)];
    EXPECT_EQ(object.plant, i);
    EXPECT_EQ(object.label, scene.plants[size_t(i)].label);
    // The box holds the plant's centre, and its size is about the leaves' reach.
    const float cx = float(scene.plants[size_t(i)].x * scene.width), cy = float(scene.height) / 2;
    EXPECT_LT(object.box.x1, cx);
    EXPECT_GT(object.box.x2, cx);
    EXPECT_LT(object.box.y1, cy);
    EXPECT_GT(object.box.y2, cy);
    EXPECT_LT(object.box.width(), 2.2f * 0.08f * float(scene.width));
  }
  auto again = render_field_scene(scene);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(cv::norm(first->image, again->image, cv::NORM_L1), 0.0) << "the same scene gives the same pixels";

  // Another frame of the same ground: the plants keep their boxes, the pixels differ.
  scene.frame_seed = 2;
  auto later = render_field_scene(scene);
  ASSERT_TRUE(later.ok());
  EXPECT_GT(cv::norm(first->image, later->image, cv::NORM_L1), 0.0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(later->objects[size_t(i)].box.x1, first->objects[size_t(i)].box.x1);
}

TEST(FieldRenderer, NightIsDarkAndCloudsDimTheScene) {
  FieldScene scene = three_plants();
  const double day = cv::mean(render_field_scene(scene)->image)[1];
  scene.light.cloud_cover = 1;
  const double cloudy = cv::mean(render_field_scene(scene)->image)[1];
  scene.light.cloud_cover = 0;
  scene.light.sun_elevation_deg = -20;
  const double night = cv::mean(render_field_scene(scene)->image)[1];
  EXPECT_LT(cloudy, day);
  EXPECT_LT(night, 0.3 * day);
}

TEST(FieldRenderer, LeavesOutPlantsMostlyOutsideTheFrameAndRefusesBadScenes) {
  FieldScene scene = three_plants();
  scene.plants[1].x = 1.2;
  auto rendered = render_field_scene(scene);
  ASSERT_TRUE(rendered.ok());
  ASSERT_EQ(rendered->objects.size(), 2u);
  EXPECT_EQ(rendered->objects[1].plant, 2);

  scene.scenario = "mars";
  EXPECT_FALSE(render_field_scene(scene).ok());
  scene.scenario = "baseline";
  scene.plants[0].label = 7;
  EXPECT_FALSE(render_field_scene(scene).ok());
}

}  // namespace
}  // namespace canopy::vision
