#include "train/model.h"

#include <algorithm>
#include <cmath>

namespace canopy::train {
namespace {

int channels(double base, double width) { return std::max(8, int(std::lround(base * width / 8.0)) * 8); }
int repeats(double base, double depth) { return std::max(1, int(std::lround(base * depth))); }

// The prior class probability at start (RetinaNet): most cells are
// background, so a 0.01 start keeps the first steps from being swamped.
constexpr double kClassPrior = 0.01;
// Initial box distances of two strides: sigmoid(b) * kBoxRange = 2.
const double kBoxBias = std::log(2.0 / (kBoxRange - 2.0));

}  // namespace

Json DetectorConfig::to_json() const {
  Json json{{"architecture", "canopy-fpn-anchor-free"},
            {"classes", classes},
            {"input_size", input_size},
            {"width", width},
            {"depth", depth}};
  if (!channels.empty()) json["channels"] = channels;
  return json;
}

int DetectorConfig::channels_of(const std::string& group, int fallback) const {
  auto found = channels.find(group);
  return found != channels.end() ? found->second : fallback;
}

DetectorConfig DetectorConfig::from_json(const Json& json) {
  DetectorConfig config;
  config.classes = json.value("classes", config.classes);
  config.input_size = json.value("input_size", config.input_size);
  config.width = json.value("width", config.width);
  config.depth = json.value("depth", config.depth);
  if (json.contains("channels")) config.channels = json.at("channels").get<std::map<std::string, int>>();
  return config;
}

ConvBnActImpl::ConvBnActImpl(int in, int out, int kernel, int stride, bool act) : activation(act) {
  conv = register_module(
      "conv", torch::nn::Conv2d(
                  torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false)));
  bn = register_module("bn",
                       torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out).momentum(0.03).eps(1e-3)));
}

torch::Tensor fake_quantized_conv(torch::nn::Conv2dImpl& conv, const torch::Tensor& x,
                                  const FakeQuant& quant) {
  const torch::Tensor input = torch::fake_quantize_per_tensor_affine(
      x, quant.scale, 0, quant.is_signed ? -128 : 0, quant.is_signed ? 127 : 255);
  const torch::Tensor scales = conv.weight.detach().abs().flatten(1).amax(1).clamp_min(1e-12) / 127.0;
  const torch::Tensor weight = torch::fake_quantize_per_channel_affine(
      conv.weight, scales, torch::zeros({scales.size(0)}, torch::kInt), 0, -127, 127);
  const auto& o = conv.options;
  return torch::conv2d(input, weight, conv.bias, o.stride(), c10::get<torch::ExpandingArray<2>>(o.padding()),
                       o.dilation(), o.groups());
}

torch::Tensor ConvBnActImpl::forward(const torch::Tensor& x) {
  const torch::Tensor z = fake_quant ? fake_quantized_conv(*conv, x, *fake_quant) : conv(x);
  if (moments) {
    torch::NoGradGuard no_grad;
    const torch::Tensor flat = z.transpose(0, 1).flatten(1).to(torch::kDouble);  // [C, B*H*W]
    moments->sum = moments->sum.defined() ? moments->sum + flat.sum(1) : flat.sum(1);
    const torch::Tensor squares = flat.square().sum(1);
    moments->sum_squares = moments->sum_squares.defined() ? moments->sum_squares + squares : squares;
    moments->count += static_cast<double>(flat.size(1));
  }
  // Quantization-aware training freezes BatchNorm at its running
  // statistics too: the int8 model has them folded into the weights.
  const torch::Tensor y = fake_quant || frozen_statistics
                              ? torch::batch_norm(z, bn->weight, bn->bias, bn->running_mean, bn->running_var,
                                                  false, 0.0, bn->options.eps(), false)
                              : bn(z);
  return activation ? torch::relu(y) : y;
}

BottleneckImpl::BottleneckImpl(int channels_, int hidden) {
  reduce = register_module("reduce", ConvBnAct(channels_, hidden, 1, 1));
  expand = register_module("expand", ConvBnAct(hidden, channels_, 3, 1));
}

torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) { return x + expand(reduce(x)); }

StageImpl::StageImpl(int in, int out, const std::vector<int>& hidden) {
  down = register_module("down", ConvBnAct(in, out, 3, 2));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int h : hidden) blocks->push_back(Bottleneck(out, h));
}

torch::Tensor StageImpl::forward(torch::Tensor x) {
  x = down(x);
  for (const auto& block : *blocks) x = block->as<BottleneckImpl>()->forward(x);
  return x;
}

HeadImpl::HeadImpl(int channels_, int hidden, int classes) {
  stem = register_module("stem", ConvBnAct(channels_, hidden, 3, 1));
  box = register_module("box", torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, 4, 1)));
  cls = register_module("cls", torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, classes, 1)));
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(box->weight, 0, 0.01);
  torch::nn::init::normal_(cls->weight, 0, 0.01);
  box->bias.fill_(kBoxBias);
  cls->bias.fill_(-std::log((1 - kClassPrior) / kClassPrior));
}

