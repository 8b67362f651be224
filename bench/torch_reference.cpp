#include "torch_reference.h"

#include "common/files.h"
#include "train/model.h"
#include "train/onnx_export.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>

namespace canopy::bench {

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

double export_field_detector(const std::filesystem::path& onnx) {
  torch::manual_seed(0);
  train::FieldDetector model{train::DetectorConfig{}};
  model->eval();
  auto bytes = train::export_onnx(*model, {"healthy", "diseased", "water_stressed"});
  if (!bytes.ok() || !write_file_atomic(onnx, *bytes).ok()) {
    throw std::runtime_error("cannot export the field detector to " + onnx.string());
  }
  return train::gflops(*model);
}

}  // namespace canopy::bench
