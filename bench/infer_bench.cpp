// Inference benchmark: the same ONNX networks on canopy's backends and on
// ONNX Runtime 1.20 (onnxruntime-node), 1 and 2 threads, median of N runs
// after warm-up, all in one run. Ratios are to ONNX Runtime float32.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "common/files.h"
#include "common/json.h"
#include "common/subprocess.h"
#include "infer/engine.h"
#include "infer/onnx_builder.h"
#include "report.h"
#include "torch_reference.h"

namespace {

using canopy::bench::die;
using namespace canopy;
using namespace canopy::infer;
using Clock = std::chrono::steady_clock;

struct Network {
  std::string name;
  std::string precision;
  double gflop = 0;
  fs::path file;
};

struct Layer {
  std::int64_t in, out, stride;
};

// Ten 3x3 convolutions with ReLU on a 320x320 image, strided down to 20x20.
const std::vector<Layer> kConv10 = {{3, 16, 2},  {16, 32, 2},  {32, 32, 1},   {32, 64, 2},   {64, 64, 1},
                                    {64, 64, 1}, {64, 128, 2}, {128, 128, 1}, {128, 128, 1}, {128, 128, 1}};

Tensor layer_weights(size_t i) {
  const auto& l = kConv10[i];
  return random_tensor(DataType::kFloat32, {l.out, l.in, 3, 3}, static_cast<unsigned>(i), -0.1f, 0.1f);
}

Tensor layer_bias(size_t i) {
  return random_tensor(DataType::kFloat32, {kConv10[i].out}, static_cast<unsigned>(100 + i), -0.1f, 0.1f);
}

// The float32 network; with `all_outputs` every ReLU output is a graph
// output (for calibrating the int8 version).
OnnxBuilder conv10_fp32(bool all_outputs, double* gflop) {
  OnnxBuilder b(13);
  b.add_input("image", DataType::kFloat32, {1, 3, 320, 320});
  std::string x = "image";
  std::int64_t size = 320;
  double macs = 0;
  for (size_t i = 0; i < kConv10.size(); ++i) {
    const auto& l = kConv10[i];
    const std::string w = "w" + std::to_string(i), bias = "b" + std::to_string(i);
    b.add_initializer(w, layer_weights(i)).add_initializer(bias, layer_bias(i));
    const std::string c = "conv" + std::to_string(i), y = "relu" + std::to_string(i);
    b.add_node("Conv", {x, w, bias}, {c}, {attr_ints("pads", {1, 1, 1, 1}), attr_ints("strides", {l.stride, l.stride})});
    b.add_node("Relu", {c}, {y});
    size /= l.stride;
    macs += static_cast<double>(size * size * l.out * l.in * 9);
    if (all_outputs || i + 1 == kConv10.size()) b.add_output(y, DataType::kFloat32, {});
    x = y;
  }
  if (gflop) *gflop = 2 * macs / 1e9;
  return b;
}

Tensor scalar(float v) {
  Tensor t = Tensor::allocate(DataType::kFloat32, {});
  t.data<float>()[0] = v;
  return t;
}

// The QDQ int8 version, as a quantizer writes it: per-channel symmetric
// int8 weights, uint8 activations (after ReLU, zero point 0) with scales
// from the largest value each layer produced on calibration images.
OnnxBuilder conv10_int8(const std::vector<float>& activation_max) {
  OnnxBuilder b(13);
  b.add_input("image", DataType::kFloat32, {1, 3, 320, 320});
  b.add_initializer("zp", Tensor::allocate(DataType::kUInt8, {}));
  b.add_initializer("s_in", scalar(1.0f / 255.0f));
  b.add_node("QuantizeLinear", {"image", "s_in", "zp"}, {"q_in"});
  std::string xq = "q_in", xs = "s_in";
  for (size_t i = 0; i < kConv10.size(); ++i) {
    const auto& l = kConv10[i];
    const std::string n = std::to_string(i);
    Tensor w = layer_weights(i);
    Tensor wq = Tensor::allocate(DataType::kInt8, w.shape());
    Tensor ws = Tensor::allocate(DataType::kFloat32, {l.out});
    const std::int64_t per = w.numel() / l.out;
    for (std::int64_t m = 0; m < l.out; ++m) {
      float largest = 1e-8f;
      for (std::int64_t k = 0; k < per; ++k) largest = std::max(largest, std::fabs(w.data<float>()[m * per + k]));
      ws.data<float>()[m] = largest / 127.0f;
      for (std::int64_t k = 0; k < per; ++k)
        wq.data<std::int8_t>()[m * per + k] = static_cast<std::int8_t>(std::nearbyint(w.data<float>()[m * per + k] / ws.data<float>()[m]));
    }
    b.add_initializer("wq" + n, wq).add_initializer("ws" + n, ws);
    b.add_initializer("wzp" + n, Tensor::allocate(DataType::kInt8, {l.out}));
    b.add_initializer("b" + n, layer_bias(i));
    b.add_initializer("ys" + n, scalar(std::max(activation_max[i], 1e-6f) / 255.0f));
    b.add_node("DequantizeLinear", {xq, xs, "zp"}, {"xd" + n});
    b.add_node("DequantizeLinear", {"wq" + n, "ws" + n, "wzp" + n}, {"wd" + n}, {attr_int("axis", 0)});
    b.add_node("Conv", {"xd" + n, "wd" + n, "b" + n}, {"c" + n},
               {attr_ints("pads", {1, 1, 1, 1}), attr_ints("strides", {l.stride, l.stride})});
    b.add_node("Relu", {"c" + n}, {"r" + n});
    b.add_node("QuantizeLinear", {"r" + n, "ys" + n, "zp"}, {"q" + n});
    xq = "q" + n;
    xs = "ys" + n;
  }
  b.add_node("DequantizeLinear", {xq, xs, "zp"}, {"output"});
  b.add_output("output", DataType::kFloat32, {});
  return b;
}

std::vector<Network> conv10(const fs::path& dir) {
  double gflop = 0;
  Network fp32{"conv10", "fp32", 0, dir / "conv10.onnx"};
  if (!conv10_fp32(false, &gflop).save(fp32.file).ok()) die("cannot write " + fp32.file.string());
  fp32.gflop = gflop;
  // Calibrate on a few images with the float network.
  const fs::path calibration = dir / "conv10-calibration.onnx";
  if (!conv10_fp32(true, nullptr).save(calibration).ok()) die("cannot write the calibration model");
  auto engine = Engine::load(calibration, {});
  if (!engine.ok()) die(engine.error().message);
  std::vector<float> largest(kConv10.size(), 0.0f);
  for (unsigned seed = 0; seed < 4; ++seed) {
    auto outputs = (*engine)->run({random_tensor(DataType::kFloat32, {1, 3, 320, 320}, seed, 0.0f, 1.0f)});
    if (!outputs.ok()) die(outputs.error().message);
    for (size_t i = 0; i < kConv10.size(); ++i)
      for (float v : to_float_vector((*outputs)[i])) largest[i] = std::max(largest[i], v);
  }
  Network int8{"conv10", "int8 (QDQ)", gflop, dir / "conv10-int8.onnx"};
  if (!conv10_int8(largest).save(int8.file).ok()) die("cannot write " + int8.file.string());
  return {fp32, int8};
}

// A small YOLO-style detector (the shape of network the field models are):
// strided conv stem, C2f-like blocks (1x1 conv, split, two 3x3 convs with a
// residual, concat, 1x1 conv), SPPF (three 5x5 max pools), a 2x nearest
// upsample joined with the stride-16 features, and two heads whose outputs
// are concatenated as [1, 4+3, boxes] (the yolov8 layout). SiLU everywhere.
class DetectorNet {
 public:
  explicit DetectorNet(OnnxBuilder& b) : b_(b) {}

