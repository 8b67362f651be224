#include "train/onnx_export.h"

#include <onnx/checker.h>

#include <cstring>
#include <map>
#include <optional>

#include "common/files.h"
#include "infer/onnx_builder.h"
#include "package/package.h"
#include "train/data_loader.h"
#include "train/model.h"
#include "vision/image.h"

namespace canopy::train {
namespace {

using infer::attr_int;
using infer::attr_ints;
using infer::attr_string;
using infer::DataType;

constexpr const char* kConfigMetadataKey = "canopy.detector";
constexpr const char* kLabelsMetadataKey = "canopy.labels";

infer::Tensor to_engine_tensor(const torch::Tensor& value) {
  const torch::Tensor contiguous = value.detach().to(torch::kFloat32).contiguous();
  infer::Tensor out = infer::Tensor::allocate(
      DataType::kFloat32, infer::Shape(contiguous.sizes().begin(), contiguous.sizes().end()));
  std::memcpy(out.raw(), contiguous.data_ptr<float>(), out.size_bytes());
  return out;
}

// Emits the forward pass of FieldDetectorImpl as ONNX nodes. Initializers
// are named after the module that owns them, so load_onnx_weights can find
// them again.
class Emitter {
 public:
  Emitter(FieldDetectorImpl& model, std::vector<std::string> labels)
      : model_(model), labels_(std::move(labels)), builder_(kExportOpset) {
    for (const auto& item : model.named_modules("", false)) names_[item.value().get()] = item.key();
  }

  Result<std::string> run() {
    const int size = model_.config.input_size;
    builder_.add_input(kInputName, DataType::kFloat32, {1, 3, size, size});
    std::string x = conv_bn_act(*model_.stem, kInputName);
    x = stage(*model_.stage1, x);
    const std::string x2 = stage(*model_.stage2, x);
    const std::string x3 = stage(*model_.stage3, x2);
    const std::string x4 = stage(*model_.stage4, x3);
    const std::string p5 = conv_bn_act(*model_.lateral5, x4);
    const std::string p4 = conv_bn_act(*model_.smooth4, add(conv_bn_act(*model_.lateral4, x3), upsample(p5)));
    const std::string p3 = conv_bn_act(*model_.smooth3, add(conv_bn_act(*model_.lateral3, x2), upsample(p4)));
    std::vector<std::string> levels;
    levels.push_back(head(*model_.head3, p3, 8));
    levels.push_back(head(*model_.head4, p4, 16));
    levels.push_back(head(*model_.head5, p5, 32));
    const std::string all = fresh("levels");
    builder_.add_node("Concat", levels, {all}, {attr_int("axis", 2)});
    builder_.add_node("Transpose", {all}, {kOutputName}, {attr_ints("perm", {0, 2, 1})});
    const std::int64_t cells = [&] {
      std::int64_t n = 0;
      for (int stride : model_.config.strides()) n += std::int64_t(size / stride) * (size / stride);
      return n;
    }();
    builder_.add_output(kOutputName, DataType::kFloat32, {1, cells, 4 + model_.config.classes});

    onnx::ModelProto proto = builder_.proto();
    proto.set_producer_name("canopy-train");
    auto* config = proto.add_metadata_props();
    config->set_key(kConfigMetadataKey);
    config->set_value(model_.config.to_json().dump());
    auto* labels = proto.add_metadata_props();
    labels->set_key(kLabelsMetadataKey);
    labels->set_value(Json(labels_).dump());
    try {
      onnx::checker::check_model(proto);
    } catch (const std::exception& e) {
      return Error{ErrorCode::kInternal,
                   std::string("the exported model fails the ONNX checker: ") + e.what()};
    }
    return proto.SerializeAsString();
  }

 private:
  std::string fresh(const std::string& stem) { return stem + "_" + std::to_string(counter_++); }
  std::string name_of(const torch::nn::Module& module) const { return names_.at(&module); }

