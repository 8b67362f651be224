// Field renderer throughput on one core: `canopy dataset generate`'s work
// (render, JPEG-encode, write image and labels) against only JPEG-encoding
// and writing the same number of already-rendered images, the floor any
// renderer writing JPEG files pays.
//
// Training throughput: canopy-train's loop (JPEG decode, augmentation incl.
// mosaic, batching in the background, loss with target assignment, AdamW,
// EMA) against a plain libtorch loop over the same model and batch size that
// trains on one batch already in memory (forward, the same loss, backward,
// step). The ratio says how much the data pipeline and bookkeeping cost: 1.0
// would mean they are free.
#include <CLI/CLI.hpp>
#include <opencv2/core/utility.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "report.h"
#include "train/data_loader.h"
#include "train/loss.h"
#include "train/model.h"
#include "train/trainer.h"
#include "vision/dataset_formats.h"
#include "vision/field_renderer.h"
#include "vision/image.h"
#include "vision/image_codec.h"

namespace {

using namespace canopy;
namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Images per second of a bare loop on one fixed batch.
double plain_loop(const vision::Dataset& dataset, const train::DetectorConfig& config, int batch_size, int steps) {
  torch::manual_seed(0);
  train::FieldDetector model(config);
  model->train();
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-3));
  train::LoaderOptions options;
  options.input_size = config.input_size;
  options.batch_size = batch_size;
  train::DataLoader loader(dataset, options);
  loader.start_epoch(0);
  const train::Batch batch = *loader.next();
  const auto step = [&] {
    const train::LossParts loss = train::detection_loss(model->forward(batch.images), batch.targets, config);
    optimizer.zero_grad();
    loss.total.backward();
    optimizer.step();
  };
  step();  // warm-up: first-call allocations and kernel selection
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  return double(steps * batch_size) / seconds_since(start);
}

struct RendererFigures {
  double images_per_second = 0;
  double encode_only_per_second = 0;
};

Result<RendererFigures> renderer_throughput(const fs::path& work, int images) {
  RendererFigures figures;
  vision::FieldOptions field;
  field.out = work / "renderer-bench";
  field.images = images;
  fs::remove_all(field.out);
  auto start = std::chrono::steady_clock::now();
  CANOPY_TRY(vision::generate_field_dataset(field));
  figures.images_per_second = images / seconds_since(start);

  CANOPY_ASSIGN_OR_RETURN(cv::Mat rendered, vision::read_image(field.out / "images/000000.jpg"));
  const fs::path copies = work / "renderer-bench-copies";
  fs::remove_all(copies);
  fs::create_directories(copies);
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < images; ++i) {
    CANOPY_ASSIGN_OR_RETURN(std::string jpeg, vision::encode_image(rendered, vision::ImageFormat::kJpeg, field.jpeg_quality));
    std::ofstream(copies / (std::to_string(i) + ".jpg"), std::ios::binary) << jpeg;
  }
  figures.encode_only_per_second = images / seconds_since(start);
  return figures;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Training throughput of canopy-train against a plain libtorch loop", "train_bench"};
  fs::path work = "bench-work", markdown;
  int images = 320, batch = 16, epochs = 2;
  app.add_option("--work", work, "scratch directory");
  app.add_option("--markdown", markdown, "docs/benchmarks.md to update");
  app.add_option("--images", images, "generated training images");
  app.add_option("--batch", batch, "batch size");
  app.add_option("--epochs", epochs, "epochs of the full loop (the first includes warm-up)");
  CLI11_PARSE(app, argc, argv);

  // OpenCV sequential: "on one core".
  cv::setNumThreads(0);
  auto renderer = renderer_throughput(work, 1000);
  if (!renderer.ok()) {
    std::fprintf(stderr, "error: %s\n", renderer.error().message.c_str());
    return 1;
  }

  const fs::path data = work / "train-bench-data";
  fs::remove_all(data);
  vision::FieldOptions field;
  field.out = data;
  field.images = images;
  if (auto status = vision::generate_field_dataset(field); !status.ok()) {
    std::fprintf(stderr, "error: %s\n", status.error().message.c_str());
    return 1;
  }
  auto loaded = vision::read_dataset(data, vision::DatasetFormat::kYolo);
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", loaded.error().message.c_str());
    return 1;
  }
  const vision::Dataset& dataset = loaded->dataset;
  vision::Dataset val = dataset;
  val.samples.resize(8);

  train::TrainOptions options;
  options.out = work / "train-bench-run";
  options.epochs = epochs;
  options.batch = batch;
  options.restart = true;
  options.show_progress = false;
  auto result = train::train_detector(dataset, val, options);
  if (!result.ok()) {
    std::fprintf(stderr, "error: %s\n", result.error().message.c_str());
    return 1;
  }
  // The last epoch: warm, and timed without its validation.
  const double pipeline = result->history.back().images_per_second;
  train::DetectorConfig config = options.model;
  config.classes = int(dataset.labels.size());
  const int steps = std::max(10, images / batch);
  const double plain = plain_loop(dataset, config, batch, steps);

  char table[1024];
  std::snprintf(table, sizeof table,
                "| loop | images/s | ratio |\n|---|---:|---:|\n"
                "| plain libtorch (one batch in memory) | %.1f | 1.00 |\n"
                "| canopy-train (decode, augment, EMA) | %.1f | %.2f |\n\n"
                "Default model (width %.2f, %d px), batch %d, %d generated images, %d threads.\n",
                plain, pipeline, pipeline / plain, config.width, config.input_size, batch, images,
                torch::get_num_threads());
  char renderer_table[512];
  std::snprintf(renderer_table, sizeof renderer_table,
                "| work (480x360, one core) | images/s | ratio |\n|---|---:|---:|\n"
                "| JPEG-encode and write only | %.0f | 1.00 |\n"
                "| canopy dataset generate (render, encode, write image and labels) | %.0f | %.2f |\n",
                renderer->encode_only_per_second, renderer->images_per_second,
                renderer->images_per_second / renderer->encode_only_per_second);
  std::printf("%s\n%s", renderer_table, table);
  if (!markdown.empty()) {
    for (auto [section, content] : {std::pair{"field-renderer", renderer_table}, std::pair{"train-throughput", table}}) {
      if (auto status = bench::replace_section(markdown, section, content); !status.ok()) {
        std::fprintf(stderr, "error: %s\n", status.error().message.c_str());
        return 1;
      }
    }
  }
  return 0;
}