  std::string conv(const std::string& x, std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride,
                   bool activation = true) {
    const std::string n = std::to_string(count_++);
    b_.add_initializer("w" + n, random_tensor(DataType::kFloat32, {out, in, k, k}, static_cast<unsigned>(count_),
                                              -0.2f, 0.2f));
    b_.add_initializer("b" + n, random_tensor(DataType::kFloat32, {out}, static_cast<unsigned>(1000 + count_), -0.1f, 0.1f));
    const std::int64_t pad = k / 2;
    b_.add_node("Conv", {x, "w" + n, "b" + n}, {"c" + n},
                {attr_ints("pads", {pad, pad, pad, pad}), attr_ints("strides", {stride, stride})});
    macs_ += static_cast<double>(in * out * k * k) * current_area(stride);
    if (!activation) return "c" + n;
    b_.add_node("Sigmoid", {"c" + n}, {"s" + n});
    b_.add_node("Mul", {"c" + n, "s" + n}, {"a" + n});
    return "a" + n;
  }

  std::string c2f(const std::string& x, std::int64_t channels) {
    const std::string n = std::to_string(count_);
    std::string y = conv(x, channels, channels, 1, 1);
    b_.add_initializer("split" + n, int64s({channels / 2, channels / 2}));
    b_.add_node("Split", {y, "split" + n}, {"l" + n, "r" + n}, {attr_int("axis", 1)});
    std::string h = conv("r" + n, channels / 2, channels / 2, 3, 1);
    h = conv(h, channels / 2, channels / 2, 3, 1);
    b_.add_node("Add", {"r" + n, h}, {"res" + n});
    b_.add_node("Concat", {"l" + n, "r" + n, "res" + n}, {"cat" + n}, {attr_int("axis", 1)});
    return conv("cat" + n, channels * 3 / 2, channels, 1, 1);
  }

