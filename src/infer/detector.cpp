#include "infer/detector.h"

#include "common/files.h"
#include "vision/image.h"

namespace canopy::infer {

namespace {

// Chooses the decoder for an output of `shape` and `classes` labels.
Result<std::string> resolve_decoder(const std::string& wanted, const Shape& shape, std::int64_t classes) {
  if (shape.size() != 3 || shape[0] != 1)
    return make_error(ErrorCode::kInvalidArgument,
                      "detector output must be [1, A, B], got " + shape_to_string(shape));
  auto fits = [&](const std::string& decoder) {
    if (decoder == "yolo") return shape[2] == 5 + classes;
    if (decoder == "yolov8") return shape[1] == 4 + classes;
    if (decoder == "yolov8-rows") return shape[2] == 4 + classes;
    return false;
  };
  if (wanted != "auto") {
    if (!fits(wanted))
      return make_error(ErrorCode::kInvalidArgument, "output " + shape_to_string(shape) +
                                                         " does not fit decoder '" + wanted + "' with " +
                                                         std::to_string(classes) + " labels");
    return wanted;
  }
  for (const char* decoder : {"yolo", "yolov8", "yolov8-rows"})
    if (fits(decoder)) return std::string(decoder);
  return make_error(ErrorCode::kInvalidArgument,
                    "cannot tell how to decode output " + shape_to_string(shape) + " with " +
                        std::to_string(classes) +
                        " labels; set output.decoder in canopy.json (yolo, yolov8, yolov8-rows)");
}

int input_width(const package::InputSpec& spec) { return static_cast<int>(spec.shape[3]); }
int input_height(const package::InputSpec& spec) { return static_cast<int>(spec.shape[2]); }

vision::Normalization normalization_of(const package::InputSpec& spec) {
  vision::Normalization normalization;
  normalization.rgb = spec.color == "RGB";
  normalization.scale = static_cast<float>(spec.scale);
  for (size_t c = 0; c < 3; ++c) {
    normalization.mean[c] = static_cast<float>(spec.mean.size() == 3 ? spec.mean[c] : 0.0);
    normalization.std[c] = static_cast<float>(spec.std.size() == 3 ? spec.std[c] : 1.0);
  }
  return normalization;
}

}  // namespace

Result<std::unique_ptr<Detector>> Detector::load_package_dir(const std::filesystem::path& directory,
                                                             const DetectorOptions& options) {
  CANOPY_ASSIGN_OR_RETURN(std::string bytes, read_file(directory / package::kManifestName));
  auto manifest = package::parse_manifest(bytes);
  if (!manifest.ok()) return manifest.error().with_context((directory / package::kManifestName).string());
  const std::string model = manifest->model_file().path;
  return load(directory / model, std::move(*manifest), options);
}

Result<std::unique_ptr<Detector>> Detector::load(const std::filesystem::path& model,
                                                 package::Manifest manifest, const DetectorOptions& options) {
  CANOPY_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::load(model, options.engine));
  return over(std::move(engine), std::move(manifest), options);
}

Result<std::unique_ptr<Detector>> Detector::over(std::shared_ptr<const Engine> engine,
                                                 package::Manifest manifest, const DetectorOptions& options) {
  std::unique_ptr<Detector> d(new Detector());
  d->manifest_ = std::move(manifest);
  d->engine_ = std::move(engine);
  const auto& inputs = d->engine_->inputs();
  const auto& outputs = d->engine_->outputs();
  if (inputs.size() != 1 || inputs[0].dtype != DataType::kFloat32)
    return make_error(ErrorCode::kInvalidArgument, "a detector takes one float32 image input");
  if (outputs.size() != 1) return make_error(ErrorCode::kInvalidArgument, "a detector has one output");
  // A bare model described by a manifest without an input shape: the model's own.
  if (d->manifest_.input.shape.empty()) d->manifest_.input.shape = inputs[0].shape;
  const auto& spec = d->manifest_.input;
  if (spec.shape.size() != 4 || spec.shape[2] <= 0 || spec.shape[3] <= 0)
    return make_error(ErrorCode::kInvalidArgument, "the detector input needs a fixed [1, 3, H, W] shape");
  if (spec.layout != "NCHW" || spec.shape[1] != 3)
    return make_error(ErrorCode::kInvalidArgument, "the detector input must be NCHW with 3 channels");
  d->input_ = Tensor::allocate(DataType::kFloat32, {1, 3, spec.shape[2], spec.shape[3]});
  d->writer_ = std::make_unique<vision::InputWriter>(input_writer(spec));
  d->context_ = d->engine_->create_context();
  // Run once now: it compiles the plan and tells the output shape for the decoder.
  CANOPY_ASSIGN_OR_RETURN(std::vector<Tensor> probe, d->context_->run({d->input_}));
  const std::string wanted = d->manifest_.output.value("decoder", "auto");
  CANOPY_ASSIGN_OR_RETURN(
      d->decoder_,
      resolve_decoder(wanted, probe[0].shape(), static_cast<std::int64_t>(d->manifest_.labels.size())));
  d->score_threshold_ = options.score_threshold >= 0 ? options.score_threshold
                                                     : static_cast<float>(d->manifest_.thresholds.score);
  d->iou_threshold_ =
      options.iou_threshold >= 0 ? options.iou_threshold : static_cast<float>(d->manifest_.thresholds.iou);
  return d;
}

