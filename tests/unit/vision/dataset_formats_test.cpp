// Dataset readers and writers on real files: round trips through each format
// and through all three in a chain, format detection, every kind of malformed
// label reported at its file and line (skipped by default, fatal in strict
// mode), and statistics on a hand-made dataset.
#include "vision/dataset_formats.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "common/files.h"
#include "common/json.h"
#include "test_support.h"
#include "vision/image.h"
#include "vision/image_codec.h"

namespace canopy::vision {
namespace {

using testing::TempDir;

void write_test_image(const fs::path& path, int width, int height) {
  fs::create_directories(path.parent_path());
  const cv::Mat image(height, width, CV_8UC3, cv::Scalar(40, 120, 60));
  ASSERT_TRUE(write_image(path, image).ok()) << path;
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  ASSERT_TRUE(write_file_atomic(path, text).ok()) << path;
}

Annotation object(int label, Box box, std::map<std::string, std::string> attributes = {}) {
  return Annotation{box, label, std::move(attributes)};
}

// Three labels; a PNG, a nested JPEG, an image without objects, a large JPEG
// (where YOLO's normalized coordinates need their digits) and a PNG with many
// boxes at awkward float coordinates.
Dataset make_dataset(const fs::path& root) {
  Dataset dataset;
  dataset.root = root;
  dataset.labels = {"healthy", "diseased", "water_stressed"};
  dataset.samples.push_back(
      {"images/a.png",
       64,
       48,
       {object(0, {1.5f, 2.25f, 30.125f, 40.75f}, {{"pose", "Unspecified"}}), object(2, {10, 5, 64, 48})}});
  dataset.samples.push_back({"images/field/b.jpg", 100, 80, {object(1, {0, 0, 12.3f, 7.7f})}});
  dataset.samples.push_back({"images/c.png", 32, 32, {}});
  dataset.samples.push_back(
      {"images/large.jpg", 3000, 2000, {object(1, {1234.567f, 987.654f, 2999.9f, 1999.1f})}});
  Sample many{"images/many.png", 640, 480, {}};
  std::mt19937 random(7);
  std::uniform_real_distribution<float> x(0, 600), y(0, 440), extent(0.1f, 40);
  for (int i = 0; i < 50; ++i) {
    const float x1 = x(random), y1 = y(random);
    many.objects.push_back(object(i % 3, {x1, y1, x1 + extent(random), y1 + extent(random)}));
  }
  dataset.samples.push_back(std::move(many));
  for (const auto& sample : dataset.samples)
    write_test_image(root / sample.image, sample.width, sample.height);
  return dataset;
}

// The image path without its layout folder (images/, JPEGImages/), which
// differs between formats.
std::string key_of(const Sample& sample) {
  return sample.image.lexically_relative(*sample.image.begin()).generic_string();
}

// Same labels, images, sizes and objects; boxes within `tolerance` pixels.
void expect_same(const Dataset& expected, const Dataset& actual, float tolerance, bool attributes) {
  EXPECT_EQ(expected.labels, actual.labels);
  ASSERT_EQ(expected.samples.size(), actual.samples.size());
  std::map<std::string, const Sample*> by_key;
  for (const auto& sample : actual.samples) by_key[key_of(sample)] = &sample;
  for (const auto& want : expected.samples) {
    SCOPED_TRACE(want.image.string());
    ASSERT_TRUE(by_key.count(key_of(want)));
    const Sample& got = *by_key[key_of(want)];
    EXPECT_TRUE(fs::is_regular_file(actual.root / got.image));
    EXPECT_EQ(want.width, got.width);
    EXPECT_EQ(want.height, got.height);
    ASSERT_EQ(want.objects.size(), got.objects.size());
    for (size_t i = 0; i < want.objects.size(); ++i) {
      const Box &w = want.objects[i].box, &g = got.objects[i].box;
      EXPECT_EQ(want.objects[i].label, got.objects[i].label) << "object " << i;
      if (tolerance == 0) {
        EXPECT_EQ(w.x1, g.x1) << "object " << i;
        EXPECT_EQ(w.y1, g.y1) << "object " << i;
        EXPECT_EQ(w.x2, g.x2) << "object " << i;
        EXPECT_EQ(w.y2, g.y2) << "object " << i;
      } else {
        EXPECT_NEAR(w.x1, g.x1, tolerance) << "object " << i;
        EXPECT_NEAR(w.y1, g.y1, tolerance) << "object " << i;
        EXPECT_NEAR(w.x2, g.x2, tolerance) << "object " << i;
        EXPECT_NEAR(w.y2, g.y2, tolerance) << "object " << i;
      }
      if (attributes) {
        EXPECT_EQ(want.objects[i].attributes, got.objects[i].attributes) << "object " << i;
      }
    }
  }
}

// Reads strictly. VOC has no label list of its own, so it is given the
// expected one to keep label indices comparable.
LoadedDataset read_clean(const fs::path& path, DatasetFormat format, const std::vector<std::string>& labels) {
  auto loaded = read_dataset(
      path, format, ReadOptions{true, format == DatasetFormat::kVoc ? labels : ReadOptions{}.labels});
  if (!loaded.ok()) ADD_FAILURE() << loaded.error().message;
  return loaded.ok() ? std::move(*loaded) : LoadedDataset{};
}

void expect_problem(const Problem& problem, const fs::path& file, int line, const std::string& fragment) {
  EXPECT_EQ(problem.file, file) << to_string(problem);
  EXPECT_EQ(problem.line, line) << to_string(problem);
  EXPECT_NE(problem.message.find(fragment), std::string::npos)
      << to_string(problem) << "\nwanted: " << fragment;
}

class RoundTrip : public ::testing::TestWithParam<DatasetFormat> {};

TEST_P(RoundTrip, PreservesLabelsSizesAndBoxes) {
  TempDir dir;
  const Dataset dataset = make_dataset(dir / "source");
  ASSERT_TRUE(write_dataset(dataset, GetParam(), dir / "out").ok());
  const LoadedDataset loaded = read_clean(dir / "out", GetParam(), dataset.labels);
  EXPECT_TRUE(loaded.problems.empty());
  // YOLO stores normalized text; COCO and VOC keep every float exactly.
  const bool yolo = GetParam() == DatasetFormat::kYolo;
  expect_same(dataset, loaded.dataset, yolo ? 1e-3f : 0.0f, !yolo);
}

INSTANTIATE_TEST_SUITE_P(Formats, RoundTrip,
                         ::testing::Values(DatasetFormat::kYolo, DatasetFormat::kCoco, DatasetFormat::kVoc,
                                           DatasetFormat::kCvat),
                         [](const auto& test) { return std::string(format_name(test.param)); });

TEST(DatasetFormats, ChainYoloCocoVocYolo) {
  TempDir dir;
  const Dataset original = make_dataset(dir / "source");
  ASSERT_TRUE(write_dataset(original, DatasetFormat::kYolo, dir / "yolo").ok());
  const auto& labels = original.labels;
  const Dataset yolo = read_clean(dir / "yolo", DatasetFormat::kYolo, labels).dataset;
  ASSERT_TRUE(write_dataset(yolo, DatasetFormat::kCoco, dir / "coco").ok());
  const Dataset coco = read_clean(dir / "coco", DatasetFormat::kCoco, labels).dataset;
  expect_same(yolo, coco, 0, true);
  ASSERT_TRUE(write_dataset(coco, DatasetFormat::kVoc, dir / "voc").ok());
  const Dataset voc = read_clean(dir / "voc", DatasetFormat::kVoc, labels).dataset;
  expect_same(coco, voc, 0, true);
  ASSERT_TRUE(write_dataset(voc, DatasetFormat::kYolo, dir / "yolo2").ok());
  expect_same(original, read_clean(dir / "yolo2", DatasetFormat::kYolo, labels).dataset, 1e-3f, false);
}

TEST(DatasetFormats, WriterLinksImagesAndSkipsEmptyLabelFiles) {
  TempDir dir;
  const Dataset dataset = make_dataset(dir / "source");
  ASSERT_TRUE(write_dataset(dataset, DatasetFormat::kYolo, dir / "out").ok());
  EXPECT_EQ(fs::hard_link_count(dir / "out" / "images" / "a.png"), 2u)
      << "same filesystem: hard link, not a copy";
  EXPECT_TRUE(fs::exists(dir / "out" / "labels" / "field" / "b.txt"));
  EXPECT_FALSE(fs::exists(dir / "out" / "labels" / "c.txt")) << "no label file means no objects";
}

TEST(DatasetFormats, WriterRefusesNonEmptyOutputAndCollisions) {
  TempDir dir;
  Dataset dataset = make_dataset(dir / "source");
  write_text(dir / "busy" / "old.txt", "x");
  auto busy = write_dataset(dataset, DatasetFormat::kCoco, dir / "busy");
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, ErrorCode::kAlreadyExists);

