// A small field the test controls, for the field loop: frames of plants at
// fixed places in a 4×4 grid (green healthy, brown diseased, yellow water-
// stressed) on soil, under changing light and noise; and a real detector
// package that finds them. The detector is an ONNX model built here: it
// averages the colour of each grid cell (AveragePool), scores the three
// classes from it (a 1×1 Conv and a Sigmoid) and reports one box per cell
// ("yolov8-rows"), so it sees what is in the frame, light and noise
// included, like a trained model would, without training one.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <utility>

#include "agent/active_model.h"
#include "common/files.h"
#include "infer/engine.h"
#include "infer/onnx_builder.h"
#include "package/manifest.h"
#include "vision/image_codec.h"

namespace canopy::testing {

enum class Leaf { kHealthy, kDiseased, kStressed };

constexpr int kGrid = 4;         // cells per side
constexpr int kModelSide = 64;   // the model's input
constexpr int kFrameSide = 256;  // rendered frames

// Writes model.onnx and canopy.json of the cell detector into `dir`.
// `healthy_bias` lower than -2 makes a model that finds healthy plants less
// often: another version of the detector, to disagree with this one.
inline void build_cell_detector(const std::filesystem::path& dir, float healthy_bias = -2) {
  using infer::DataType;
  using infer::Tensor;
  std::filesystem::create_directories(dir);
  const int cell = kModelSide / kGrid;
  // Logits from a cell's mean RGB (0..1): healthy is green, diseased brown, stressed yellow; soil is none.
  const float weights[3][3] = {{-12, 12, 0}, {20, -20, 0}, {14, 14, -20}};
  const float biases[3] = {healthy_bias, -3, -12};
  Tensor w = Tensor::allocate(DataType::kFloat32, {3, 3, 1, 1});
  Tensor b = Tensor::allocate(DataType::kFloat32, {3});
  for (int o = 0; o < 3; ++o) {
    b.data<float>()[o] = biases[o];
    for (int i = 0; i < 3; ++i) w.data<float>()[o * 3 + i] = weights[o][i];
  }
  Tensor boxes = Tensor::allocate(DataType::kFloat32, {1, kGrid * kGrid, 4});
  for (int row = 0; row < kGrid; ++row)
    for (int col = 0; col < kGrid; ++col) {
      float* box = boxes.data<float>() + (row * kGrid + col) * 4;
      box[0] = (col + 0.5f) * cell;
      box[1] = (row + 0.5f) * cell;
      box[2] = box[3] = 0.8f * cell;
    }
  Tensor shape = Tensor::allocate(DataType::kInt64, {3});
  shape.data<std::int64_t>()[0] = 1;
  shape.data<std::int64_t>()[1] = 3;
  shape.data<std::int64_t>()[2] = kGrid * kGrid;
  infer::OnnxBuilder builder(13);
  builder.add_input("images", DataType::kFloat32, {1, 3, kModelSide, kModelSide})
      .add_initializer("w", w)
      .add_initializer("b", b)
      .add_initializer("boxes", boxes)
      .add_initializer("shape", shape);
  builder.add_node(
      "AveragePool", {"images"}, {"cells"},
      {infer::attr_ints("kernel_shape", {cell, cell}), infer::attr_ints("strides", {cell, cell})});
  builder.add_node("Conv", {"cells", "w", "b"}, {"logits"});
  builder.add_node("Sigmoid", {"logits"}, {"scores"});
  builder.add_node("Reshape", {"scores", "shape"}, {"flat"});
  builder.add_node("Transpose", {"flat"}, {"rows"}, {infer::attr_ints("perm", {0, 2, 1})});
  builder.add_node("Concat", {"boxes", "rows"}, {"output"}, {infer::attr_int("axis", 2)});
  builder.add_output("output", DataType::kFloat32, {1, kGrid * kGrid, 7});
  ASSERT_TRUE(builder.save(dir / "model.onnx").ok());

  package::Manifest manifest;
  manifest.name = "cell-detector";
  manifest.task = "detection";
  manifest.labels = {"healthy", "diseased", "water_stressed"};
  manifest.input.shape = {1, 3, kModelSide, kModelSide};
  manifest.input.resize = "stretch";
  manifest.output = {{"decoder", "yolov8-rows"}};
  manifest.thresholds.score = 0.5;
  manifest.files.push_back({"model.onnx", std::string(64, '0'), 0, "model"});
  ASSERT_TRUE(write_file_atomic(dir / "canopy.json", package::serialize_manifest(manifest)).ok());
}

// The cell detector loaded as the device's active model.
inline std::shared_ptr<const agent::LoadedModel> load_cell_detector(const std::filesystem::path& dir) {
  auto model = std::make_shared<agent::LoadedModel>();
  model->directory = dir;
  model->ref.model = {"cell-detector", 1};
  auto manifest = package::parse_manifest(*read_file(dir / "canopy.json"));
  EXPECT_TRUE(manifest.ok());
  model->manifest = *manifest;
  auto engine = infer::Engine::load(dir / "model.onnx");
  EXPECT_TRUE(engine.ok()) << (engine.ok() ? "" : engine.error().message);
  if (engine.ok()) model->engine = std::move(*engine);
  return model;
}

// A frame of the plants at their cells (row, column), with the light scaled
// by `light` and Gaussian noise of `noise` (0..255) over everything.
inline cv::Mat render_scene(const std::map<std::pair<int, int>, Leaf>& plants, double light, double noise,
                            unsigned seed) {
  const int cell = kFrameSide / kGrid;
  // BGR, as OpenCV draws.
  cv::Mat frame(kFrameSide, kFrameSide, CV_8UC3, cv::Scalar(0.15 * 255, 0.25 * 255, 0.35 * 255));
  for (const auto& [where, leaf] : plants) {
    const cv::Scalar colour = leaf == Leaf::kHealthy    ? cv::Scalar(0.1 * 255, 0.7 * 255, 0.1 * 255)
                              : leaf == Leaf::kDiseased ? cv::Scalar(0.1 * 255, 0.3 * 255, 0.6 * 255)
                                                        : cv::Scalar(0.1 * 255, 0.8 * 255, 0.8 * 255);
    cv::circle(frame, {where.second * cell + cell / 2, where.first * cell + cell / 2}, cell * 7 / 16, colour,
               cv::FILLED);
  }
  frame.convertTo(frame, -1, light, 0);
  cv::Mat grain(frame.size(), CV_16SC3);
  cv::RNG rng(seed);
  rng.fill(grain, cv::RNG::NORMAL, 0, noise);
  cv::Mat noisy;
  cv::add(frame, grain, noisy, cv::noArray(), CV_8UC3);
  return noisy;
}

inline std::string render_jpeg(const std::map<std::pair<int, int>, Leaf>& plants, double light, double noise,
                               unsigned seed) {
  return *vision::encode_image(render_scene(plants, light, noise, seed), vision::ImageFormat::kJpeg, 90);
}

}  // namespace canopy::testing
