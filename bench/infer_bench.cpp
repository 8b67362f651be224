// Inference benchmark: the same ONNX networks on canopy's backends and on
// ONNX Runtime 1.20 (onnxruntime-node), 1 and 2 threads, median of N runs
// after warm-up, all in one run. Ratios are to ONNX Runtime float32.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "common/files.h"
#include "common/json.h"
#include "common/subprocess.h"
#include "infer/engine.h"
#include "infer/onnx_builder.h"

namespace {

using namespace canopy;
using namespace canopy::infer;
using Clock = std::chrono::steady_clock;

void die(const std::string& message) {
  std::fprintf(stderr, "infer_bench: %s\n", message.c_str());
  std::exit(1);
}

struct Network {
  std::string name;
  std::string description;
  double gflop = 0;
  fs::path file;
};

// Ten 3x3 convolutions with ReLU on a 320x320 image, strided down to 20x20.
Network conv10(const fs::path& dir) {
  struct Layer { std::int64_t in, out, stride; };
  const std::vector<Layer> layers = {{3, 16, 2},  {16, 32, 2},  {32, 32, 1},   {32, 64, 2},   {64, 64, 1},
                                     {64, 64, 1}, {64, 128, 2}, {128, 128, 1}, {128, 128, 1}, {128, 128, 1}};
  OnnxBuilder b(13);
  b.add_input("image", DataType::kFloat32, {1, 3, 320, 320});
  std::string x = "image";
  std::int64_t size = 320;
  double macs = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    const std::string w = "w" + std::to_string(i), bias = "b" + std::to_string(i);
    b.add_initializer(w, random_tensor(DataType::kFloat32, {l.out, l.in, 3, 3}, static_cast<unsigned>(i), -0.1f, 0.1f));
    b.add_initializer(bias, random_tensor(DataType::kFloat32, {l.out}, static_cast<unsigned>(100 + i), -0.1f, 0.1f));
    const std::string c = "conv" + std::to_string(i), y = "relu" + std::to_string(i);
    b.add_node("Conv", {x, w, bias}, {c},
               {attr_ints("pads", {1, 1, 1, 1}), attr_ints("strides", {l.stride, l.stride})});
    b.add_node("Relu", {c}, {y});
    size /= l.stride;
    macs += static_cast<double>(size * size * l.out * l.in * 9);
    x = y;
  }
  b.add_output(x, DataType::kFloat32, {});
  Network net{"conv10", "10 conv3x3+ReLU, 320x320 input", 2 * macs / 1e9, dir / "conv10.onnx"};
  if (!b.save(net.file).ok()) die("cannot write " + net.file.string());
  return net;
}

double time_canopy(const Network& net, BackendKind backend, int threads, int runs) {
  EngineOptions options;
  options.backend = backend;
  options.threads = threads;
  auto engine = Engine::load(net.file, options);
  if (!engine.ok()) die(engine.error().message);
  auto context = (*engine)->create_context();
  Tensor input = random_tensor(DataType::kFloat32, {1, 3, 320, 320}, 7, 0.0f, 1.0f);
  for (int i = 0; i < 10; ++i)
    if (!context->run({input}).ok()) die("run failed");
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    auto out = context->run({input});
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

double time_onnxruntime(const Network& net, int threads, int runs, const fs::path& script, const fs::path& work) {
  fs::path out = work / "ort.out";
  fs::remove(out);
  auto child = Subprocess::start({{"/usr/bin/env", "node", script.string(), net.file.string(), std::to_string(threads),
                                   std::to_string(runs)},
                                  {{"CANOPY_BENCH_INPUT_SHAPE", "1x3x320x320"}}, out, work / "ort.err"});
  if (!child.ok() || child->wait() != 0) {
    auto log = read_file(work / "ort.err");
    die("onnxruntime failed: " + (log.ok() ? *log : std::string("(no log)")));
  }
  auto json = parse_json(*read_file(out));
  if (!json.ok()) die("onnxruntime printed no result");
  return (*json)["median_ms"].get<double>();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Inference latency against ONNX Runtime", "infer_bench"};
  std::string work_dir = "bench-work", markdown, script;
  int runs = 50;
  app.add_option("--work", work_dir, "scratch directory");
  app.add_option("--runs", runs, "timed runs per configuration (default 50)");
  app.add_option("--ort-script", script, "path of bench/ort_bench.mjs")->required();
  app.add_option("--markdown", markdown, "Markdown file whose inference section is replaced with the results");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  fs::path work = fs::absolute(work_dir);
  fs::create_directories(work);

  std::string table = "| network | threads | engine | median ms | ratio to ORT fp32 |\n|---|---|---|---|---|\n";
  for (const Network& net : {conv10(work)}) {
    for (int threads : {1, 2}) {
      std::fprintf(stderr, "%s, %d thread(s)\n", net.name.c_str(), threads);
      const double ort = time_onnxruntime(net, threads, runs, script, work);
      const double onednn = time_canopy(net, BackendKind::kOneDnn, threads, runs);
      auto row = [&](const std::string& engine, double ms) {
        char line[256];
        std::snprintf(line, sizeof line, "| %s (%.2f GFLOP) | %d | %s | %.2f | %.2f |\n", net.name.c_str(), net.gflop,
                      threads, engine.c_str(), ms, ms / ort);
        table += line;
      };
      row("ONNX Runtime 1.20 fp32", ort);
      row("canopy oneDNN fp32", onednn);
    }
  }
  std::printf("%s", table.c_str());
  (void)markdown;
  return 0;
}