  write_test_image(dir / "source" / "a.png", 64, 48);
  dataset.samples.push_back({"a.png", 64, 48, {}});  // lands on images/a.png like images/a.png
  auto collision = write_dataset(dataset, DatasetFormat::kVoc, dir / "voc");
  ASSERT_FALSE(collision.ok());
  EXPECT_EQ(collision.error().code, ErrorCode::kConflict);

  dataset.samples.pop_back();
  dataset.samples[0].objects[0].label = 3;
  auto bad_label = write_dataset(dataset, DatasetFormat::kYolo, dir / "yolo");
  ASSERT_FALSE(bad_label.ok());
  EXPECT_NE(bad_label.error().message.find("label 3"), std::string::npos) << bad_label.error().message;
}

TEST(DatasetFormats, DetectsEachLayout) {
  TempDir dir;
  const Dataset dataset = make_dataset(dir / "source");
  for (auto format : {DatasetFormat::kYolo, DatasetFormat::kCoco, DatasetFormat::kVoc}) {
    const fs::path out = dir / std::string(format_name(format));
    ASSERT_TRUE(write_dataset(dataset, format, out).ok());
    auto detected = detect_format(out);
    ASSERT_TRUE(detected.ok()) << detected.error().message;
    EXPECT_EQ(*detected, format);
  }
  EXPECT_EQ(*detect_format(dir / "coco" / "annotations.json"), DatasetFormat::kCoco);
  EXPECT_EQ(*detect_format(dir / "yolo" / "data.yaml"), DatasetFormat::kYolo);

  // A COCO file under another name (Roboflow's) is found by its content.
  fs::rename(dir / "coco" / "annotations.json", dir / "coco" / "_annotations.coco.json");
  EXPECT_EQ(*detect_format(dir / "coco"), DatasetFormat::kCoco);

  fs::create_directories(dir / "empty");
  EXPECT_EQ(detect_format(dir / "empty").error().code, ErrorCode::kNotFound);
  fs::create_directories(dir / "yolo" / "Annotations");
  auto ambiguous = detect_format(dir / "yolo");
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_NE(ambiguous.error().message.find("both yolo and voc"), std::string::npos)
      << ambiguous.error().message;
}

// A YOLO dataset with one bad label line per kind of fault and an image that
// is not an image.
fs::path make_bad_yolo(const TempDir& dir) {
  const fs::path root = dir / "yolo";
  write_text(root / "data.yaml", "names:\n  0: leaf\n  1: rust\n");
  write_test_image(root / "images" / "one.png", 100, 100);
  write_text(root / "labels" / "one.txt",
             "0 0.5 0.5 0.2 0.2\n"        // 1: fine
             "1 0.5 abc 0.2 0.2\n"        // 2: bad number
             "0 0.5 0.5 0.2\n"            // 3: wrong field count
             "0 1.5 0.5 0.2 0.2\n"        // 4: outside the image
             "5 0.5 0.5 0.2 0.2\n"        // 5: unknown class
             "0 0.5 0.5 0 0.2\n"          // 6: zero width
             "\n"                         // 7: blank, ignored
             "1 0.995 0.5 0.02 0.2\n"     // 8: half a pixel out: clipped
             "0 1.004 0.5 0.006 0.2\n");  // 9: wholly in the 1 px margin: outside
  write_text(root / "images" / "two.png", "this is not a PNG");
  return root;
}

TEST(DatasetFormats, YoloProblemsAreSkippedAndCounted) {
  TempDir dir;
  const fs::path root = make_bad_yolo(dir);
  auto loaded = read_dataset(root, DatasetFormat::kYolo);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const fs::path labels = root / "labels" / "one.txt";
  ASSERT_EQ(loaded->problems.size(), 7u);
  expect_problem(loaded->problems[0], labels, 2, "'abc' is not a number");
  expect_problem(loaded->problems[1], labels, 3, "expected 5 fields");
  expect_problem(loaded->problems[2], labels, 4, "outside the 100x100 image");
  expect_problem(loaded->problems[3], labels, 5, "unknown class 5");
  expect_problem(loaded->problems[4], labels, 6, "zero or negative size");
  expect_problem(loaded->problems[5], labels, 9, "outside the 100x100 image");
  expect_problem(loaded->problems[6], root / "images" / "two.png", 0, "not a readable image");
  EXPECT_EQ(loaded->skipped_objects, 6u);
  EXPECT_EQ(loaded->skipped_images, 1u);
  ASSERT_EQ(loaded->dataset.samples.size(), 1u);
  const auto& objects = loaded->dataset.samples[0].objects;
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_FLOAT_EQ(objects[0].box.x1, 40);
  EXPECT_FLOAT_EQ(objects[1].box.x2, 100) << "clipped to the image";
  EXPECT_EQ(loaded->dataset.labels, (std::vector<std::string>{"leaf", "rust"}));
}

TEST(DatasetFormats, StrictModeFailsAtTheFirstProblem) {
  TempDir dir;
  const fs::path root = make_bad_yolo(dir);
  auto loaded = read_dataset(root, DatasetFormat::kYolo, ReadOptions{true, {}});
  ASSERT_FALSE(loaded.ok());
  const std::string& message = loaded.error().message;
  EXPECT_EQ(message.rfind((root / "labels" / "one.txt").string() + ":2: ", 0), 0u) << message;
  EXPECT_NE(message.find("(and 6 more problems)"), std::string::npos) << message;
}

TEST(DatasetFormats, YoloListFileNamesMissingImageByLine) {
  TempDir dir;
  const fs::path root = dir / "yolo";
  write_text(root / "data.yaml", "names: [leaf]\ntrain: train.txt\nval: images/val\n");
  write_test_image(root / "images" / "one.png", 10, 10);
  write_text(root / "train.txt", "./images/one.png\nimages/missing.png\n");
  auto loaded = read_dataset(root, DatasetFormat::kYolo);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->problems.size(), 2u);
  expect_problem(loaded->problems[0], root / "train.txt", 2, "missing.png not found");
  expect_problem(loaded->problems[1], root / "data.yaml", 3, "val: ");
  EXPECT_EQ(loaded->skipped_images, 1u);
  ASSERT_EQ(loaded->dataset.samples.size(), 1u);
  EXPECT_EQ(loaded->dataset.samples[0].image, "images/one.png");
}