vision::Placement prepare_input(const package::InputSpec& spec, const cv::Mat& image, float* out) {
  vision::Placement placement;
  cv::Mat fitted = vision::fit_to_input(image, input_width(spec), input_height(spec),
                                        spec.resize == "letterbox", placement);
  vision::to_nchw(fitted, normalization_of(spec), out);
  return placement;
}

vision::InputWriter input_writer(const package::InputSpec& spec) {
  return vision::InputWriter(input_width(spec), input_height(spec), spec.resize == "letterbox",
                             normalization_of(spec));
}

cv::Size input_footprint(const package::InputSpec& spec, cv::Size full) {
  vision::Placement placement;
  return vision::fitted_size(full, input_width(spec), input_height(spec), spec.resize == "letterbox",
                             placement);
}

cv::Size Detector::input_footprint(cv::Size full) const {
  return infer::input_footprint(manifest_.input, full);
}

Result<std::vector<vision::Detection>> Detector::detect(const cv::Mat& image) {
  const vision::Placement placement = writer_->write(image, input_.data<float>());
  CANOPY_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, context_->run({input_}));
  std::vector<vision::Detection> found;
  CANOPY_TRY(decode(outputs[0], found));
  for (auto& d : found) d.box = vision::to_image(d.box, placement, image.cols, image.rows);
  return vision::non_max_suppression(std::move(found), iou_threshold_);
}

Status Detector::decode(const Tensor& output, std::vector<vision::Detection>& found) const {
  const std::int64_t classes = static_cast<std::int64_t>(manifest_.labels.size());
  const float* data = output.data<float>();
  const bool columns = decoder_ == "yolov8";
  const std::int64_t boxes = columns ? output.dim(2) : output.dim(1);
  const std::int64_t stride = output.dim(2);
  // Element k of box i.
  auto at = [&](std::int64_t i, std::int64_t k) {
    return columns ? data[k * stride + i] : data[i * stride + k];
  };
  const std::int64_t first_class = decoder_ == "yolo" ? 5 : 4;
  const bool normalized = manifest_.output.value("normalized", false);
  const float sx = normalized ? static_cast<float>(manifest_.input.shape[3]) : 1.0f;
  const float sy = normalized ? static_cast<float>(manifest_.input.shape[2]) : 1.0f;
  for (std::int64_t i = 0; i < boxes; ++i) {
    const float objectness = decoder_ == "yolo" ? at(i, 4) : 1.0f;
    if (objectness < score_threshold_) continue;
    std::int64_t best = 0;
    float best_score = at(i, first_class);
    for (std::int64_t c = 1; c < classes; ++c) {
      const float s = at(i, first_class + c);
      if (s > best_score) {
        best_score = s;
        best = c;
      }
    }
    const float score = objectness * best_score;
    if (score < score_threshold_) continue;
    const float cx = at(i, 0) * sx, cy = at(i, 1) * sy, w = at(i, 2) * sx, h = at(i, 3) * sy;
    found.push_back({{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2}, static_cast<int>(best), score});
  }
  return {};
}

}  // namespace canopy::infer
