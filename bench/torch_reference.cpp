#include "torch_reference.h"

#include "common/files.h"
#include "train/model.h"
#include "train/onnx_export.h"
#include "train/quantize.h"
#include "vision/field_renderer.h"
#include "vision/image.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <functional>

namespace canopy::bench {

namespace {

double median_ms(const std::function<void()>& forward, int runs) {
  for (int i = 0; i < 10; ++i) forward();
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    forward();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// canopy-train's default detector with the weights export_field_detector writes.
train::FieldDetector default_field_detector() {
  torch::manual_seed(0);
  train::FieldDetector model{train::DetectorConfig{}};
  model->eval();
  return model;
}

}  // namespace

double torch_field_detector_median_ms(int threads, int runs) {
  torch::set_num_threads(threads);
  torch::NoGradGuard no_grad;
  train::FieldDetector model = default_field_detector();
  const torch::Tensor input = torch::rand({1, 3, model->config.input_size, model->config.input_size});
  return median_ms([&] { train::decode(model->forward(input), model->config); }, runs);
}

double torch_conv_relu_median_ms(const std::vector<ConvLayer>& layers, const infer::Shape& input_shape, int threads,
                                 int runs) {
  torch::set_num_threads(threads);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> weights, biases;
  for (const auto& l : layers) {
    weights.push_back(torch::from_blob(const_cast<void*>(l.weights.raw()),
                                       std::vector<std::int64_t>(l.weights.shape().begin(), l.weights.shape().end()),
                                       torch::kFloat32).clone());
    biases.push_back(torch::from_blob(const_cast<void*>(l.bias.raw()), {l.bias.numel()}, torch::kFloat32).clone());
  }
  auto input = torch::rand(std::vector<std::int64_t>(input_shape.begin(), input_shape.end()));
  auto forward = [&] {
    auto x = input;
    for (size_t i = 0; i < layers.size(); ++i)
      x = torch::relu(torch::conv2d(x, weights[i], biases[i], layers[i].stride, layers[i].pad));
    return x;
  };
  return median_ms([&] { forward(); }, runs);
}

double export_field_detector(const std::filesystem::path& onnx) {
  train::FieldDetector model = default_field_detector();
  auto bytes = train::export_onnx(*model, vision::kFieldLabels);
  if (!bytes.ok() || !write_file_atomic(onnx, *bytes).ok()) {
    throw std::runtime_error("cannot export the field detector to " + onnx.string());
  }
  return train::gflops(*model);
}

void quantize_field_detector(const std::filesystem::path& fp32_onnx, const std::filesystem::path& work,
                             const std::filesystem::path& int8_onnx) {
  vision::FieldOptions field;
  field.out = work / "calibration";
  field.images = 16;
  if (!std::filesystem::exists(field.out) && !vision::generate_field_dataset(field).ok())
    throw std::runtime_error("cannot render calibration images in " + field.out.string());
  std::vector<cv::Mat> images;
  for (const auto& entry : std::filesystem::directory_iterator(field.out / "images")) {
    auto image = vision::read_image(entry.path());
    if (image.ok()) images.push_back(*image);
  }
  package::Manifest manifest;
  manifest.labels = vision::kFieldLabels;
  manifest.input.shape = {1, 3, 320, 320};
  train::QuantizeOptions options;
  options.show_progress = false;
  auto model = train::quantize_all(fp32_onnx, manifest, images, train::Calibrator::kPercentile, options);
  if (!model.ok() || !write_file_atomic(int8_onnx, *model).ok())
    throw std::runtime_error("cannot quantize the field detector: " + (model.ok() ? int8_onnx.string() : model.error().message));
}

void write_field_detector_packages(const std::filesystem::path& work, const std::filesystem::path& fp32_dir,
                                   const std::filesystem::path& int8_dir) {
  std::filesystem::remove_all(fp32_dir);
  std::filesystem::remove_all(int8_dir);
  train::FieldDetector model = default_field_detector();
  train::PackageExport options;
  options.directory = fp32_dir;
  options.name = "field-detector";
  options.description = "canopy-train's default detector, untrained";
  options.labels = vision::kFieldLabels;
  if (!train::export_package(*model, options).ok())
    throw std::runtime_error("cannot export the field detector package to " + fp32_dir.string());
  std::filesystem::create_directories(int8_dir);
  std::filesystem::copy_file(fp32_dir / "canopy.json", int8_dir / "canopy.json");
  quantize_field_detector(fp32_dir / "model.onnx", work, int8_dir / "model.onnx");
}

}  // namespace canopy::bench
