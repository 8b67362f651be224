#include "train/qat.h"

#include "common/files.h"
#include "package/package.h"
#include "train/model.h"
#include "train/onnx_export.h"

namespace canopy::train {

namespace {

namespace fs = std::filesystem;

// Puts fake quantization on every convolution the quantizer will make int8,
// found by module path (the exporter names each Conv node after its module).
void make_quantization_aware(FieldDetectorImpl& model, const std::map<std::string, InputRange>& ranges) {
  for (const auto& item : model.named_modules("", false)) {
    if (auto* unit = item.value()->as<ConvBnActImpl>()) {
      auto range = ranges.find(item.key());
      if (range != ranges.end()) unit->fake_quant = FakeQuant{range->second.scale, range->second.is_signed};
    } else if (auto* head = item.value()->as<HeadImpl>()) {
      auto range = ranges.find(item.key() + ".cls");
      if (range != ranges.end()) head->fake_quant = FakeQuant{range->second.scale, range->second.is_signed};
    }
  }
}

}  // namespace

Result<Json> quantize_aware_package(const fs::path& package_dir, const std::vector<cv::Mat>& calibration,
                                    const vision::Dataset& train_set, const vision::Dataset& validation,
                                    const QatOptions& options, const fs::path& out_dir) {
  CANOPY_ASSIGN_OR_RETURN(std::string manifest_bytes, read_file(package_dir / package::kManifestName));
  CANOPY_ASSIGN_OR_RETURN(package::Manifest manifest, package::parse_manifest(manifest_bytes));
  CANOPY_ASSIGN_OR_RETURN(
      auto ranges, calibrated_conv_inputs(package_dir / manifest.model_file().path, manifest, calibration,
                                          options.calibrator, options.quantize));
  TrainOptions finetune = options.finetune;
  finetune.out = out_dir / "qat";
  finetune.init_from = package_dir;
  finetune.restart = true;
  finetune.prepare_model = [&ranges](FieldDetectorImpl& model) { make_quantization_aware(model, ranges); };
  auto trained = train_detector(train_set, validation, finetune);
  if (!trained.ok()) return trained.error();
  CANOPY_ASSIGN_OR_RETURN(LoadedModel tuned, load_model(finetune.out / "best.pt"));

  PackageExport exported;
  exported.directory = finetune.out / "package";
  std::error_code ec;
  fs::remove_all(exported.directory, ec);
  exported.name = manifest.name;
  exported.description = manifest.description;
  exported.labels = manifest.labels;
  exported.score_threshold = manifest.thresholds.score;
  exported.iou_threshold = manifest.thresholds.iou;
  exported.metrics = manifest.metrics;
  exported.lineage = manifest.lineage;
  exported.lineage["parent_package"] = fs::absolute(package_dir).string();
  exported.golden_images = golden_images_from(validation, tuned.model->config.input_size, 2);
  CANOPY_TRY(export_package(*tuned.model, exported));
  return quantize_package(exported.directory, calibration, validation, options.quantize, out_dir,
                          package_dir);
}

}  // namespace canopy::train