TEST(DatasetFormats, BrokenDataYamlIsAnErrorWithItsLine) {
  TempDir dir;
  write_text(dir / "yolo" / "data.yaml", "names: [a, b\ntrain: images\n");
  auto loaded = read_dataset(dir / "yolo", DatasetFormat::kYolo);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find((dir / "yolo" / "data.yaml").string() + ":"), std::string::npos)
      << loaded.error().message;
}

TEST(DatasetFormats, CocoProblemsNameTheAnnotation) {
  TempDir dir;
  const fs::path root = dir / "coco";
  write_test_image(root / "images" / "one.png", 100, 100);
  write_text(root / "annotations.json", R"({
    "categories": [{"id": 1, "name": "leaf"}, {"id": 7, "name": "rust"}],
    "images": [{"id": 1, "file_name": "one.png", "width": 100, "height": 100},
               {"id": 2, "file_name": "nothere.png", "width": 10, "height": 10}],
    "annotations": [
      {"id": 10, "image_id": 1, "category_id": 7, "bbox": [10, 20, 30.5, 40]},
      {"id": 11, "image_id": 1, "category_id": 1, "bbox": ["x", 20, 30, 40]},
      {"id": 12, "image_id": 1, "category_id": 1, "bbox": [10, 20, 30]},
      {"id": 13, "image_id": 1, "category_id": 1, "bbox": [90, 20, 30, 40]},
      {"id": 14, "image_id": 1, "category_id": 3, "bbox": [10, 20, 30, 40]},
      {"id": 15, "image_id": 2, "category_id": 1, "bbox": [1, 1, 2, 2]},
      {"id": 16, "image_id": 99, "category_id": 1, "bbox": [1, 1, 2, 2]}
    ]})");
  auto loaded = read_dataset(root, DatasetFormat::kCoco);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const fs::path json = root / "annotations.json";
  ASSERT_EQ(loaded->problems.size(), 6u);
  expect_problem(loaded->problems[0], json, 0, "image id 2: image nothere.png not found");
  expect_problem(loaded->problems[1], json, 0, "annotation id 11: bbox must be 4 numbers");
  expect_problem(loaded->problems[2], json, 0, "annotation id 12: bbox must be 4 numbers");
  expect_problem(loaded->problems[3], json, 0, "annotation id 13: box [90, 20, 120, 60] lies outside");
  expect_problem(loaded->problems[4], json, 0, "annotation id 14: unknown category_id 3");
  expect_problem(loaded->problems[5], json, 0, "annotation id 16: unknown image_id 99");
  EXPECT_EQ(loaded->skipped_images, 1u);
  EXPECT_EQ(loaded->skipped_objects, 5u)
      << "annotation 15 belongs to the skipped image and is not counted again";
  EXPECT_EQ(loaded->dataset.labels, (std::vector<std::string>{"leaf", "rust"}));
  ASSERT_EQ(loaded->dataset.samples.size(), 1u);
  EXPECT_EQ(loaded->dataset.samples[0].image, "images/one.png");
  ASSERT_EQ(loaded->dataset.samples[0].objects.size(), 1u);
  EXPECT_EQ(loaded->dataset.samples[0].objects[0].label, 1);
  EXPECT_EQ(loaded->dataset.samples[0].objects[0].box.x2, 40.5f);
}

