#include "train/evaluate.h"

#include "common/progress.h"
#include "package/manifest.h"
#include "vision/image.h"

namespace canopy::train {

namespace {

infer::DetectorOptions detector_options_for(const EvalOptions& options) {
  infer::DetectorOptions detector_options;
  detector_options.engine = options.engine;
  detector_options.score_threshold = options.score_threshold;
  detector_options.iou_threshold = options.iou_threshold;
  return detector_options;
}

Result<vision::EvaluationResult> evaluate_detector(infer::Detector& detector, const vision::Dataset& dataset,
                                                   const EvalOptions& options);

}  // namespace

Result<vision::EvaluationResult> evaluate_with_manifest(const std::filesystem::path& onnx_file,
                                                        const package::Manifest& manifest,
                                                        const vision::Dataset& dataset, const EvalOptions& options) {
  if (manifest.labels != dataset.labels) {
    return Error{ErrorCode::kInvalidArgument, "the model's labels differ from the dataset's"};
  }
  CANOPY_ASSIGN_OR_RETURN(auto detector, infer::Detector::load(onnx_file, manifest, detector_options_for(options)));
  return evaluate_detector(*detector, dataset, options);
}

Result<vision::EvaluationResult> evaluate_onnx(const std::filesystem::path& model, const vision::Dataset& dataset,
                                               const EvalOptions& options) {
  const infer::DetectorOptions detector_options = detector_options_for(options);
  std::unique_ptr<infer::Detector> detector;
  if (std::filesystem::is_directory(model)) {
    CANOPY_ASSIGN_OR_RETURN(detector, infer::Detector::load_package_dir(model, detector_options));
    if (detector->manifest().labels != dataset.labels) {
      return Error{ErrorCode::kInvalidArgument, "the model's labels differ from the dataset's"};
    }
  } else {
    package::Manifest manifest;
    manifest.labels = dataset.labels;
    CANOPY_ASSIGN_OR_RETURN(detector, infer::Detector::load(model, manifest, detector_options));
  }
  return evaluate_detector(*detector, dataset, options);
}

namespace {

Result<vision::EvaluationResult> evaluate_detector(infer::Detector& detector, const vision::Dataset& dataset,
                                                   const EvalOptions& options) {
  vision::DetectionEvaluator evaluator(dataset.labels.size());
  ProgressReporter progress("evaluate", dataset.samples.size(), false);
  if (!options.show_progress) progress.silence();
  std::uint64_t done = 0;
  for (const vision::Sample& sample : dataset.samples) {
    CANOPY_ASSIGN_OR_RETURN(cv::Mat image, vision::read_image(dataset.root / sample.image));
    CANOPY_ASSIGN_OR_RETURN(std::vector<vision::Detection> found, detector.detect(image));
    std::vector<vision::GroundTruth> truth;
    for (const vision::Annotation& object : sample.objects) truth.push_back({object.box, object.label, false});
    CANOPY_TRY(evaluator.add_image(truth, found));
    progress.update(++done);
  }
  progress.finish();
  return evaluator.evaluate(options.operating_score);
}

}  // namespace

}  // namespace canopy::train