  std::string sppf(const std::string& x, std::int64_t channels) {
    const std::string n = std::to_string(count_);
    std::string y = conv(x, channels, channels / 2, 1, 1);
    std::vector<std::string> parts{y};
    for (int i = 0; i < 3; ++i) {
      const std::string p = "pool" + n + "_" + std::to_string(i);
      b_.add_node("MaxPool", {parts.back()}, {p},
                  {attr_ints("kernel_shape", {5, 5}), attr_ints("pads", {2, 2, 2, 2}), attr_ints("strides", {1, 1})});
      parts.push_back(p);
    }
    b_.add_node("Concat", parts, {"spp" + n}, {attr_int("axis", 1)});
    return conv("spp" + n, channels * 2, channels, 1, 1);
  }

  std::string head(const std::string& x, std::int64_t channels, std::int64_t cells) {
    const std::string n = std::to_string(count_);
    std::string y = conv(x, channels, channels, 3, 1);
    y = conv(y, channels, 7, 1, 1, false);
    b_.add_initializer("shape" + n, int64s({1, 7, cells}));
    b_.add_node("Reshape", {y, "shape" + n}, {"flat" + n});
    return "flat" + n;
  }

  void set_area(std::int64_t side) { side_ = side; }
  double gflop() const { return 2 * macs_ / 1e9; }

 private:
  double current_area(std::int64_t stride) const {
    const double out = static_cast<double>(side_ / stride);
    return out * out;
  }
  static Tensor int64s(std::vector<std::int64_t> values) {
    Tensor t = Tensor::allocate(DataType::kInt64, {static_cast<std::int64_t>(values.size())});
    for (size_t i = 0; i < values.size(); ++i) t.data<std::int64_t>()[i] = values[i];
    return t;
  }

