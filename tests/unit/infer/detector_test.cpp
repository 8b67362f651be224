// The detector end to end on a model whose output is known exactly: a 1x1
// convolution with zero weights whose bias holds the boxes, so the
// decoding, the letterbox mapping back to the image, thresholds and NMS can
// be checked against hand-computed values. Also the `canopy infer` CLI.
#include "infer/detector.h"

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "infer/onnx_builder.h"
#include "package/package.h"
#include "test_support.h"
#include "vision/image.h"
#include "vision/image_codec.h"

namespace canopy::infer {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Writes a "yolo" model [1, 3, 5+2] for a 64x64 input whose rows are `rows`.
void write_constant_detector(const fs::path& path, const std::vector<std::vector<float>>& rows) {
  const std::int64_t n = static_cast<std::int64_t>(rows.size()), k = 7;
  Tensor bias = Tensor::allocate(DataType::kFloat32, {n * k});
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < k; ++j)
      bias.data<float>()[i * k + j] = rows[static_cast<size_t>(i)][static_cast<size_t>(j)];
  Tensor shape = Tensor::allocate(DataType::kInt64, {3});
  shape.data<std::int64_t>()[0] = 1;
  shape.data<std::int64_t>()[1] = n;
  shape.data<std::int64_t>()[2] = k;
  OnnxBuilder b(13);
  b.add_input("image", DataType::kFloat32, {1, 3, 64, 64});
  b.add_initializer("w", Tensor::allocate(DataType::kFloat32, {n * k, 3, 1, 1}));
  b.add_initializer("b", bias).add_initializer("shape", shape);
  b.add_node("GlobalAveragePool", {"image"}, {"pooled"});
  b.add_node("Conv", {"pooled", "w", "b"}, {"flat"});
  b.add_node("Reshape", {"flat", "shape"}, {"boxes"});
  b.add_output("boxes", DataType::kFloat32, {1, n, k});
  ASSERT_TRUE(b.save(path).ok());
}

package::Manifest manifest_for_two_classes() {
  package::Manifest m;
  m.name = "test";
  m.labels = {"healthy", "diseased"};
  m.input.shape = {1, 3, 64, 64};
  m.output = Json{{"decoder", "auto"}};
  m.thresholds.score = 0.3;
  m.thresholds.iou = 0.5;
  return m;
}

TEST(Detector, DecodesMapsBackAndSuppresses) {
  TempDir dir;
  // cx, cy, w, h (input pixels), objectness, class scores.
  write_constant_detector(dir / "model.onnx",
                          {{32, 32, 20, 20, 0.9f, 0.1f, 0.8f},
                           {33, 32, 20, 20, 0.8f, 0.1f, 0.7f},  // overlaps the first: suppressed
                           {10, 20, 8, 8, 0.9f, 0.95f, 0.0f},
                           {50, 50, 4, 4, 0.2f, 0.9f, 0.0f}});  // below the score threshold
  auto detector = Detector::load(dir / "model.onnx", manifest_for_two_classes(), {});
  ASSERT_TRUE(detector.ok()) << detector.error().message;
  // 128 wide, 64 high: letterboxed at scale 0.5 with 16 rows of padding above.
  cv::Mat image(64, 128, CV_8UC3, cv::Scalar(30, 120, 60));
  auto found = (*detector)->detect(image);
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_EQ(found->size(), 2u);
  // Highest score first: the class-0 box (0.9 * 0.95), then the class-1 box (0.9 * 0.8).
  const auto& first = (*found)[0];
  EXPECT_EQ(first.label, 0);
  EXPECT_NEAR(first.score, 0.855f, 1e-5);
  // Input box (6, 16)-(14, 24); the image sits 16 rows down at half scale.
  EXPECT_NEAR(first.box.x1, 12.0f, 1e-3);
  EXPECT_NEAR(first.box.y1, 0.0f, 1e-3);
  EXPECT_NEAR(first.box.x2, 28.0f, 1e-3);
  EXPECT_NEAR(first.box.y2, 16.0f, 1e-3);
  const auto& second = (*found)[1];
  EXPECT_EQ(second.label, 1);
  EXPECT_NEAR(second.score, 0.72f, 1e-5);
  // Input box (22, 22)-(42, 42).
  EXPECT_NEAR(second.box.x1, 44.0f, 1e-3);
  EXPECT_NEAR(second.box.y1, 12.0f, 1e-3);
  EXPECT_NEAR(second.box.x2, 84.0f, 1e-3);
  EXPECT_NEAR(second.box.y2, 52.0f, 1e-3);
}