  std::string conv(const std::string& name, const infer::Tensor& weight, const infer::Tensor& bias,
                   const std::string& input, int stride, int pad) {
    builder_.add_initializer(name + ".weight", weight);
    builder_.add_initializer(name + ".bias", bias);
    const std::string out = fresh(name);
    builder_.add_node("Conv", {input, name + ".weight", name + ".bias"}, {out},
                      {attr_ints("strides", {stride, stride}), attr_ints("pads", {pad, pad, pad, pad})},
                      name);
    return out;
  }

  // Conv + BatchNorm folded: w' = w * g / sqrt(v + eps), b' = beta - mean * g / sqrt(v + eps).
  std::string conv_bn_act(ConvBnActImpl& unit, const std::string& input) {
    torch::NoGradGuard no_grad;
    const torch::Tensor factor = unit.bn->weight / torch::sqrt(unit.bn->running_var + unit.bn->options.eps());
    const torch::Tensor weight = unit.conv->weight * factor.reshape({-1, 1, 1, 1});
    const torch::Tensor bias = unit.bn->bias - unit.bn->running_mean * factor;
    const int stride = int(unit.conv->options.stride()->at(0));
    const int kernel = int(unit.conv->options.kernel_size()->at(0));
    std::string out =
        conv(name_of(unit), to_engine_tensor(weight), to_engine_tensor(bias), input, stride, kernel / 2);
    if (!unit.activation) return out;
    const std::string activated = fresh(name_of(unit) + ".relu");
    builder_.add_node("Relu", {out}, {activated});
    return activated;
  }

  std::string stage(StageImpl& stage_module, const std::string& input) {
    std::string x = conv_bn_act(*stage_module.down, input);
    for (const auto& block : *stage_module.blocks) {
      auto& bottleneck = *block->as<BottleneckImpl>();
      x = add(x, conv_bn_act(*bottleneck.expand, conv_bn_act(*bottleneck.reduce, x)));
    }
    return x;
  }

  std::string add(const std::string& a, const std::string& b) {
    const std::string out = fresh("add");
    builder_.add_node("Add", {a, b}, {out});
    return out;
  }

  // Nearest 2x, as torch's interpolate: source index = floor(destination / 2).
  std::string upsample(const std::string& input) {
    if (!scales_added_) {
      infer::Tensor scales = infer::Tensor::allocate(DataType::kFloat32, {4});
      const float values[4] = {1, 1, 2, 2};
      std::memcpy(scales.raw(), values, sizeof values);
      builder_.add_initializer("upsample.scales", scales);
      scales_added_ = true;
    }
    const std::string out = fresh("upsample");
    builder_.add_node(
        "Resize", {input, "", "upsample.scales"}, {out},
        {attr_string("mode", "nearest"), attr_string("coordinate_transformation_mode", "asymmetric"),
         attr_string("nearest_mode", "floor")});
    return out;
  }