  OnnxBuilder& b_;
  int count_ = 0;
  std::int64_t side_ = 320;
  double macs_ = 0;
};

Network detector(const fs::path& dir) {
  OnnxBuilder b(13);
  b.add_input("image", DataType::kFloat32, {1, 3, 320, 320});
  DetectorNet net(b);
  std::string x = net.conv("image", 3, 16, 3, 2);
  net.set_area(160);
  x = net.conv(x, 16, 32, 3, 2);
  net.set_area(80);
  x = net.c2f(x, 32);
  x = net.conv(x, 32, 64, 3, 2);
  net.set_area(40);
  const std::string p4 = net.c2f(x, 64);
  x = net.conv(p4, 64, 128, 3, 2);
  net.set_area(20);
  x = net.c2f(x, 128);
  const std::string p5 = net.sppf(x, 128);
  b.add_initializer("roi", Tensor::allocate(DataType::kFloat32, {0}));
  Tensor scales = Tensor::allocate(DataType::kFloat32, {4});
  for (int i = 0; i < 4; ++i) scales.data<float>()[i] = i < 2 ? 1.0f : 2.0f;
  b.add_initializer("scales", scales);
  b.add_node("Resize", {p5, "roi", "scales"}, {"up"}, {attr_string("mode", "nearest")});
  b.add_node("Concat", {"up", p4}, {"neck"}, {attr_int("axis", 1)});
  net.set_area(40);
  std::string n4 = net.conv("neck", 192, 64, 1, 1);
  n4 = net.c2f(n4, 64);
  const std::string h4 = net.head(n4, 64, 40 * 40);
  net.set_area(20);
  const std::string h5 = net.head(p5, 128, 20 * 20);
  b.add_node("Concat", {h4, h5}, {"detections"}, {attr_int("axis", 2)});
  b.add_output("detections", DataType::kFloat32, {});
  Network result{"detector", "fp32", net.gflop(), dir / "detector.onnx"};
  if (!b.save(result.file).ok()) die("cannot write " + result.file.string());
  return result;
}

// The detector canopy-train trains and ships (default size).
Network field_detector(const fs::path& dir) {
  Network result{"field detector", "fp32", 0, dir / "field_detector.onnx"};
  result.gflop = bench::export_field_detector(result.file);
  return result;
}

// Its int8 version, written by canopy-train's quantizer (QDQ).
Network field_detector_int8(const Network& fp32, const fs::path& dir) {
  Network result{fp32.name, "int8 (QDQ)", fp32.gflop, dir / "field_detector-int8.onnx"};
  bench::quantize_field_detector(fp32.file, dir, result.file);
  return result;
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

  std::string table =
      "| network | threads | engine | precision | median ms | ratio to ORT fp32 |\n|---|---|---|---|---|---|\n";
  const auto nets = conv10(work);
  for (int threads : {1, 2}) {
    std::fprintf(stderr, "conv10, %d thread(s)\n", threads);
    const double ort_fp32 = time_onnxruntime(nets[0], threads, runs, script, work);
    auto row = [&](const Network& net, const std::string& engine, double ms) {
      char line[256];
      std::snprintf(line, sizeof line, "| %s (%.2f GFLOP) | %d | %s | %s | %.2f | %.2f |\n", net.name.c_str(),
                    net.gflop, threads, engine.c_str(), net.precision.c_str(), ms, ms / ort_fp32);
      table += line;
    };
    row(nets[0], "ONNX Runtime 1.20", ort_fp32);
    row(nets[1], "ONNX Runtime 1.20", time_onnxruntime(nets[1], threads, runs, script, work));
    for (const auto& net : nets) row(net, "canopy oneDNN", time_canopy(net, BackendKind::kOneDnn, threads, runs));
    for (const auto& net : nets) row(net, "canopy XNNPACK", time_canopy(net, BackendKind::kXnnpack, threads, runs));
    std::vector<bench::ConvLayer> torch_layers;
    for (size_t i = 0; i < kConv10.size(); ++i)
      torch_layers.push_back({layer_weights(i), layer_bias(i), kConv10[i].stride, 1});
    row(nets[0], "libtorch 1.13 (same weights)",
        bench::torch_conv_relu_median_ms(torch_layers, {1, 3, 320, 320}, threads, runs));
    const Network field = field_detector(work);
    const Network field_int8 = field_detector_int8(field, work);
    for (const Network& net : {detector(work), field}) {
      const double ort = time_onnxruntime(net, threads, runs, script, work);
      auto net_row = [&](const Network& variant, const std::string& engine, double ms) {
        char line[256];
        std::snprintf(line, sizeof line, "| %s (%.2f GFLOP) | %d | %s | %s | %.2f | %.2f |\n", net.name.c_str(),
                      net.gflop, threads, engine.c_str(), variant.precision.c_str(), ms, ms / ort);
        table += line;
      };
      net_row(net, "ONNX Runtime 1.20", ort);
      net_row(net, "canopy oneDNN", time_canopy(net, BackendKind::kOneDnn, threads, runs));
      net_row(net, "canopy XNNPACK", time_canopy(net, BackendKind::kXnnpack, threads, runs));
      if (net.file != field.file) continue;
      net_row(net, "libtorch 1.13 (same weights)", bench::torch_field_detector_median_ms(threads, runs));
      net_row(field_int8, "ONNX Runtime 1.20", time_onnxruntime(field_int8, threads, runs, script, work));
      net_row(field_int8, "canopy oneDNN", time_canopy(field_int8, BackendKind::kOneDnn, threads, runs));
      net_row(field_int8, "canopy XNNPACK", time_canopy(field_int8, BackendKind::kXnnpack, threads, runs));
    }
  }
  std::printf("%s", table.c_str());
  if (!markdown.empty()) {
    std::string section = "Measured with `make bench` (`build/bench/infer_bench`), median of " + std::to_string(runs) +
                          " runs after 10 warm-up runs, input 1x3x320x320.\n\n" + table;
    Status written = bench::replace_section(markdown, "infer-bench", section);
    if (!written.ok()) die(written.error().message);
  }
  return 0;
}
