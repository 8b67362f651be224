// What a compression run reports, for the original model and each
// compressed one: parameters, file size, GFLOPs, latency and memory on the
// inference engine (one thread), and accuracy on a validation set measured
// by the engine. The same JSON goes into the compressed package's manifest
// (metrics.compression), so a pipeline can choose and gate on it.
// Also the package directory of a compressed model, derived from the
// original's. No libtorch. Thread-safety: one call at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "infer/engine.h"
#include "package/manifest.h"
#include "vision/dataset.h"
#include "vision/metrics.h"

namespace canopy::train {

struct ModelFigures {
  std::string variant;  // "original", "int8", "pruned", ...
  std::int64_t parameters = 0;   // convolution weights and biases
  std::uint64_t file_bytes = 0;  // the ONNX file
  double gflops = 0;             // 2 x multiply-adds of the convolutions, batch 1
  double latency_ms = 0;         // median, one thread, after warm-up
  std::uint64_t memory_bytes = 0;  // engine: prepared constants + activation arena
  vision::EvaluationResult accuracy;
};

struct MeasureOptions {
  infer::EngineOptions engine;  // threads = 1 for the report
  int warmup_runs = 5;
  int timed_runs = 30;
};

Result<ModelFigures> measure_model(const std::string& variant, const std::filesystem::path& onnx_file,
                                   const package::Manifest& manifest, const vision::Dataset& validation,
                                   const MeasureOptions& options);

// {"models": [...], "labels": [...], "compressed": the last model} with
// ratios to the first (original) model.
Json report_json(const std::vector<ModelFigures>& models, const std::vector<std::string>& labels);
// The same as a table on stdout.
void print_report(const std::vector<ModelFigures>& models, const std::vector<std::string>& labels);

// Writes `out_dir` as a package of `onnx_model`, derived from the package in
// `source_dir`: same name, labels, input, decoder and thresholds; golden
// inputs copied and their outputs recomputed by the new model on the
// reference backend, with a tolerance that covers every backend's result;
// `metrics` replace the original's; lineage names the parent package.
Status write_derived_package(const std::filesystem::path& source_dir, const std::string& onnx_model,
                             const std::filesystem::path& out_dir, const Json& metrics, const Json& lineage);

}  // namespace canopy::train