  // Box distances become cx, cy, w, h: sigmoid, then one fixed 1x1 conv
  // (scale and the l/t/r/b -> dx/dy/w/h mix), then the cell centres added.
  std::string head(HeadImpl& head_module, const std::string& input, int stride) {
    const std::string name = name_of(head_module);
    const std::string features = conv_bn_act(*head_module.stem, input);
    torch::NoGradGuard no_grad;
    const std::string raw_box = conv(name + ".box", to_engine_tensor(head_module.box->weight),
                                     to_engine_tensor(head_module.box->bias), features, 1, 0);
    const std::string raw_cls = conv(name + ".cls", to_engine_tensor(head_module.cls->weight),
                                     to_engine_tensor(head_module.cls->bias), features, 1, 0);
    const std::string box_sigmoid = fresh(name + ".box_sigmoid"), cls_sigmoid = fresh(name + ".scores");
    builder_.add_node("Sigmoid", {raw_box}, {box_sigmoid});
    builder_.add_node("Sigmoid", {raw_cls}, {cls_sigmoid});

    const float range = float(kBoxRange * stride);
    const torch::Tensor mix = torch::tensor({-0.5f, 0.f, 0.5f, 0.f,  // dx = (r - l) / 2
                                             0.f, -0.5f, 0.f, 0.5f,  // dy = (b - t) / 2
                                             1.f, 0.f, 1.f, 0.f,     // w = l + r
                                             0.f, 1.f, 0.f, 1.f})    // h = t + b
                                  .reshape({4, 4, 1, 1}) *
                              range;
    const int cells = model_.config.input_size / stride;
    const torch::Tensor coords = (torch::arange(cells, torch::kFloat32) + 0.5f) * float(stride);
    const auto grid = torch::meshgrid({coords, coords}, "ij");
    const torch::Tensor centres =
        torch::stack({grid[1], grid[0], torch::zeros_like(grid[0]), torch::zeros_like(grid[0])}).unsqueeze(0);
    const std::string offsets =
        conv(name + ".decode", to_engine_tensor(mix), to_engine_tensor(torch::zeros({4})), box_sigmoid, 1, 0);
    builder_.add_initializer(name + ".centres", to_engine_tensor(centres));
    const std::string boxes = fresh(name + ".boxes");
    builder_.add_node("Add", {offsets, name + ".centres"}, {boxes});

    const std::string joined = fresh(name + ".joined"), flat = fresh(name + ".flat");
    builder_.add_node("Concat", {boxes, cls_sigmoid}, {joined}, {attr_int("axis", 1)});
    infer::Tensor shape = infer::Tensor::allocate(DataType::kInt64, {3});
    shape.data<std::int64_t>()[0] = 1;
    shape.data<std::int64_t>()[1] = 4 + model_.config.classes;
    shape.data<std::int64_t>()[2] = std::int64_t(cells) * cells;
    builder_.add_initializer(name + ".flat_shape", shape);
    builder_.add_node("Reshape", {joined, name + ".flat_shape"}, {flat});
    return flat;
  }