TEST(DatasetFormats, BrokenJsonIsAnErrorWithItsLine) {
  TempDir dir;
  write_text(dir / "coco" / "annotations.json", "{\n  \"images\": [\n    {\"id\": 1,, }\n  ]\n}\n");
  for (bool strict : {false, true}) {
    auto loaded = read_dataset(dir / "coco", DatasetFormat::kCoco, ReadOptions{strict, {}});
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(
        loaded.error().message.rfind((dir / "coco" / "annotations.json").string() + ":3: invalid JSON", 0),
        0u)
        << loaded.error().message;
  }
}

TEST(DatasetFormats, AJsonNumberPastADoubleIsAnErrorNotAnException) {
  TempDir dir;
  write_text(dir / "tasks.json", R"([{"id": 1e999}])");
  auto loaded = read_dataset(dir.path(), DatasetFormat::kLabelStudio);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("number out of range"), std::string::npos) << loaded.error().message;
}

// Annotations/: a valid file with three bad objects, one that is not
// well-formed XML, and one whose image is missing.
fs::path make_bad_voc(const TempDir& dir) {
  const fs::path root = dir / "voc";
  write_test_image(root / "JPEGImages" / "one.png", 100, 100);
  write_text(
      root / "Annotations" / "one.xml",
      "<annotation>\n"
      "  <filename>one.png</filename>\n"
      "  <size><width>100</width><height>100</height><depth>3</depth></size>\n"
      "  <object><name>leaf</name><difficult>0</difficult>"
      "<bndbox><xmin>10</xmin><ymin>10</ymin><xmax>50.5</xmax><ymax>50</ymax></bndbox></object>\n"
      "  <object><name>rust</name>\n"
      "    <bndbox><xmin>abc</xmin><ymin>10</ymin><xmax>50</xmax><ymax>50</ymax></bndbox></object>\n"
      "  <object><name>rust</name><bndbox><xmin>10</xmin><ymin>10</ymin><xmax>150</xmax><ymax>50</ymax>"
      "</bndbox></object>\n"
      "  <object><name>blight</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax>"
      "</bndbox></object>\n"
      "</annotation>\n");
  write_text(root / "Annotations" / "broken.xml",
             "<annotation>\n  <filename>one.png</filename>\n  <object>\n</annotation>\n");
  write_text(
      root / "Annotations" / "nothere.xml",
      "<annotation>\n  <folder>JPEGImages</folder>\n  <filename>missing.png</filename>\n</annotation>\n");
  return root;
}