std::pair<torch::Tensor, torch::Tensor> HeadImpl::forward(const torch::Tensor& x) {
  const torch::Tensor features = stem(x);
  if (fake_quant)
    return {fake_quantized_conv(*box, features, *fake_quant),
            fake_quantized_conv(*cls, features, *fake_quant)};
  return {box(features), cls(features)};
}

FieldDetectorImpl::FieldDetectorImpl(const DetectorConfig& c) : config(c) {
  const double w = c.width, d = c.depth;
  const int c0 = c.channels_of("stem", channels(32, w)), c1 = c.channels_of("stage1", channels(64, w)),
            c2 = c.channels_of("stage2", channels(128, w)), c3 = c.channels_of("stage3", channels(256, w)),
            c4 = c.channels_of("stage4", channels(384, w)), neck = c.channels_of("neck", channels(128, w));
  // Bottleneck widths: half the stage's channels unless pruned.
  const auto hidden = [&](const std::string& stage, int out, int blocks) {
    std::vector<int> widths;
    for (int i = 0; i < blocks; ++i)
      widths.push_back(c.channels_of(stage + ".blocks." + std::to_string(i) + ".reduce", out / 2));
    return widths;
  };
  stem = register_module("stem", ConvBnAct(3, c0, 3, 2));
  stage1 = register_module("stage1", Stage(c0, c1, hidden("stage1", channels(64, w), repeats(1, d))));
  stage2 = register_module("stage2", Stage(c1, c2, hidden("stage2", channels(128, w), repeats(2, d))));
  stage3 = register_module("stage3", Stage(c2, c3, hidden("stage3", channels(256, w), repeats(2, d))));
  stage4 = register_module("stage4", Stage(c3, c4, hidden("stage4", channels(384, w), repeats(1, d))));
  lateral3 = register_module("lateral3", ConvBnAct(c2, neck, 1, 1));
  lateral4 = register_module("lateral4", ConvBnAct(c3, neck, 1, 1));
  lateral5 = register_module("lateral5", ConvBnAct(c4, neck, 1, 1));
  smooth3 = register_module("smooth3", ConvBnAct(neck, neck, 3, 1));
  smooth4 = register_module("smooth4", ConvBnAct(neck, neck, 3, 1));
  const int head_width = channels(128, w);
  head3 = register_module("head3", Head(neck, c.channels_of("head3.stem", head_width), c.classes));
  head4 = register_module("head4", Head(neck, c.channels_of("head4.stem", head_width), c.classes));
  head5 = register_module("head5", Head(neck, c.channels_of("head5.stem", head_width), c.classes));
}

std::vector<LevelOutput> FieldDetectorImpl::forward(const torch::Tensor& images) {
  const torch::Tensor x2 = stage2(stage1(stem(images)));  // stride 8
  const torch::Tensor x3 = stage3(x2);                    // stride 16
  const torch::Tensor x4 = stage4(x3);                    // stride 32
  const auto up = [](const torch::Tensor& t) {
    return torch::nn::functional::interpolate(t, torch::nn::functional::InterpolateFuncOptions()
                                                     .scale_factor(std::vector<double>{2, 2})
                                                     .mode(torch::kNearest));
  };
  const torch::Tensor p5 = lateral5(x4);
  const torch::Tensor p4 = smooth4(lateral4(x3) + up(p5));
  const torch::Tensor p3 = smooth3(lateral3(x2) + up(p4));
  std::vector<LevelOutput> out;
  for (auto [head, features, stride] :
       {std::tuple{head3, p3, 8}, std::tuple{head4, p4, 16}, std::tuple{head5, p5, 32}}) {
    auto [box, logits] = head->forward(features);
    out.push_back({box, logits, stride});
  }
  return out;
}

std::pair<torch::Tensor, torch::Tensor> cell_centres(const DetectorConfig& config) {
  std::vector<torch::Tensor> centres, strides;
  for (int stride : config.strides()) {
    const int cells = config.input_size / stride;
    const torch::Tensor coords = (torch::arange(cells, torch::kFloat32) + 0.5f) * float(stride);
    const auto grid = torch::meshgrid({coords, coords}, "ij");  // grid[0] = y, grid[1] = x
    centres.push_back(torch::stack({grid[1].reshape(-1), grid[0].reshape(-1)}, 1));
    strides.push_back(torch::full({cells * cells}, float(stride)));
  }
  return {torch::cat(centres), torch::cat(strides)};
}