  FieldDetectorImpl& model_;
  std::vector<std::string> labels_;
  infer::OnnxBuilder builder_;
  std::map<const torch::nn::Module*, std::string> names_;
  int counter_ = 0;
  bool scales_added_ = false;
};

}  // namespace

Result<std::string> export_onnx(FieldDetectorImpl& model, const std::vector<std::string>& labels) {
  return Emitter(model, labels).run();
}

Result<OnnxMetadata> read_onnx_metadata(const std::filesystem::path& onnx_file) {
  CANOPY_ASSIGN_OR_RETURN(std::string bytes, read_file(onnx_file));
  onnx::ModelProto proto;
  if (!proto.ParseFromString(bytes)) {
    return Error{ErrorCode::kInvalidArgument, onnx_file.string() + " is not an ONNX model"};
  }
  std::map<std::string, std::string> metadata;
  for (const auto& entry : proto.metadata_props()) metadata[entry.key()] = entry.value();
  if (!metadata.count(kConfigMetadataKey) || !metadata.count(kLabelsMetadataKey)) {
    return Error{ErrorCode::kInvalidArgument,
                 onnx_file.string() +
                     " was not exported by canopy-train (no canopy.detector metadata); "
                     "only its detectors can be fine-tuned"};
  }
  try {
    return OnnxMetadata{DetectorConfig::from_json(Json::parse(metadata[kConfigMetadataKey])),
                        Json::parse(metadata[kLabelsMetadataKey]).get<std::vector<std::string>>()};
  } catch (const std::exception& e) {
    return Error{ErrorCode::kInvalidArgument,
                 onnx_file.string() + ": unreadable canopy metadata: " + e.what()};
  }
}

Status load_onnx_weights(FieldDetectorImpl& model, const std::filesystem::path& onnx_file) {
  CANOPY_ASSIGN_OR_RETURN(std::string bytes, read_file(onnx_file));
  onnx::ModelProto proto;
  if (!proto.ParseFromString(bytes)) {
    return Error{ErrorCode::kInvalidArgument, onnx_file.string() + " is not an ONNX model"};
  }
  std::map<std::string, const onnx::TensorProto*> initializers;
  for (const auto& tensor : proto.graph().initializer()) initializers[tensor.name()] = &tensor;
  // An int8 model (canopy-train quantize) keeps a Conv's weight and bias as
  // NAME_quantized (int8, int32) times NAME_scale per output channel, with
  // zero points of 0: fine-tuning the model a device runs starts from those
  // values dequantized.
  const auto dequantized = [&](const std::string& name,
                               const torch::Tensor& like) -> std::optional<torch::Tensor> {
    auto quantized = initializers.find(name + "_quantized");
    auto scale = initializers.find(name + "_scale");
    if (quantized == initializers.end() || scale == initializers.end()) return std::nullopt;
    const std::int64_t channels = like.size(0);
    const std::string& scales = scale->second->raw_data();
    const std::string& values = quantized->second->raw_data();
    const bool int8 = quantized->second->data_type() == onnx::TensorProto_DataType_INT8;
    const bool int32 = quantized->second->data_type() == onnx::TensorProto_DataType_INT32;
    const std::size_t width = int8 ? 1 : 4;
    if (!(int8 || int32) || scale->second->data_type() != onnx::TensorProto_DataType_FLOAT ||
        scales.size() != std::size_t(channels) * sizeof(float) ||
        values.size() != std::size_t(like.numel()) * width)
      return std::nullopt;
    torch::Tensor value = torch::empty_like(like);
    float* out = value.data_ptr<float>();
    const std::int64_t per_channel = like.numel() / channels;
    for (std::int64_t i = 0; i < like.numel(); ++i) {
      float channel_scale = 0;
      std::memcpy(&channel_scale, scales.data() + (i / per_channel) * sizeof(float), sizeof(float));
      std::int32_t q = 0;
      if (int8) {
        q = static_cast<std::int8_t>(values[std::size_t(i)]);
      } else {
        std::memcpy(&q, values.data() + std::size_t(i) * 4, 4);
      }
      out[i] = static_cast<float>(q) * channel_scale;
    }
    return value;
  };
  const auto fetch = [&](const std::string& name, const torch::Tensor& like) -> Result<torch::Tensor> {
    auto found = initializers.find(name);
    if (found == initializers.end()) {
      if (auto value = dequantized(name, like)) return *value;
      return Error{ErrorCode::kInvalidArgument, onnx_file.string() + " has no initializer " + name +
                                                    " (a different architecture or size?)"};
    }
    const std::string& raw = found->second->raw_data();
    if (found->second->data_type() != onnx::TensorProto_DataType_FLOAT ||
        raw.size() != size_t(like.numel()) * sizeof(float)) {
      return Error{ErrorCode::kInvalidArgument,
                   onnx_file.string() + ": " + name + " has the wrong type or size"};
    }
    torch::Tensor value = torch::empty_like(like);
    std::memcpy(value.data_ptr<float>(), raw.data(), raw.size());
    return value;
  };
  torch::NoGradGuard no_grad;
  for (const auto& item : model.named_modules("", false)) {
    const std::string& name = item.key();
    if (auto* unit = item.value()->as<ConvBnActImpl>()) {
      CANOPY_ASSIGN_OR_RETURN(torch::Tensor weight, fetch(name + ".weight", unit->conv->weight));
      CANOPY_ASSIGN_OR_RETURN(torch::Tensor bias, fetch(name + ".bias", unit->bn->bias));
      // BatchNorm that adds the folded bias and nothing else.
      const double eps = unit->bn->options.eps();
      unit->conv->weight.copy_(weight);
      unit->bn->weight.fill_(1.0);
      unit->bn->bias.copy_(bias);
      unit->bn->running_mean.zero_();
      unit->bn->running_var.fill_(1.0 - eps);
    } else if (auto* head_module = item.value()->as<HeadImpl>()) {
      for (auto [suffix, conv] : {std::pair{".box", head_module->box}, std::pair{".cls", head_module->cls}}) {
        CANOPY_ASSIGN_OR_RETURN(torch::Tensor weight, fetch(name + suffix + ".weight", conv->weight));
        CANOPY_ASSIGN_OR_RETURN(torch::Tensor bias, fetch(name + suffix + ".bias", conv->bias));
        conv->weight.copy_(weight);
        conv->bias.copy_(bias);
      }
    }
  }
  return {};
}

namespace {

Status write_tensor_proto(const std::filesystem::path& path, const torch::Tensor& value) {
  return write_file_atomic(
      path, infer::to_tensor_proto(path.stem().string(), to_engine_tensor(value)).SerializeAsString());
}

}  // namespace

std::vector<cv::Mat> golden_images_from(const vision::Dataset& dataset, int size, int count) {
  std::vector<cv::Mat> images;
  for (const vision::Sample& sample : dataset.samples) {
    if (int(images.size()) >= count) break;
    auto image = vision::read_image(dataset.root / sample.image);
    if (!image) continue;
    vision::Placement placement;
    images.push_back(vision::fit_to_input(*image, size, size, true, placement));
  }
  return images;
}

Status export_package(FieldDetectorImpl& model, const PackageExport& options) {
  namespace fs = std::filesystem;
  if (fs::exists(options.directory / package::kManifestName)) {
    return Error{ErrorCode::kAlreadyExists, options.directory.string() + " already holds a package"};
  }
  std::error_code ec;
  fs::create_directories(options.directory / "golden", ec);
  if (ec) return Error{ErrorCode::kIo, "cannot create " + options.directory.string() + ": " + ec.message()};
  CANOPY_ASSIGN_OR_RETURN(std::string onnx, export_onnx(model, options.labels));
  CANOPY_TRY(write_file_atomic(options.directory / "model.onnx", onnx));

  package::InitOptions init;
  init.directory = options.directory;
  init.model = options.directory / "model.onnx";
  init.name = options.name;
  init.labels = options.labels;
  const int size = model.config.input_size;
  init.input_shape = {1, 3, size, size};
  {
    torch::NoGradGuard no_grad;
    const bool was_training = model.is_training();
    model.eval();
    for (size_t k = 0; k < options.golden_images.size(); ++k) {
      const torch::Tensor input = image_to_tensor(options.golden_images[k]).unsqueeze(0);
      const torch::Tensor output = decode(model.forward(input), model.config);
      const fs::path in = options.directory / "golden" / ("input_" + std::to_string(k) + ".pb");
      const fs::path out = options.directory / "golden" / ("output_" + std::to_string(k) + ".pb");
      CANOPY_TRY(write_tensor_proto(in, input));
      CANOPY_TRY(write_tensor_proto(out, output));
      init.golden.emplace_back(in, out);
    }
    model.train(was_training);
  }
  CANOPY_ASSIGN_OR_RETURN(package::Manifest manifest, package::init_package(init));
  manifest.description = options.description;
  manifest.input.color = "RGB";
  manifest.input.resize = "letterbox";
  manifest.output =
      Json{{"decoder", "yolov8-rows"}, {"normalized", false}, {"model", model.config.to_json()}};
  manifest.thresholds.score = options.score_threshold;
  manifest.thresholds.iou = options.iou_threshold;
  manifest.metrics = options.metrics;
  manifest.lineage = options.lineage;
  // Outputs are pixel coordinates (up to the input size) and probabilities:
  // 1e-2 absorbs kernel differences between libtorch and the device's
  // engine, and still catches a wrong or damaged model.
  for (package::GoldenSample& golden : manifest.golden) golden.tolerance = 1e-2;
  return write_file_atomic(options.directory / package::kManifestName, package::serialize_manifest(manifest));
}

}  // namespace canopy::train