TEST(DatasetFormats, VocProblemsCarryLines) {
  TempDir dir;
  const fs::path root = make_bad_voc(dir);
  const fs::path annotations = root / "Annotations";
  auto loaded = read_dataset(root, DatasetFormat::kVoc);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->problems.size(), 4u);
  expect_problem(loaded->problems[0], annotations / "broken.xml", 4, "invalid XML");
  expect_problem(loaded->problems[1], annotations / "nothere.xml", 3, "image 'missing.png' not found");
  expect_problem(loaded->problems[2], annotations / "one.xml", 6, "object #2: <xmin> 'abc' is not a number");
  expect_problem(loaded->problems[3], annotations / "one.xml", 7, "object #3: (rust) box");
  EXPECT_EQ(loaded->skipped_images, 2u);
  EXPECT_EQ(loaded->skipped_objects, 2u);
  // Labels are the names of the objects kept, sorted.
  EXPECT_EQ(loaded->dataset.labels, (std::vector<std::string>{"blight", "leaf"}));
  ASSERT_EQ(loaded->dataset.samples.size(), 1u);
  const Sample& sample = loaded->dataset.samples[0];
  EXPECT_EQ(sample.image, "JPEGImages/one.png");
  ASSERT_EQ(sample.objects.size(), 2u);
  EXPECT_EQ(sample.objects[0].label, 1);
  EXPECT_EQ(sample.objects[0].box.x2, 50.5f);
  EXPECT_EQ(sample.objects[0].attributes.at("difficult"), "0");
}

