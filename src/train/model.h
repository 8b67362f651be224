// The field detector: an anchor-free one-stage detector in the FCOS/YOLOv8
// family, small enough for a farm board.
//
//   backbone  stride-2 3x3 convolutions with residual bottlenecks, giving
//             features at strides 8, 16 and 32
//   neck      a top-down feature pyramid (1x1 laterals, nearest 2x
//             upsampling, add, 3x3 smoothing)
//   head      per level a 3x3 conv, then 1x1 convs for the box (4 distances
//             from the cell centre: left, top, right, bottom) and the class
//             scores (one sigmoid per class, no objectness)
//
// Why this family: anchor-free heads have no anchor sizes to tune for a new
// crop, one sigmoid per class lets a plant be scored for each condition, and
// every layer is Conv, Relu, Sigmoid, Add, Resize, Concat, Reshape or
// Transpose, which the inference engine runs natively (and fuses).
//
// Box distances are sigmoid(x) * 16 * stride rather than exp(x): bounded,
// and exportable without an Exp kernel on the device.
//
// decode() turns the raw maps into the "yolov8-rows" layout the device's
// detector reads: [batch, N, 4 + classes] with cx, cy, w, h in input pixels
// and class probabilities. The ONNX export (onnx_export.h) emits the same
// computation node by node, and a test holds the two to 1e-4.
// Private to src/train (libtorch); other modules use detector_config.h.
// Thread-safety: a torch module; one thread trains it.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "train/detector_config.h"

namespace canopy::train {

// Quantization-aware training: a convolution's input is rounded to the
// int8 grid of its calibrated range and its weights to a symmetric int8
// grid per output channel, as the int8 model will compute them (gradients
// pass straight through). Per-channel rounding of the unfolded weights is
// the same as of the BatchNorm-folded ones the export writes: folding only
// scales each channel. BatchNorm stays at its running statistics meanwhile.
struct FakeQuant {
  float scale = 1;         // of the input activation
  bool is_signed = false;  // int8 input; otherwise uint8 (zero point 0 either way)
};
torch::Tensor fake_quantized_conv(torch::nn::Conv2dImpl& conv, const torch::Tensor& x,
                                  const FakeQuant& quant);

// Conv (no bias) + BatchNorm + optional ReLU: the unit the exporter folds.
struct ConvBnActImpl : torch::nn::Module {
  ConvBnActImpl(int in, int out, int kernel, int stride, bool activation = true);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  bool activation;
  std::optional<FakeQuant> fake_quant;  // set for quantization-aware training only
  // BatchNorm kept at its running statistics in training too: set for a
  // model read from ONNX, whose BatchNorm the export folded into the
  // convolution (mean 0, variance 1, the shift as its bias), until
  // unfold_batch_norm measures real statistics. Statistics re-estimated
  // from batches would change what every layer computes.
  bool frozen_statistics = false;
  // While unfold_batch_norm measures: the convolution's outputs summed per channel.
  struct Moments {
    torch::Tensor sum, sum_squares;
    double count = 0;
  };
  std::shared_ptr<Moments> moments;
};
TORCH_MODULE(ConvBnAct);

// x + relu(bn(conv3x3(relu(bn(conv1x1(x)))))); `hidden` channels between.
struct BottleneckImpl : torch::nn::Module {
  BottleneckImpl(int channels, int hidden);
  torch::Tensor forward(const torch::Tensor& x);
  ConvBnAct reduce{nullptr}, expand{nullptr};
};
TORCH_MODULE(Bottleneck);

// A stride-2 convolution followed by one bottleneck per `hidden` entry.
struct StageImpl : torch::nn::Module {
  StageImpl(int in, int out, const std::vector<int>& hidden);
  torch::Tensor forward(torch::Tensor x);
  ConvBnAct down{nullptr};
  torch::nn::ModuleList blocks;
};
TORCH_MODULE(Stage);

// One pyramid level's head: shared 3x3 conv, then box and class 1x1 convs.
struct HeadImpl : torch::nn::Module {
  HeadImpl(int channels, int hidden, int classes);
  // {box distances [B,4,H,W] raw, class logits [B,C,H,W]}
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x);
  ConvBnAct stem{nullptr};
  torch::nn::Conv2d box{nullptr}, cls{nullptr};
  std::optional<FakeQuant> fake_quant;  // of the box and class convolutions, as in ConvBnActImpl
};
TORCH_MODULE(Head);

struct LevelOutput {
  torch::Tensor box;     // raw [B, 4, H, W]
  torch::Tensor logits;  // [B, C, H, W]
  int stride;
};

struct FieldDetectorImpl : torch::nn::Module {
  explicit FieldDetectorImpl(const DetectorConfig& config);
  std::vector<LevelOutput> forward(const torch::Tensor& images);

  DetectorConfig config;
  ConvBnAct stem{nullptr};
  Stage stage1{nullptr}, stage2{nullptr}, stage3{nullptr}, stage4{nullptr};
  ConvBnAct lateral3{nullptr}, lateral4{nullptr}, lateral5{nullptr};
  ConvBnAct smooth3{nullptr}, smooth4{nullptr};
  Head head3{nullptr}, head4{nullptr}, head5{nullptr};
};
TORCH_MODULE(FieldDetector);

// Gives every BatchNorm of a model read from ONNX (frozen_statistics) the
// mean and variance its convolution puts out on `batches`, and the scale
// and shift that keep the exported function: BatchNorm then trains as in a
// model trained here, adapting to the new data, where frozen statistics
// could not and statistics re-estimated from nothing would start from a
// different function. `batches` answers nothing when it has no more.
void unfold_batch_norm(FieldDetectorImpl& model,
                       const std::function<std::optional<torch::Tensor>()>& batches);

// Box scale per level: distances = sigmoid(raw) * kBoxRange * stride.
inline constexpr double kBoxRange = 16.0;

// Cell centres of every level, concatenated in output order: [N, 2] (x, y)
// in input pixels, and the stride of each cell [N].
std::pair<torch::Tensor, torch::Tensor> cell_centres(const DetectorConfig& config);

// Distances (l, t, r, b) [B, N, 4] in pixels and logits [B, N, C], levels
// concatenated in output order.
std::pair<torch::Tensor, torch::Tensor> flatten_levels(const std::vector<LevelOutput>& levels);

// [B, N, 4 + C]: cx, cy, w, h in input pixels, then class probabilities.
torch::Tensor decode(const std::vector<LevelOutput>& levels, const DetectorConfig& config);

}  // namespace canopy::train