std::pair<torch::Tensor, torch::Tensor> flatten_levels(const std::vector<LevelOutput>& levels) {
  std::vector<torch::Tensor> distances, logits;
  for (const LevelOutput& level : levels) {
    const auto batch = level.box.size(0);
    distances.push_back(
        (torch::sigmoid(level.box) * (kBoxRange * level.stride)).reshape({batch, 4, -1}).transpose(1, 2));
    logits.push_back(level.logits.reshape({batch, level.logits.size(1), -1}).transpose(1, 2));
  }
  return {torch::cat(distances, 1), torch::cat(logits, 1)};
}

torch::Tensor decode(const std::vector<LevelOutput>& levels, const DetectorConfig& config) {
  auto [distances, logits] = flatten_levels(levels);
  const torch::Tensor centres = cell_centres(config).first.to(distances.device());
  using torch::indexing::Slice;
  const torch::Tensor l = distances.index({Slice(), Slice(), 0}), t = distances.index({Slice(), Slice(), 1}),
                      r = distances.index({Slice(), Slice(), 2}), b = distances.index({Slice(), Slice(), 3});
  const torch::Tensor cx = centres.index({Slice(), 0}) + (r - l) * 0.5,
                      cy = centres.index({Slice(), 1}) + (b - t) * 0.5;
  return torch::cat({torch::stack({cx, cy, l + r, t + b}, 2), torch::sigmoid(logits)}, 2);
}

const DetectorConfig& config_of(const FieldDetectorImpl& model) { return model.config; }

std::int64_t parameter_count(FieldDetectorImpl& model) {
  std::int64_t count = 0;
  for (const torch::Tensor& p : model.parameters()) count += p.numel();
  return count;
}

double gflops(FieldDetectorImpl& model) {
  // Every multiply-add is in a convolution: weight size x output cells.
  double macs = 0;
  int size = model.config.input_size;
  const auto conv_macs = [](const torch::nn::Conv2d& conv, int out_size) {
    return double(conv->weight.numel()) * out_size * out_size;
  };
  size /= 2;
  macs += conv_macs(model.stem->conv, size);
  for (Stage stage : {model.stage1, model.stage2, model.stage3, model.stage4}) {
    size /= 2;
    macs += conv_macs(stage->down->conv, size);
    for (const auto& block : *stage->blocks) {
      auto* bottleneck = block->as<BottleneckImpl>();
      macs += conv_macs(bottleneck->reduce->conv, size) + conv_macs(bottleneck->expand->conv, size);
    }
  }
  const int s8 = model.config.input_size / 8, s16 = s8 / 2, s32 = s16 / 2;
  macs += conv_macs(model.lateral3->conv, s8) + conv_macs(model.lateral4->conv, s16) +
          conv_macs(model.lateral5->conv, s32);
  macs += conv_macs(model.smooth3->conv, s8) + conv_macs(model.smooth4->conv, s16);
  for (auto [head, cells] :
       {std::pair{model.head3, s8}, std::pair{model.head4, s16}, std::pair{model.head5, s32}}) {
    macs += conv_macs(head->stem->conv, cells) + conv_macs(head->box, cells) + conv_macs(head->cls, cells);
  }
  return 2 * macs / 1e9;
}

void unfold_batch_norm(FieldDetectorImpl& model,
                       const std::function<std::optional<torch::Tensor>()>& batches) {
  std::vector<ConvBnActImpl*> folded;
  for (const auto& module : model.modules(false))
    if (auto* unit = module->as<ConvBnActImpl>(); unit && unit->frozen_statistics) {
      unit->moments = std::make_shared<ConvBnActImpl::Moments>();
      folded.push_back(unit);
    }
  if (folded.empty()) return;
  const bool was_training = model.is_training();
  model.eval();
  {
    torch::NoGradGuard no_grad;
    while (auto images = batches()) model.forward(*images);
  }
  torch::NoGradGuard no_grad;
  for (ConvBnActImpl* unit : folded) {
    auto moments = std::move(unit->moments);
    unit->moments.reset();
    if (!moments->sum.defined() || moments->count < 2) continue;  // no data: stays frozen
    const torch::Tensor mean = moments->sum / moments->count;
    const torch::Tensor variance = (moments->sum_squares / moments->count - mean.square()).clamp_min(0);
    // Now y = k z + b with k = gamma / sqrt(1 + eps). With BatchNorm at
    // (mean, variance), gamma' = k sqrt(variance + eps) and beta' = b + k mean
    // give the same y, and so does their fold at export.
    torch::nn::BatchNorm2dImpl& bn = *unit->bn;
    const double eps = bn.options.eps();
    const torch::Tensor k = bn.weight.to(torch::kDouble) / (bn.running_var.to(torch::kDouble) + eps).sqrt();
    bn.bias.copy_(bn.bias.to(torch::kDouble) + k * (mean - bn.running_mean.to(torch::kDouble)));
    bn.weight.copy_(k * (variance + eps).sqrt());
    bn.running_mean.copy_(mean);
    bn.running_var.copy_(variance);
    unit->frozen_statistics = false;
  }
  model.train(was_training);
}

}  // namespace canopy::train
