// The labeling queue at scale (docs/labeling.md): with N samples stored
// (100,000 by default), how long the next task takes to come out of the
// queue, with and without filters, against a reference measured in the same
// run: reading one sample by its id from the sample store (an indexed row
// and its JSON). Also the one-time cost of making the N samples tasks. The
// store and queue are the server's own classes on a real SQLite file; the
// HTTP around them adds well under a millisecond on loopback.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/keys.h"
#include "common/progress.h"
#include "report.h"
#include "server/area_links.h"
#include "server/labeling/label_queue.h"
#include "server/samples/sample_store.h"
#include "vision/image_codec.h"

namespace fs = std::filesystem;
using namespace canopy;
using bench::check;

namespace {

constexpr std::int64_t kT0 = 1'780'000'000'000;
constexpr int kDevices = 20;
constexpr int kBatch = 500;
const std::vector<std::string> kFields = {"north", "south", "east"};
const std::vector<std::string> kStrategies = {"uncertainty", "temporal", "novelty", "class_balance",
                                              "random"};
const std::vector<std::string> kClasses = {"healthy", "diseased", "water_stressed"};

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

// Stores `count` samples: kDevices devices, three fields, mixed strategies,
// classes and scores; 64 distinct small images (the store keeps each once).
void fill(server::SampleStore& store, int count) {
  std::vector<std::string> images;
  for (int i = 0; i < 64; ++i) {
    cv::Mat image(48, 64, CV_8UC3, cv::Scalar(30 + i, 90, 150 - i));
    images.push_back(
        base64_encode(check(vision::encode_image(image, vision::ImageFormat::kJpeg, 80), "a JPEG")));
  }
  std::mt19937 random(7);
  std::uniform_real_distribution<double> unit(0, 1);
  ProgressReporter progress("storing samples", static_cast<std::uint64_t>(count), false);
  for (int first = 0; first < count; first += kBatch) {
    for (int device = 0; device < kDevices; ++device) {
      std::vector<api::Sample> batch;
      for (int n = first + device; n < std::min(count, first + kBatch); n += kDevices) {
        api::Sample s;
        s.camera = "row-1";
        s.captured_ms = kT0 + std::int64_t{n} * 1000;
        const std::string device_id = "device-" + std::to_string(device);
        s.id = api::sample_id(device_id, s.camera, s.captured_ms);
        s.field = kFields[static_cast<std::size_t>(device) % kFields.size()];
        s.model = "detector:2";
        const std::string& top = kClasses[static_cast<std::size_t>(n) % kClasses.size()];
        s.predictions = {{top, 0.4 + 0.5 * unit(random), 0.1, 0.1, 0.3, 0.3},
                         {"healthy", 0.3, 0.5, 0.5, 0.7, 0.7}};
        s.reasons = {{kStrategies[static_cast<std::size_t>(n) % kStrategies.size()], unit(random), ""}};
        s.width = 64;
        s.height = 48;
        s.jpeg_base64 = images[static_cast<std::size_t>(n) % images.size()];
        batch.push_back(std::move(s));
      }
      if (!batch.empty()) check(store.ingest("device-" + std::to_string(device), batch), "storing samples");
    }
    progress.update(static_cast<std::uint64_t>(std::min(count, first + kBatch)));
  }
  progress.finish();
}

struct Latency {
  double p50 = 0, p95 = 0;
};

Latency measure(int rounds, const std::function<void()>& once) {
  std::vector<double> times;
  for (int i = 0; i < rounds; ++i) {
    const auto start = std::chrono::steady_clock::now();
    once();
    times.push_back(elapsed_ms(start));
  }
  return {bench::percentile(times, 0.5), bench::percentile(times, 0.95)};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The labeling queue's next task with many samples stored, against reading one sample by id"};
  int count = 100'000;
  int rounds = 200;
  std::string work = "build/bench-work";
  std::string markdown;
  app.add_option("--samples", count, "samples stored (default 100000)")->check(CLI::Range(1000, 10'000'000));
  app.add_option("--rounds", rounds, "tasks taken per measurement (default 200)")
      ->check(CLI::Range(10, 100'000));
  app.add_option("--work", work, "directory for the store (kept between runs of the same size)");
  app.add_option("--markdown", markdown, "write the results into this file's labeling section");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  const fs::path dir = fs::path(work) / ("labeling-" + std::to_string(count));
  const bool fresh = !fs::exists(dir / "filled");
  if (fresh) fs::remove_all(dir);
  fs::create_directories(dir);
  SystemClock& clock = static_cast<SystemClock&>(system_clock());
  server::SampleStoreOptions options;
  options.max_samples_per_device = count;
  auto store = check(server::SampleStore::open(check(server::Database::open_in(dir), "the database"),
                                               dir / "samples", clock, options),
                     "the sample store");
  if (fresh) {
    fill(*store, count);
    check(write_file_atomic(dir / "filled", "yes\n"), "marking the store filled");
  }
  // The queue starts empty every run, so the first sync is measured.
  check(server::Database::open_in(dir).value().exec(
            "DROP TABLE IF EXISTS label_tasks; DROP TABLE IF EXISTS label_revisions; DROP TABLE IF EXISTS "
            "label_class_counts; DROP TABLE IF EXISTS label_cursor; DELETE FROM schema_versions WHERE area = "
            "'labeling'"),
        "resetting the queue");
  server::SampleStoreSource source(*store);
  auto queue =
      check(server::LabelQueue::open(check(server::Database::open_in(dir), "the database"), source, clock),
            "the queue");

  auto start = std::chrono::steady_clock::now();
  check(queue->stats(), "the first sync");
  const double first_sync_ms = elapsed_ms(start);

  int n = 0;
  auto take_and_label = [&](const api::TaskFilter& filter) {
    const std::string actor = "labeler-" + std::to_string(n++ % 8);
    auto task = check(queue->next(actor, filter), "the next task");
    if (!task) bench::die("the queue ran dry");
    api::LabelSubmission submission;
    submission.boxes = {{"diseased", 1, 0.1, 0.1, 0.3, 0.3}};
    check(queue->submit(task->sample_id, actor, submission), "a submission");
  };
  std::vector<double> next_times, filtered_times;
  for (int i = 0; i < rounds; ++i) {
    const auto at = std::chrono::steady_clock::now();
    take_and_label({});
    next_times.push_back(elapsed_ms(at));
  }
  for (int i = 0; i < rounds; ++i) {
    api::TaskFilter filter;
    filter.field = "south";
    filter.predicted_class = "water_stressed";
    const auto at = std::chrono::steady_clock::now();
    take_and_label(filter);
    filtered_times.push_back(elapsed_ms(at));
  }
  // Sample s is device (s mod kDevices)'s, captured at kT0 + s seconds (fill()).
  std::vector<std::string> ids;
  for (int i = 0; i < rounds; ++i) {
    const std::int64_t s = (std::int64_t{i} * 7919) % count;
    ids.push_back(api::sample_id("device-" + std::to_string(s % kDevices), "row-1", kT0 + s * 1000));
  }
  int k = 0;
  const Latency reference = measure(rounds, [&] {
    check(store->get(ids[static_cast<std::size_t>(k++) % ids.size()]), "the reference read");
  });

  const double next_p50 = bench::percentile(next_times, 0.5), next_p95 = bench::percentile(next_times, 0.95);
  const double filtered_p50 = bench::percentile(filtered_times, 0.5),
               filtered_p95 = bench::percentile(filtered_times, 0.95);
  std::string report;
  report += "Run: `bench/labeling_bench --samples " + std::to_string(count) + "` (" + std::to_string(rounds) +
            " tasks per row, each taken from the queue and labeled, both timed; 8 labelers in turn).\n\n";
  report += "| with " + std::to_string(count) +
            " samples stored | p50 ms | p95 ms | p50 / reference |\n|---|---|---|---|\n";
  report += "| next task + submit | " + bench::fmt("%.1f", next_p50) + " | " + bench::fmt("%.1f", next_p95) +
            " | " + bench::fmt("%.0f", next_p50 / reference.p50) + "× |\n";
  report += "| next task + submit, filtered by field and predicted class | " +
            bench::fmt("%.1f", filtered_p50) + " | " + bench::fmt("%.1f", filtered_p95) + " | " +
            bench::fmt("%.0f", filtered_p50 / reference.p50) + "× |\n";
  report += "| reference: one sample read by id | " + bench::fmt("%.2f", reference.p50) + " | " +
            bench::fmt("%.2f", reference.p95) + " | 1× |\n\n";
  report += "Making the " + std::to_string(count) +
            " stored samples tasks the first time: " + bench::fmt("%.1f", first_sync_ms / 1000) +
            " s (once; later samples join as they arrive).\n";
  std::printf("%s", report.c_str());
  if (!markdown.empty()) check(bench::replace_section(markdown, "labeling", report), "writing " + markdown);
  return 0;
}
