#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli.h"
#include "common/files.h"
#include "infer/detector.h"
#include "infer/onnx_builder.h"
#include "package/package.h"
#include "vision/image.h"

namespace canopy::cli {

namespace {

struct InferArgs {
  std::string model;
  std::vector<std::string> images;
  std::string draw;
  std::string backend = "auto";
  int threads = 1;
  float score = -1;
  float iou = -1;
  std::string labels;
};

struct BenchArgs {
  std::string model;
  std::string backend = "auto";
  int threads = 1;
  int runs = 100;
  int warmup = 10;
  std::int64_t batch = 1;
};

// A model argument: a package directory, a package zip (verified and
// extracted to a temp directory), or a bare .onnx file.
struct ModelSource {
  fs::path onnx;
  std::optional<package::Manifest> manifest;
  std::optional<fs::path> temp_dir;
  ~ModelSource() {
    std::error_code ec;
    if (temp_dir) fs::remove_all(*temp_dir, ec);
  }
};

Result<std::unique_ptr<ModelSource>> open_model(const std::string& path) {
  auto source = std::make_unique<ModelSource>();
  std::error_code ec;
  fs::path dir = path;
  if (fs::is_regular_file(path, ec) && fs::path(path).extension() == ".zip") {
    CANOPY_ASSIGN_OR_RETURN(fs::path temp, make_temp_dir(fs::temp_directory_path(), "canopy-model-"));
    source->temp_dir = temp;
    package::VerifyOptions verify;
    verify.allow_unsigned = true;
    CANOPY_ASSIGN_OR_RETURN(auto info, package::extract_package(path, temp / "package", verify));
    (void)info;
    dir = temp / "package";
  }
  if (fs::is_directory(dir, ec)) {
    CANOPY_ASSIGN_OR_RETURN(std::string bytes, read_file(dir / package::kManifestName));
    CANOPY_ASSIGN_OR_RETURN(package::Manifest manifest, package::parse_manifest(bytes));
    source->onnx = dir / manifest.model_file().path;
    source->manifest = std::move(manifest);
    return source;
  }
  if (!fs::is_regular_file(path, ec)) return make_error(ErrorCode::kNotFound, path + " does not exist");
  source->onnx = path;
  return source;
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())))];
}

Status run_infer(const InferArgs& args, const Globals& globals) {
  CANOPY_ASSIGN_OR_RETURN(auto source, open_model(args.model));
  infer::DetectorOptions options;
  CANOPY_ASSIGN_OR_RETURN(options.engine.backend, infer::parse_backend(args.backend));
  options.engine.threads = args.threads;
  options.score_threshold = args.score;
  options.iou_threshold = args.iou;
  package::Manifest manifest;
  if (source->manifest) {
    manifest = *source->manifest;
  } else {
    // A bare ONNX file: the labels come from the command line, the rest from defaults.
    manifest.labels = split(args.labels, ',');
    if (manifest.labels.empty())
      return make_error(ErrorCode::kInvalidArgument,
                        "a bare .onnx model needs --labels a,b,c (or use a package)");
    manifest.output = Json{{"decoder", "auto"}};
  }
  if (!args.labels.empty()) manifest.labels = split(args.labels, ',');
  CANOPY_ASSIGN_OR_RETURN(auto detector, infer::Detector::load(source->onnx, manifest, options));
  if (!source->manifest) {
    // Take the input size from the model itself.
    const auto& shape = detector->engine().inputs()[0].shape;
    if (shape.size() == 4 && shape[2] > 0 && shape[3] > 0) manifest.input.shape = {1, 3, shape[2], shape[3]};
    CANOPY_ASSIGN_OR_RETURN(detector, infer::Detector::load(source->onnx, manifest, options));
  }
  Json all = Json::array();
  for (const auto& path : args.images) {
    CANOPY_ASSIGN_OR_RETURN(cv::Mat image, vision::read_image(path));
    CANOPY_ASSIGN_OR_RETURN(auto detections, detector->detect(image));
    Json list = Json::array();
    for (const auto& d : detections) {
      const std::string name = static_cast<size_t>(d.label) < manifest.labels.size()
                                   ? manifest.labels[static_cast<size_t>(d.label)]
                                   : std::to_string(d.label);
      list.push_back(
          {{"label", name}, {"score", d.score}, {"box", {d.box.x1, d.box.y1, d.box.x2, d.box.y2}}});
      if (!globals.json)
        std::printf("%s\t%s\t%.3f\t%.1f %.1f %.1f %.1f\n", path.c_str(), name.c_str(), d.score, d.box.x1,
                    d.box.y1, d.box.x2, d.box.y2);
    }
    if (!globals.json && detections.empty()) std::printf("%s\t(no detections)\n", path.c_str());
    all.push_back({{"image", path}, {"detections", list}});
    if (!args.draw.empty()) {
      std::error_code ec;
      fs::create_directories(args.draw, ec);
      vision::draw_detections(image, detections, manifest.labels);
      CANOPY_TRY(vision::write_image(fs::path(args.draw) / fs::path(path).filename(), image));
    }
  }
  if (globals.json) print_json(all);
  return {};
}