TEST(DatasetFormats, VocWithLabelListRejectsOtherNames) {
  TempDir dir;
  const fs::path root = make_bad_voc(dir);
  auto loaded = read_dataset(root, DatasetFormat::kVoc, ReadOptions{false, {"rust", "leaf"}});
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->problems.size(), 5u);
  expect_problem(loaded->problems[4], root / "Annotations" / "one.xml", 8,
                 "object #4: class 'blight' is not in the label list");
  EXPECT_EQ(loaded->dataset.labels, (std::vector<std::string>{"rust", "leaf"}));
  EXPECT_EQ(loaded->dataset.samples[0].objects.at(0).label, 1);

  auto strict = read_dataset(root, DatasetFormat::kVoc, ReadOptions{true, {"rust", "leaf"}});
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.error().message.rfind((root / "Annotations" / "broken.xml").string() + ":4: ", 0), 0u)
      << strict.error().message;
}

TEST(DatasetFormats, LabelListIsForVocOnly) {
  TempDir dir;
  const fs::path root = make_bad_yolo(dir);
  EXPECT_EQ(read_dataset(root, DatasetFormat::kYolo, ReadOptions{false, {"a"}}).error().code,
            ErrorCode::kInvalidArgument);
}

// A JPEG whose EXIF block says its pixels are stored turned: `orientation`
// (6: turn 90 degrees clockwise to stand upright), as phones write them.
std::string jpeg_with_orientation(int width, int height, int orientation) {
  const cv::Mat image(height, width, CV_8UC3, cv::Scalar(40, 120, 60));
  std::string jpeg = encode_image(image, ImageFormat::kJpeg, 90).value();
  const std::string tiff = std::string("II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0", 18) +
                           std::string(1, static_cast<char>(orientation)) + std::string("\0\0\0\0\0\0\0", 7);
  const std::string payload = std::string("Exif\0\0", 6) + tiff;
  const std::size_t length = payload.size() + 2;
  const std::string segment = std::string("\xFF\xE1", 2) + static_cast<char>(length >> 8) +
                              static_cast<char>(length & 0xFF) + payload;
  return jpeg.substr(0, 2) + segment + jpeg.substr(2);
}

TEST(DatasetFormats, LabelStudioRoundTripKeepsEveryBoxByClass) {
  TempDir dir;
  const Dataset dataset = make_dataset(dir / "source");
  ASSERT_TRUE(write_dataset(dataset, DatasetFormat::kLabelStudio, dir / "out").ok());
  EXPECT_EQ(detect_format(dir / "out").value(), DatasetFormat::kLabelStudio);
  EXPECT_EQ(detect_format(dir / "out" / "tasks.json").value(), DatasetFormat::kLabelStudio);
  const LoadedDataset loaded = read_clean(dir / "out", DatasetFormat::kLabelStudio, {});
  // Label Studio's export names classes, it does not order them: they come back sorted.
  EXPECT_EQ(loaded.dataset.labels, (std::vector<std::string>{"diseased", "healthy", "water_stressed"}));
  Dataset renamed = dataset;
  renamed.labels = loaded.dataset.labels;
  for (auto& sample : renamed.samples)
    for (auto& o : sample.objects) o.label = o.label == 0 ? 1 : o.label == 1 ? 0 : 2;
  // Percentages of the image: a thousandth of a pixel on a 3000-pixel image.
  expect_same(renamed, loaded.dataset, 2e-3f, false);
}