TEST(Detector, RejectsAnOutputThatDoesNotFitTheLabels) {
  TempDir dir;
  write_constant_detector(dir / "model.onnx", {{1, 1, 1, 1, 1, 1, 1}});
  auto manifest = manifest_for_two_classes();
  manifest.labels = {"a", "b", "c", "d", "e", "f"};
  auto detector = Detector::load(dir / "model.onnx", manifest, {});
  ASSERT_FALSE(detector.ok());
  EXPECT_NE(detector.error().message.find("set output.decoder"), std::string::npos)
      << detector.error().message;
}

// What the field loop feeds the model (the frame decoded at its footprint
// in the input, written by the input writer) against the reference (decoded
// whole, prepare_input): the same picture, to within a few grey levels.
TEST(Detector, AFrameDecodedAtItsFootprintGivesTheInputTheWholeFrameGives) {
  cv::Mat frame(480, 640, CV_8UC3);
  for (int y = 0; y < frame.rows; ++y)
    for (int x = 0; x < frame.cols; ++x)
      frame.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uchar>(40 + x / 8), static_cast<uchar>(90 + y / 6), 120);
  for (int i = 0; i < 5; ++i)
    cv::circle(frame, {60 + 120 * i, 160 + 160 * (i % 2)}, 50, cv::Scalar(30, 180, 40 + 20 * i), cv::FILLED);
  const std::string jpeg = *vision::encode_image(frame, vision::ImageFormat::kJpeg);
  package::InputSpec spec;
  spec.shape = {1, 3, 320, 320};
  const std::size_t size = 3 * 320 * 320;

  std::vector<float> reference(size);
  const vision::Placement expected = prepare_input(spec, *vision::decode_image(jpeg), reference.data());

  vision::ImageDecoder decoder;
  const cv::Size footprint = input_footprint(spec, *decoder.size(jpeg));
  EXPECT_EQ(footprint, cv::Size(320, 240));
  const cv::Mat reduced = *decoder.decode(jpeg, footprint);
  EXPECT_EQ(reduced.size(), footprint) << "decoded at half size, nothing left to resize";
  std::vector<float> input(size);
  const vision::Placement placement = input_writer(spec).write(reduced, input.data());
  EXPECT_EQ(placement.pad_y, expected.pad_y);
  EXPECT_EQ(placement.pad_y, 40);

  double sum = 0, worst = 0;
  for (std::size_t i = 0; i < size; ++i) {
    const double d = std::fabs(double{input[i]} - reference[i]);
    sum += d;
    worst = std::max(worst, d);
  }
  EXPECT_LT(sum / size, 1.5 / 255) << "mean difference";
  EXPECT_LT(worst, 40.0 / 255) << "at the plants' edges";
  // The boxes map back into the image the model was given.
  EXPECT_FLOAT_EQ(placement.scale, 1.0f);
}

TEST(InferCommand, RunsAPackageDirectoryAndDrawsTheResult) {
  TempDir dir;
  write_constant_detector(dir / "src.onnx", {{32, 32, 20, 20, 0.9f, 0.1f, 0.8f}});
  package::InitOptions init;
  init.directory = dir / "pkg";
  init.model = dir / "src.onnx";
  init.name = "constant-detector";
  init.labels = {"healthy", "diseased"};
  init.input_shape = {1, 3, 64, 64};
  ASSERT_TRUE(package::init_package(init).ok());
  cv::Mat image(64, 64, CV_8UC3, cv::Scalar(10, 200, 10));
  ASSERT_TRUE(vision::write_image(dir / "field.jpg", image).ok());
  auto result =
      testing::run_shell(testing::canopy_binary().string() + " --json infer " + (dir / "pkg").string() + " " +
                         (dir / "field.jpg").string() + " --draw " + (dir / "drawn").string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("\"label\": \"diseased\""), std::string::npos) << result.output;
  EXPECT_TRUE(fs::exists(dir / "drawn" / "field.jpg"));

  auto broken = testing::run_shell(testing::canopy_binary().string() + " infer " + (dir / "pkg").string() +
                                   " " + (dir / "missing.jpg").string());
  EXPECT_NE(broken.exit_code, 0);
  EXPECT_NE(broken.output.find("cannot open image"), std::string::npos) << broken.output;
}

}  // namespace
}  // namespace canopy::infer
