#include "server/prelabel/prelabeler.h"

#include <algorithm>

#include "common/files.h"
#include "infer/detector.h"
#include "package/package.h"
#include "vision/image_codec.h"

namespace canopy::server {

namespace {

// Low enough that the labeling page's threshold slider has boxes to show.
constexpr float kPrelabelScoreFloor = 0.05f;

}  // namespace

Prelabeler::Prelabeler(ProductionPackages& packages, std::filesystem::path cache_dir)
    : packages_(packages), cache_dir_(std::move(cache_dir)) {}

Prelabeler::~Prelabeler() = default;

Result<infer::Detector*> Prelabeler::detector_locked(const ProductionPackages::Package& package) {
  if (auto found = detectors_.find(package.label); found != detectors_.end()) return found->second.get();
  std::string folder = package.label;
  std::replace(folder.begin(), folder.end(), ':', '-');
  const std::filesystem::path dir = cache_dir_ / folder;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);  // a half-extracted copy of an earlier start
  // The registry verified and stored the package; extracting checks every file's hash again.
  package::VerifyOptions verify;
  verify.allow_unsigned = true;
  verify.display_name = package.label;
  CANOPY_TRY(package::extract_package(package.zip, dir, verify));
  infer::DetectorOptions options;
  options.score_threshold = kPrelabelScoreFloor;
  CANOPY_ASSIGN_OR_RETURN(auto detector, infer::Detector::load_package_dir(dir, options));
  infer::Detector* raw = detector.get();
  detectors_[package.label] = std::move(detector);
  return raw;
}

Result<Prelabels> Prelabeler::predict(const std::string& model_name, const std::string& jpeg) {
  CANOPY_ASSIGN_OR_RETURN(ProductionPackages::Package package, packages_.production(model_name));
  CANOPY_ASSIGN_OR_RETURN(cv::Mat image, vision::decode_image(jpeg));
  std::lock_guard guard(mutex_);
  CANOPY_ASSIGN_OR_RETURN(infer::Detector * detector, detector_locked(package));
  CANOPY_ASSIGN_OR_RETURN(auto detections, detector->detect(image));
  Prelabels out;
  out.model = package.label;
  const auto& labels = detector->manifest().labels;
  const double width = image.cols, height = image.rows;
  for (const auto& d : detections) {
    const std::string name = d.label >= 0 && static_cast<std::size_t>(d.label) < labels.size()
                                 ? labels[static_cast<std::size_t>(d.label)]
                                 : std::to_string(d.label);
    out.boxes.push_back({name, std::clamp(static_cast<double>(d.score), 0.0, 1.0),
                         std::clamp(d.box.x1 / width, 0.0, 1.0), std::clamp(d.box.y1 / height, 0.0, 1.0),
                         std::clamp(d.box.x2 / width, 0.0, 1.0), std::clamp(d.box.y2 / height, 0.0, 1.0)});
  }
  return out;
}

}  // namespace canopy::server