TEST(DatasetFormats, LabelStudioProblemsNameTheTaskAndResult) {
  TempDir dir;
  write_test_image(dir / "images" / "a.png", 100, 50);
  const Json tasks = Json::parse(R"([
    {"id": 7, "data": {"image": "/data/local-files/?d=images/a.png"},
     "annotations": [{"result": [
       {"type": "rectanglelabels", "value": {"x": 10, "y": 20, "width": 30, "height": 40, "rectanglelabels": ["diseased"]}},
       {"type": "rectanglelabels", "value": {"x": 10, "y": 20, "width": 30, "rectanglelabels": ["diseased"]}},
       {"type": "rectanglelabels", "value": {"x": 10, "y": 20, "width": 30, "height": 40, "rotation": 15, "rectanglelabels": ["healthy"]}},
       {"type": "choices", "value": {"choices": ["sunny"]}}]}]},
    {"id": 8, "data": {"image": "/data/upload/1/missing.jpg"}, "annotations": [{"result": []}]},
    {"id": 9, "data": {"image": "images/a.png"}, "annotations": []}
  ])");
  write_text(dir / "tasks.json", tasks.dump());
  auto loaded = read_dataset(dir.path(), DatasetFormat::kLabelStudio);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->dataset.samples.size(), 1u);
  ASSERT_EQ(loaded->dataset.samples[0].objects.size(), 1u);
  const Box box = loaded->dataset.samples[0].objects[0].box;
  EXPECT_FLOAT_EQ(box.x1, 10);
  EXPECT_FLOAT_EQ(box.y1, 10);
  EXPECT_FLOAT_EQ(box.x2, 40);
  EXPECT_FLOAT_EQ(box.y2, 30);
  ASSERT_EQ(loaded->problems.size(), 3u);
  expect_problem(loaded->problems[0], dir / "tasks.json", 0,
                 "task id 7, result 1: value.height must be a number");
  expect_problem(loaded->problems[1], dir / "tasks.json", 0, "task id 7, result 2: a rotated box");
  expect_problem(loaded->problems[2], dir / "tasks.json", 0,
                 "task id 8: image /data/upload/1/missing.jpg not found");
  EXPECT_EQ(loaded->skipped_images, 2u) << "the missing image, and the task nobody labeled";

  auto strict = read_dataset(dir.path(), DatasetFormat::kLabelStudio, ReadOptions{true, {}});
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.error().message.find("tasks.json: task id 7, result 1"), std::string::npos)
      << strict.error().message;
}

TEST(DatasetFormats, CvatProblemsCarryLines) {
  TempDir dir;
  write_test_image(dir / "images" / "a.png", 100, 50);
  write_text(dir / "annotations.xml", R"(<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><labels><label><name>healthy</name></label><label><name>diseased</name></label></labels></task></meta>
  <image id="0" name="images/a.png" width="100" height="50">
    <box label="diseased" xtl="10" ytl="5" xbr="40" ybr="45"><attribute name="disease_type">rust</attribute></box>
    <box label="weed" xtl="1" ytl="1" xbr="5" ybr="5"/>
    <box label="healthy" xtl="10" ytl="5" xbr="400" ybr="45"/>
    <polygon label="healthy" points="1,1;2,2;3,1"/>
  </image>
  <image id="1" name="images/b.png" width="10" height="10"/>
</annotations>
)");
  auto loaded = read_dataset(dir.path(), DatasetFormat::kCvat);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->dataset.labels, (std::vector<std::string>{"healthy", "diseased"}));
  ASSERT_EQ(loaded->dataset.samples.size(), 1u);
  ASSERT_EQ(loaded->dataset.samples[0].objects.size(), 1u);
  EXPECT_EQ(loaded->dataset.samples[0].objects[0].label, 1);
  EXPECT_EQ(loaded->dataset.samples[0].objects[0].attributes.at("disease_type"), "rust");
  ASSERT_EQ(loaded->problems.size(), 3u);
  expect_problem(loaded->problems[0], dir / "annotations.xml", 7, "label 'weed' is not in the file's labels");
  expect_problem(loaded->problems[1], dir / "annotations.xml", 8, "lies outside the 100x50 image");
  expect_problem(loaded->problems[2], dir / "annotations.xml", 11, "image images/b.png not found");

  write_text(dir / "broken" / "annotations.xml", "<annotations>\n<image name='a.png'>\n</annotations>\n");
  auto broken = read_dataset(dir / "broken", DatasetFormat::kCvat);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find("annotations.xml:3"), std::string::npos) << broken.error().message;
}