Status run_bench(const BenchArgs& args, const Globals& globals) {
  CANOPY_ASSIGN_OR_RETURN(auto source, open_model(args.model));
  infer::EngineOptions options;
  CANOPY_ASSIGN_OR_RETURN(options.backend, infer::parse_backend(args.backend));
  options.threads = args.threads;
  CANOPY_ASSIGN_OR_RETURN(auto engine, infer::Engine::load(source->onnx, options));
  std::vector<infer::Tensor> inputs;
  unsigned seed = 1;
  for (const auto& spec : engine->inputs()) {
    infer::Shape shape = spec.shape;
    for (auto& d : shape)
      if (d < 0) d = 1;
    if (!shape.empty()) shape[0] = args.batch;
    inputs.push_back(infer::random_tensor(spec.dtype, shape, seed++, 0.0f, 1.0f));
  }
  auto context = engine->create_context();
  for (int i = 0; i < args.warmup; ++i) CANOPY_TRY(context->run(inputs));
  std::vector<double> ms;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < args.runs; ++i) {
    auto t = std::chrono::steady_clock::now();
    CANOPY_TRY(context->run(inputs));
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  Json backends = Json::object();
  for (const auto& [name, count] : engine->kernels_by_backend()) backends[name] = count;
  Json result = {
      {"model", args.model},
      {"backend", infer::backend_kind_name(engine->backend())},
      {"threads", args.threads},
      {"batch", args.batch},
      {"runs", args.runs},
      {"latency_ms",
       {{"p50", percentile(ms, 0.5)}, {"p90", percentile(ms, 0.9)}, {"p99", percentile(ms, 0.99)}}},
      {"throughput_per_s", static_cast<double>(args.runs * args.batch) / seconds},
      {"peak_rss_bytes", static_cast<std::int64_t>(usage.ru_maxrss) * 1024},
      {"arena_bytes", context->arena_bytes()},
      {"kernels", backends}};
  if (globals.json) {
    print_json(result);
  } else {
    std::printf("model       %s\nbackend     %s, %d thread(s), batch %lld\n", args.model.c_str(),
                std::string(infer::backend_kind_name(engine->backend())).c_str(), args.threads,
                static_cast<long long>(args.batch));
    std::printf("latency     p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  (%d runs)\n", percentile(ms, 0.5),
                percentile(ms, 0.9), percentile(ms, 0.99), args.runs);
    std::printf("throughput  %.1f inferences/s\n", static_cast<double>(args.runs * args.batch) / seconds);
    std::printf("memory      peak RSS %s, arena %s\n",
                format_bytes(static_cast<std::uint64_t>(usage.ru_maxrss) * 1024).c_str(),
                format_bytes(context->arena_bytes()).c_str());
    std::printf("kernels     %s\n", backends.dump().c_str());
  }
  return {};
}

}  // namespace

void register_infer_commands(CLI::App& app, Globals& globals, int& exit_code) {
  auto args = std::make_shared<InferArgs>();
  auto* infer = app.add_subcommand(
      "infer", "Detect objects in images with a model (package dir, package zip or .onnx)");
  infer->add_option("MODEL", args->model, "package directory, package zip, or ONNX file")->required();
  infer->add_option("IMAGE", args->images, "images to run on")->required();
  infer->add_option("--draw", args->draw, "write annotated copies of the images into this directory");
  infer->add_option("--backend", args->backend, "auto, onednn, xnnpack or reference");
  infer->add_option("--threads", args->threads, "threads per inference");
  infer->add_option("--score", args->score, "minimum score (default: the manifest's)");
  infer->add_option("--iou", args->iou, "NMS overlap threshold (default: the manifest's)");
  infer->add_option("--labels", args->labels, "class names, comma-separated (needed for a bare .onnx)");
  set_action(infer, exit_code, [args, &globals]() { return run_infer(*args, globals); });

  auto bench_args = std::make_shared<BenchArgs>();
  auto* bench = app.add_subcommand("bench", "Measure performance");
  bench->require_subcommand(1);
  auto* bench_infer =
      bench->add_subcommand("infer", "Latency percentiles, throughput and peak memory of a model");
  bench_infer->add_option("MODEL", bench_args->model, "package directory, package zip, or ONNX file")
      ->required();
  bench_infer->add_option("--backend", bench_args->backend, "auto, onednn, xnnpack or reference");
  bench_infer->add_option("--threads", bench_args->threads, "threads per inference");
  bench_infer->add_option("--runs", bench_args->runs, "timed runs");
  bench_infer->add_option("--warmup", bench_args->warmup, "untimed runs first");
  bench_infer->add_option("--batch", bench_args->batch, "batch size");
  set_action(bench_infer, exit_code, [bench_args, &globals]() { return run_bench(*bench_args, globals); });
}

}  // namespace canopy::cli
