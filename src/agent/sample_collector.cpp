#include "agent/sample_collector.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <opencv2/imgproc.hpp>

#include "common/files.h"
#include "common/keys.h"

namespace canopy::agent {

namespace {

std::vector<api::SampleBox> sample_boxes(const std::vector<collect::RawBox>& boxes) {
  std::vector<api::SampleBox> out;
  out.reserve(boxes.size());
  for (const collect::RawBox& b : boxes) out.push_back({b.label, b.score, b.x1, b.y1, b.x2, b.y2});
  return out;
}

}  // namespace

SampleCollector::SampleCollector(std::string device_id, const FieldConfig& config,
                                 std::filesystem::path state_file, std::uint64_t seed)
    : device_id_(std::move(device_id)), config_(config), state_file_(std::move(state_file)), random_(seed) {
  if (state_file_.empty() || !std::filesystem::exists(state_file_)) return;
  auto text = read_file(state_file_);
  auto json = text.ok() ? parse_json(*text, "the selection state") : Result<Json>(text.error());
  auto state =
      json.ok() ? collect::SelectionState::from_json(*json) : Result<collect::SelectionState>(json.error());
  if (state.ok()) {
    state_ = std::move(*state);
  } else {
    spdlog::error("samples.state_unreadable file={} error=\"{}\" action=start-afresh", state_file_.string(),
                  state.error().message);
  }
}

std::vector<collect::RawBox> SampleCollector::raw_boxes(const std::vector<vision::Detection>& detections,
                                                        cv::Size image,
                                                        const package::Manifest& manifest) const {
  std::vector<collect::RawBox> boxes;
  const double w = std::max(1, image.width), h = std::max(1, image.height);
  for (const vision::Detection& d : detections) {
    if (d.label < 0 || d.label >= static_cast<int>(manifest.labels.size())) continue;
    boxes.push_back({manifest.labels[d.label], std::clamp<double>(d.score, 0, 1),
                     std::clamp(d.box.x1 / w, 0.0, 1.0), std::clamp(d.box.y1 / h, 0.0, 1.0),
                     std::clamp(d.box.x2 / w, 0.0, 1.0), std::clamp(d.box.y2 / h, 0.0, 1.0)});
  }
  return boxes;
}

std::optional<std::vector<collect::RawBox>> SampleCollector::run_shadow(const JudgedFrame& frame,
                                                                        const LoadedModel& model) {
  const collect::ModelDisagreementRules& rules = config_.selection.model_disagreement;
  if (!rules.enabled || model.previous_directory.empty() || !model.previous) return std::nullopt;
  if (std::uniform_real_distribution<double>(0, 1)(random_) >= rules.share) return std::nullopt;
  if (shadow_directory_ != model.previous_directory) {
    // Loaded once per previous model; a model that will not load (its slot
    // was reused by a newer update) is not tried again.
    shadow_directory_ = model.previous_directory;
    shadow_label_ = model.previous->model.label();
    infer::DetectorOptions options;
    options.score_threshold = static_cast<float>(config_.raw_score_floor);
    auto loaded = infer::Detector::load_package_dir(shadow_directory_, options);
    shadow_.reset();
    if (loaded.ok()) {
      shadow_ = std::move(*loaded);
      spdlog::info("samples.shadow_model model={}", shadow_label_);
    } else {
      spdlog::warn("samples.shadow_unusable model={} error=\"{}\"", shadow_label_, loaded.error().message);
    }
  }
  if (!shadow_) return std::nullopt;
  auto found = shadow_->detect(frame.image);
  if (!found.ok()) return std::nullopt;
  return raw_boxes(*found, frame.image.size(), shadow_->manifest());
}

Result<std::string> SampleCollector::sample_jpeg(const Pending& frame, int& width, int& height) {
  const SampleImageRules& rules = config_.sample_images;
  const double scale =
      std::min(1.0, static_cast<double>(rules.max_side) / std::max(frame.size.width, frame.size.height));
  const cv::Size target(std::max(1, static_cast<int>(frame.size.width * scale)),
                        std::max(1, static_cast<int>(frame.size.height * scale)));
  CANOPY_ASSIGN_OR_RETURN(cv::Mat decoded, decoder_.decode(frame.encoded, target));
  cv::Mat image = decoded;
  if (decoded.size() != target) cv::resize(decoded, image, target, 0, 0, cv::INTER_AREA);
  width = image.cols;
  height = image.rows;
  // Lower quality until it fits: a sample is worth more blurred than lost.
  for (int quality = rules.jpeg_quality;; quality -= 15) {
    CANOPY_ASSIGN_OR_RETURN(std::string jpeg,
                            vision::encode_image(image, vision::ImageFormat::kJpeg, quality));
    if (static_cast<int>(jpeg.size()) <= rules.max_bytes || quality <= 30) return jpeg;
  }
}

std::optional<api::Sample> SampleCollector::consider(const JudgedFrame& frame,
                                                     const std::shared_ptr<const LoadedModel>& model,
                                                     std::int64_t now_ms) {
  if (!config_.selection.enabled || !model) return std::nullopt;
  // What only this frame's pixels tell is taken now: they are gone by the
  // next pass.
  Pending current;
  current.encoded.assign(frame.encoded);
  current.size = frame.size;
  current.zone = frame.zone;
  current.captured_ms = frame.captured_ms;
  current.sensors = frame.sensors;
  current.model = model;
  collect::Candidate& candidate = current.candidate;
  candidate.camera = frame.camera;
  candidate.boxes = raw_boxes(frame.detections, frame.image.size(), model->manifest);
  candidate.threshold = model->manifest.thresholds.score;
  candidate.soil = frame.soil;
  candidate.signature = collect::sign_image(frame.image);
  candidate.shadow_boxes = run_shadow(frame, *model);
  if (candidate.shadow_boxes) {
    current.shadow_model = shadow_label_;
    ++shadow_frames_;
    shadow_agreement_sum_ +=
        1 - collect::model_disagreement(candidate.boxes, *candidate.shadow_boxes, candidate.threshold,
                                        config_.selection.model_disagreement.iou);
  }
  std::optional<api::Sample> sample;
  if (auto previous = pending_.find(frame.camera); previous != pending_.end()) {
    previous->second.candidate.temporal = collect::previous_pass_flicker(frame.plants, frame.window);
    sample = decide(std::move(previous->second), now_ms);
  }
  pending_[frame.camera] = std::move(current);
  return sample;
}

std::optional<api::Sample> SampleCollector::decide(Pending pending, std::int64_t now_ms) {
  const collect::Candidate& candidate = pending.candidate;
  const LoadedModel& model = *pending.model;
  const std::int64_t duplicates_before = state_.duplicates, over_before = state_.over_budget;
  const collect::Decision decision =
      collect::select_frame(state_, candidate, config_.selection, model.manifest.labels, now_ms,
                            std::uniform_real_distribution<double>(0, 1)(random_));
  duplicates_ += state_.duplicates - duplicates_before;
  over_budget_ += state_.over_budget - over_before;
  if (!decision.keep) return std::nullopt;

  api::Sample sample;
  auto jpeg = sample_jpeg(pending, sample.width, sample.height);
  if (!jpeg.ok()) {
    spdlog::warn("samples.encode_failed camera={} error=\"{}\"", candidate.camera, jpeg.error().message);
    return std::nullopt;
  }
  sample.id = api::sample_id(device_id_, candidate.camera, pending.captured_ms);
  sample.field = config_.field;
  sample.camera = candidate.camera;
  sample.zone = pending.zone;
  sample.captured_ms = pending.captured_ms;
  sample.model = model.ref.model.label();
  sample.predictions = sample_boxes(candidate.boxes);
  if (candidate.shadow_boxes) {
    sample.shadow_predictions = sample_boxes(*candidate.shadow_boxes);
    sample.shadow_model = pending.shadow_model;
  }
  sample.sensors = std::move(pending.sensors);
  for (const collect::StrategyScore& reason : decision.reasons)
    sample.reasons.push_back({reason.strategy, reason.score, reason.detail});
  sample.random = decision.random;
  sample.phash = collect::hash_hex(candidate.signature.hash);
  sample.jpeg_base64 = base64_encode(*jpeg);
  save_state();
  ++kept_;
  spdlog::debug("samples.kept id={} reasons={} bytes={}", sample.id, sample.reasons.front().strategy,
                jpeg->size());
  return sample;
}

void SampleCollector::save_state() const {
  if (state_file_.empty()) return;
  if (Status saved = write_file_atomic(state_file_, state_.to_json().dump()); !saved.ok())
    spdlog::error("samples.state_not_saved file={} error=\"{}\"", state_file_.string(),
                  saved.error().message);
}

std::map<std::string, double> SampleCollector::take_telemetry() {
  std::map<std::string, double> values = {{"samples.kept", static_cast<double>(kept_)},
                                          {"samples.duplicates", static_cast<double>(duplicates_)},
                                          {"samples.over_budget", static_cast<double>(over_budget_)}};
  if (shadow_frames_ > 0) {
    values["shadow.frames"] = static_cast<double>(shadow_frames_);
    values["shadow.agreement"] = shadow_agreement_sum_ / shadow_frames_;
  }
  kept_ = duplicates_ = over_budget_ = shadow_frames_ = 0;
  shadow_agreement_sum_ = 0;
  return values;
}

}  // namespace canopy::agent