TEST(DatasetFormats, BoxesAreOnTheUprightImageOfAnExifTurnedJpeg) {
  TempDir dir;
  // Stored 80 wide and 40 tall, to be turned 90 degrees clockwise: 40 wide and 80 tall upright.
  const std::string jpeg = jpeg_with_orientation(80, 40, 6);
  EXPECT_EQ(jpeg_orientation(jpeg), 6);
  EXPECT_EQ(jpeg_orientation(encode_image(cv::Mat(4, 4, CV_8UC3), ImageFormat::kJpeg).value()), 1);
  write_text(dir / "src" / "images" / "phone.jpg", jpeg);
  EXPECT_EQ(read_image_size(dir / "src" / "images" / "phone.jpg").value(), cv::Size(40, 80));
  const cv::Mat upright = read_image(dir / "src" / "images" / "phone.jpg").value();
  EXPECT_EQ(upright.cols, 40);
  EXPECT_EQ(upright.rows, 80);

  // A labeling tool's box on the upright image (the lower half) is inside it, and stays there through a
  // conversion.
  const Json tasks = Json::array({{{"id", 1},
                                   {"data", {{"image", "images/phone.jpg"}}},
                                   {"annotations",
                                    {{{"result",
                                       {{{"type", "rectanglelabels"},
                                         {"value",
                                          {{"x", 0},
                                           {"y", 50},
                                           {"width", 100},
                                           {"height", 50},
                                           {"rectanglelabels", {"diseased"}}}}}}}}}}}});
  write_text(dir / "src" / "tasks.json", tasks.dump());
  const LoadedDataset loaded = read_clean(dir / "src", DatasetFormat::kLabelStudio, {});
  ASSERT_EQ(loaded.dataset.samples.size(), 1u);
  EXPECT_EQ(loaded.dataset.samples[0].width, 40);
  EXPECT_EQ(loaded.dataset.samples[0].height, 80);
  EXPECT_FLOAT_EQ(loaded.dataset.samples[0].objects[0].box.y1, 40);
  ASSERT_TRUE(write_dataset(loaded.dataset, DatasetFormat::kYolo, dir / "yolo").ok());
  const LoadedDataset yolo = read_clean(dir / "yolo", DatasetFormat::kYolo, {});
  EXPECT_EQ(yolo.dataset.samples[0].width, 40);
  EXPECT_FLOAT_EQ(yolo.dataset.samples[0].objects[0].box.y2, 80);
}

TEST(DatasetStats, CountsByHand) {
  Dataset dataset;
  dataset.labels = {"a", "b", "c"};
  dataset.samples.push_back({"1.png", 100, 50, {object(0, {0, 0, 10, 10}), object(1, {0, 0, 40, 40})}});
  dataset.samples.push_back({"2.png", 100, 50, {object(0, {0, 0, 100, 97}), object(2, {5, 5, 25, 25})}});
  dataset.samples.push_back({"3.png", 200, 100, {}});
  const DatasetStats stats = compute_stats(dataset);
  EXPECT_EQ(stats.images, 3u);
  EXPECT_EQ(stats.objects, 4u);
  EXPECT_EQ(stats.images_without_objects, 1u);
  ASSERT_EQ(stats.classes.size(), 3u);
  EXPECT_EQ(stats.classes[0].label, "a");
  EXPECT_EQ(stats.classes[0].objects, 2u);
  EXPECT_EQ(stats.classes[0].images, 2u);
  EXPECT_EQ(stats.classes[1].objects, 1u);
  EXPECT_EQ(stats.classes[2].images, 1u);
  // widths 10, 20, 40, 100; heights 10, 20, 40, 97; areas 100, 400, 1600, 9700
  EXPECT_DOUBLE_EQ(stats.box_width_px.min, 10);
  EXPECT_DOUBLE_EQ(stats.box_width_px.median, 30);
  EXPECT_DOUBLE_EQ(stats.box_width_px.max, 100);
  EXPECT_DOUBLE_EQ(stats.box_height_px.max, 97);
  EXPECT_DOUBLE_EQ(stats.box_area_px2.median, 1000);
  EXPECT_EQ(stats.small_objects, 2u);   // 100, 400 < 32²
  EXPECT_EQ(stats.medium_objects, 1u);  // 1600
  EXPECT_EQ(stats.large_objects, 1u);   // 9700 > 96²
  ASSERT_EQ(stats.image_sizes.size(), 2u);
  EXPECT_EQ(stats.image_sizes[0].width, 100);
  EXPECT_EQ(stats.image_sizes[0].images, 2u);
  EXPECT_EQ(stats.image_sizes[1].height, 100);

  const Json json = stats_to_json(stats);
  EXPECT_EQ(json["objects"], 4);
  EXPECT_EQ(json["classes"][0]["objects"], 2);
  EXPECT_EQ(json["box_sizes"]["small"], 2);
  EXPECT_EQ(json["box_area_px2"]["max"], 9700.0);
  EXPECT_EQ(json["image_sizes"][0]["images"], 2);
}

TEST(DatasetStats, EmptyDatasetIsAllZero) {
  const DatasetStats stats = compute_stats(Dataset{});
  EXPECT_EQ(stats.images, 0u);
  EXPECT_EQ(stats.box_width_px.median, 0);
  EXPECT_TRUE(stats.image_sizes.empty());
}

}  // namespace
}  // namespace canopy::vision
