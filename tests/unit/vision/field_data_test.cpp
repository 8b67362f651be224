// The synthetic field renderer, training augmentation and hash-stable splits.
#include <gtest/gtest.h>

#include <fstream>

#include "common/json.h"
#include "test_support.h"
#include "vision/augment.h"
#include "vision/dataset_formats.h"
#include "vision/dataset_split.h"
#include "vision/field_renderer.h"

namespace canopy::vision {
namespace {

using testing::TempDir;

Status generate(const std::filesystem::path& out, int images, std::uint64_t seed, const std::string& scenario = "baseline") {
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
  EXPECT_NE(testing::read_bytes(dir / "a/images/000000.jpg"), testing::read_bytes(dir / "c/images/000000.jpg"));
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
  for (const char* known : {"leaf_spot", "mildew", "rust", "blight"}) EXPECT_FALSE(has(drift, known)) << known;
  EXPECT_TRUE(has(drift, "mosaic") || has(drift, "downy_spot"));
  EXPECT_TRUE(has(base, "leaf_spot") || has(base, "rust") || has(base, "mildew") || has(base, "blight"));

  auto unknown = generate(dir / "x", 1, 1, "mars");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("mars"), std::string::npos);
}

LabeledImage test_image() {
  LabeledImage item;
  item.image = cv::Mat(200, 400, CV_8UC3, cv::Scalar(10, 20, 30));
  item.boxes = {{100, 50, 140, 90}, {300, 100, 380, 180}};
  item.labels = {0, 2};
  return item;
}

TEST(Augment, NoneIsAPlainLetterbox) {
  std::mt19937_64 random(1);
  const LabeledImage placed = augment(test_image(), 320, AugmentOptions::none(), random);
  ASSERT_EQ(placed.image.size(), cv::Size(320, 320));
  // Scale 0.8, padded by (320 - 160) / 2 = 80 vertically.
  ASSERT_EQ(placed.boxes.size(), 2u);
  EXPECT_NEAR(placed.boxes[0].x1, 80, 1e-3);
  EXPECT_NEAR(placed.boxes[0].y1, 120, 1e-3);
  EXPECT_NEAR(placed.boxes[1].x2, 304, 1e-3);
  EXPECT_NEAR(placed.boxes[1].y2, 224, 1e-3);
  EXPECT_EQ(placed.labels, (std::vector<int>{0, 2}));
  EXPECT_EQ(placed.image.at<cv::Vec3b>(0, 0), cv::Vec3b(114, 114, 114));
}

TEST(Augment, FlipsMoveBoxesWithThePixels) {
  AugmentOptions flip = AugmentOptions::none();
  flip.flip_horizontal = 1;
  LabeledImage source = test_image();
  source.image(cv::Rect(100, 50, 40, 40)).setTo(cv::Scalar(255, 255, 255));
  std::mt19937_64 random(1);
  const LabeledImage flipped = augment(source, 320, flip, random);
  const Box& b = flipped.boxes[0];
  EXPECT_NEAR(b.x1, 320 - 80 - 32, 1e-3);
  // The white square is where the box says.
  EXPECT_EQ(flipped.image.at<cv::Vec3b>(int((b.y1 + b.y2) / 2), int((b.x1 + b.x2) / 2)), cv::Vec3b(255, 255, 255));
}

TEST(Augment, EveryAugmentationKeepsBoxesInsideTheImage) {
  AugmentOptions all;
  all.mosaic = 0.5;
  all.blur = all.noise = 0.5;
  std::mt19937_64 random(9);
  for (int i = 0; i < 200; ++i) {
    const LabeledImage out = augment(test_image(), 160, all, random, [] { return test_image(); });
    ASSERT_EQ(out.image.size(), cv::Size(160, 160));
    ASSERT_EQ(out.boxes.size(), out.labels.size());
    for (const Box& b : out.boxes) {
      EXPECT_GE(b.x1, 0);
      EXPECT_GE(b.y1, 0);
      EXPECT_LE(b.x2, 160);
      EXPECT_LE(b.y2, 160);
      EXPECT_GE(b.width(), 3);
    }
  }
}

TEST(Split, FollowsTheHashAndStaysPutWhenImagesAreAdded) {
  EXPECT_EQ(split_for_hash("00000000ffff", 0.1), "val");
  EXPECT_EQ(split_for_hash("19999999", 0.1), "val");
  EXPECT_EQ(split_for_hash("1a000000", 0.1), "train");
  EXPECT_EQ(split_for_hash("1a000000", 0.1, 0.1), "test");
  EXPECT_EQ(split_for_hash("ffffffff", 0.1, 0.1), "train");

  TempDir dir;
  ASSERT_TRUE(generate(dir / "small", 20, 4).ok());
  ASSERT_TRUE(generate(dir / "large", 40, 4).ok());  // the same 20 first images, and 20 more
  auto small = read_dataset(dir / "small", DatasetFormat::kYolo);
  auto large = read_dataset(dir / "large", DatasetFormat::kYolo);
  ASSERT_TRUE(small.ok() && large.ok());
  auto a = split_dataset(small->dataset, 0.3);
  auto b = split_dataset(large->dataset, 0.3);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->train.samples.size() + a->val.samples.size(), 20u);
  for (const Sample& sample : a->val.samples) {
    bool still_val = false;
    for (const Sample& other : b->val.samples) still_val |= other.image == sample.image;
    EXPECT_TRUE(still_val) << sample.image << " moved out of validation";
  }
}

}  // namespace
}  // namespace canopy::vision
