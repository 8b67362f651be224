// The device's side of hard-case selection (docs/samples.md): for every
// frame the field loop judged, asks collect::select_frame whether people
// should see it, and when so makes the sample that goes to the outbox's
// samples stream: the frame resized and JPEG-encoded within the configured
// bounds, the model's raw boxes (the labeler's pre-labels), the sensors of
// that moment and the strategies that picked it.
//
// The previous model runs in shadow on a share of frames once an update
// has left it in the inactive slot (LoadedModel::previous_directory): the
// frames where the two disagree are kept, and the share of frames on which
// they agreed is reported with the telemetry (shadow.agreement).
//
// What selection remembers (budgets, the classes kept, each camera's last
// kept frames) is written atomically to `state_file` before a sample is
// handed on, so a restart neither spends a budget twice nor forgets it; a
// crash in between loses that one sample, never overspends.
//
// A frame is judged when the camera's next pass is in: only then is it
// known whether a plant flickered in it (collect::previous_pass_flicker).
// So each camera's last frame waits here, encoded as the camera gave it;
// the frame waiting when the loop stops is not judged.
// Thread-safety: one thread (the field loop's).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <opencv2/core.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "agent/active_model.h"
#include "agent/field_config.h"
#include "api/samples.h"
#include "collect/selection.h"
#include "infer/detector.h"
#include "vision/boxes.h"
#include "vision/image_codec.h"

namespace canopy::agent {

// One frame as the field loop judged it.
struct JudgedFrame {
  std::string camera;
  std::string zone;
  std::int64_t captured_ms = 0;
  std::string_view encoded;  // the frame as the camera gave it
  cv::Size size;             // its full size
  cv::Mat image;             // decoded at the model's footprint; the detections are in its pixels
  std::vector<vision::Detection> detections;  // down to the raw score floor
  std::vector<collect::PassHistory> plants;   // the camera's plants, this pass included
  int window = 0;                             // the tracker's passes per plant
  std::optional<collect::SoilContext> soil;
  std::map<std::string, double> sensors;  // valid readings now
};

class SampleCollector {
 public:
  // Reads `state_file` when it exists; one that cannot be read is logged
  // and selection starts afresh (a lost budget is a day's extra samples,
  // not a stopped device).
  SampleCollector(std::string device_id, const FieldConfig& config, std::filesystem::path state_file,
                  std::uint64_t seed);

  // Takes `frame`, judged by `model`, and answers the sample to send for
  // the camera's previous frame, if that one is kept.
  std::optional<api::Sample> consider(const JudgedFrame& frame,
                                      const std::shared_ptr<const LoadedModel>& model, std::int64_t now_ms);

  // Since the last call: samples kept, duplicates dropped, frames over
  // budget, and with a shadow model the frames it ran on and the share
  // on which it agreed with the active one.
  std::map<std::string, double> take_telemetry();

 private:
  // A frame waiting for the camera's next pass.
  struct Pending {
    std::string encoded;
    cv::Size size;
    std::string zone;
    std::int64_t captured_ms = 0;
    std::map<std::string, double> sensors;
    collect::Candidate candidate;
    std::shared_ptr<const LoadedModel> model;
    std::string shadow_model;
  };
  std::optional<api::Sample> decide(Pending pending, std::int64_t now_ms);
  std::vector<collect::RawBox> raw_boxes(const std::vector<vision::Detection>& detections, cv::Size image,
                                         const package::Manifest& manifest) const;
  std::optional<std::vector<collect::RawBox>> run_shadow(const JudgedFrame& frame, const LoadedModel& model);
  Result<std::string> sample_jpeg(const Pending& frame, int& width, int& height);
  void save_state() const;

  const std::string device_id_;
  const FieldConfig& config_;
  const std::filesystem::path state_file_;
  collect::SelectionState state_;
  std::mt19937_64 random_;
  vision::ImageDecoder decoder_;
  // The shadow model: loaded from the directory it was loaded from, once.
  std::filesystem::path shadow_directory_;
  std::string shadow_label_;
  std::unique_ptr<infer::Detector> shadow_;
  std::map<std::string, Pending> pending_;  // by camera
  std::int64_t kept_ = 0, duplicates_ = 0, over_budget_ = 0, shadow_frames_ = 0;
  double shadow_agreement_sum_ = 0;
};

}  // namespace canopy::agent
