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

}  // namespace
}  // namespace canopy::vision
