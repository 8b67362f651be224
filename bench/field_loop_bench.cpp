// Field loop benchmark (docs/benchmarks.md, "Field loop"): what the device's
// loop costs around its model, measured in one run.
//
// - Overhead: frames per second of the whole loop (spool read, decode,
//   letterbox, inference, tracking, rules, records into a real outbox on
//   disk) against the same engine running the same frames already decoded
//   and letterboxed (a context's run alone). Rounds alternate between the
//   two so that a busy moment on the machine hits both.
// - Memory: VmRSS and VmHWM of a process that runs the field loop over
//   frames with the detector as its active model, against a process that
//   only loads the engine and runs it. Each is a child process of its own
//   (this program run with --child), which reads its own /proc status once
//   the work is done.
// - Soak: a child drives the loop on a manual clock through simulated
//   hours (a frame every few minutes, sensors every minute, telemetry every
//   10 minutes, the outbox drained and acknowledged every hour as the
//   uploader would) and reports its RSS after the first hour and at the end.
//
// The model is a package directory (canopy.json and its model); make bench
// passes the int8 detector bench/field_detector_package.cpp writes.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/active_model.h"
#include "agent/field_config.h"
#include "agent/field_loop.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/json.h"
#include "common/subprocess.h"
#include "field_models.h"
#include "infer/detector.h"
#include "infer/engine.h"
#include "outbox/outbox.h"
#include "package/manifest.h"
#include "report.h"
#include "vision/field_renderer.h"
#include "vision/image_codec.h"

namespace {

namespace fs = std::filesystem;
using namespace canopy;
using bench::check;
using bench::die;
using Steady = std::chrono::steady_clock;

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kHourMs = 60 * kMinuteMs;
constexpr std::int64_t kStartMs = 1'780'000'000'000;  // 2026-05-28, a growing season

double ms_since(Steady::time_point start) {
  return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

// VmRSS and VmHWM of this process, in kB, from /proc/self/status.
struct Resident {
  long long rss_kb = 0, hwm_kb = 0;
};

Resident resident() {
  const std::string status = check(read_file("/proc/self/status"), "/proc/self/status");
  Resident r;
  for (const auto& [key, value] : {std::pair{"VmRSS:", &r.rss_kb}, std::pair{"VmHWM:", &r.hwm_kb}}) {
    const auto at = status.find(key);
    if (at == std::string::npos) die(std::string("no ") + key + " in /proc/self/status");
    *value = std::atoll(status.c_str() + at + std::string(key).size());
  }
  return r;
}

// Written as a camera or the kernel writes them: no fsync (the simulated
// world is not what is measured).
void put_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out.flush()) die("cannot write " + path.string());
}

std::string mb(long long kb) { return bench::fmt("%.1f MB", static_cast<double>(kb) * 1024 / 1e6); }

// `count` 640x480 JPEG frames of the generated field (kept in WORK/frames).
std::vector<std::string> field_frames(const fs::path& work, int count) {
  const fs::path dir = work / "frames-640x480";
  auto read_all = [&] {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir / "images", ec)) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    std::vector<std::string> frames;
    for (const fs::path& f : files) frames.push_back(check(read_file(f), f.string()));
    return frames;
  };
  if (auto frames = read_all(); static_cast<int>(frames.size()) == count) return frames;
  fs::remove_all(dir);
  vision::FieldOptions field;
  field.out = dir;
  field.images = count;
  field.seed = 11;
  field.width = 640;
  field.height = 480;
  check(vision::generate_field_dataset(field), "rendering frames");
  return read_all();
}

// A field for one loop: a spool its camera reads, the files its soil and air
// sensors read, a valve file, a data directory and the outbox, in `dir`.
class FieldSite {
 public:
  explicit FieldSite(fs::path dir) : dir_(std::move(dir)) {
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "spool");
    set_sensors(0.3, 21.0);
  }

  const fs::path& dir() const { return dir_; }

  // Renamed in, stamped `at_ms`, as a camera drops a frame.
  void drop_frame(const std::string& jpeg, std::int64_t at_ms) {
    const fs::path part = dir_ / "spool" / ".frame.part";
    const fs::path frame = dir_ / "spool" / ("frame-" + std::to_string(++dropped_) + ".jpg");
    put_file(part, jpeg);
    fs::rename(part, frame);
    fs::last_write_time(
        frame, std::chrono::file_clock::from_sys(
                   std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(at_ms))));
  }

  void set_sensors(double soil_theta, double air_celsius) {
    put_file(dir_ / "soil", bench::fmt("%.3f\n", soil_theta));
    put_file(dir_ / "air", std::to_string(std::lround(air_celsius * 1000)) + "\n");
  }

  agent::FieldConfig config(std::int64_t camera_interval_minutes) const {
    const std::string text =
        "location: {latitude: 41.6}\n"
        "cameras:\n"
        "  - id: row-1\n"
        "    spool: " +
        (dir_ / "spool").string() +
        "\n"
        "    interval: " +
        std::to_string(camera_interval_minutes) +
        "m\n"
        "    zone: north\n"
        "sensors:\n"
        "  - name: soil-north\n"
        "    measures: soil_moisture\n"
        "    file: " +
        (dir_ / "soil").string() +
        "\n"
        "    period: 1m\n"
        "    range: [0, 0.6]\n"
        "  - name: air\n"
        "    measures: air_temperature\n"
        "    hwmon: " +
        (dir_ / "air").string() +
        "\n"
        "    period: 1m\n"
        "zones:\n"
        "  - name: north\n"
        "    soil: loam\n"
        "    soil_sensor: soil-north\n"
        "    max_on: 30m\n"
        "    min_off: 10m\n"
        "    valve: {file: " +
        (dir_ / "valve").string() +
        "}\n"
        "telemetry: {period: 10m}\n";
    return check(agent::parse_field_config(text, "field.yaml"), "the field configuration");
  }

 private:
  fs::path dir_;
  int dropped_ = 0;
};

// The loop as the agent runs it: the model active, records into a durable
// outbox, the outbox's depth in telemetry; on a manual clock.
struct RunningLoop {
  RunningLoop(FieldSite& site, std::shared_ptr<const agent::LoadedModel> model,
              std::int64_t camera_interval_minutes)
      : clock(kStartMs) {
    active.set(std::move(model));
    box = check(outbox::Outbox::open(site.dir() / "data" / "outbox"), "opening the outbox");
    agent::FieldLoopOptions options;
    options.config = site.config(camera_interval_minutes);
    options.data_dir = site.dir() / "data";
    options.clock = &clock;
    outbox::Outbox* b = box.get();
    options.extra_telemetry = [b] {
      std::map<std::string, double> values;
      for (const auto& [stream, s] : b->stats().streams)
        values["outbox." + std::string(api::stream_name(stream)) + ".records"] =
            static_cast<double>(s.pending_records);
      return values;
    };
    loop = check(agent::FieldLoop::open(std::move(options), active,
                                        [b](api::Stream stream, std::int64_t at_ms, Json body) -> Status {
                                          auto appended = b->append(stream, at_ms, body);
                                          if (!appended.ok()) return appended.error();
                                          return {};
                                        }),
                 "opening the field loop");
  }
  ~RunningLoop() { loop.reset(); }  // its last records go to the outbox

  // What the uploader does when the server takes everything: batches out,
  // acknowledgements back, until nothing is pending. Returns the records.
  std::int64_t drain() {
    std::int64_t acknowledged = 0;
    while (box->pending_records() > 0) {
      const api::RecordBatch batch = check(box->next_batch(500, 1u << 20), "reading a batch");
      api::RecordAck ack;
      for (const api::DeviceRecord& r : batch.records)
        ack.acked[r.stream] = std::max(ack.acked[r.stream], r.seq);
      acknowledged += check(box->acknowledge(ack), "acknowledging a batch");
    }
    return acknowledged;
  }

  ManualClock clock;
  agent::ActiveModel active;
  std::unique_ptr<outbox::Outbox> box;
  std::unique_ptr<agent::FieldLoop> loop;
};

// --- the children -----------------------------------------------------------

void print_resident(const Json& extra = Json::object()) {
  const Resident r = resident();
  Json out = extra;
  out["rss_kb"] = r.rss_kb;
  out["hwm_kb"] = r.hwm_kb;
  std::printf("%s\n", out.dump().c_str());
}

// Loads the engine and runs it `frames` times on a zero input: the floor
// under any process that serves the model.
void child_engine(const fs::path& model_dir, int frames) {
  auto model = bench::load_field_model(model_dir);
  auto context = model->engine->create_context();
  const auto& shape = model->manifest.input.shape;
  infer::Tensor input = infer::Tensor::allocate(infer::DataType::kFloat32, {1, 3, shape[2], shape[3]});
  for (int i = 0; i < frames; ++i) check(context->run({input}), "running the engine");
  print_resident();
}

// The field loop over `frames` frames, one a minute.
void child_loop(const fs::path& model_dir, const fs::path& work, int frames) {
  const std::vector<std::string> jpegs = field_frames(work, frames);
  FieldSite site(work / "rss-loop");
  RunningLoop running(site, bench::load_field_model(model_dir), 1);
  for (const std::string& jpeg : jpegs) {
    site.drop_frame(jpeg, running.clock.wall_ms());
    running.loop->run_due();
    running.clock.advance_ms(kMinuteMs);
  }
  print_resident();
}

// `hours` of field life on the manual clock, one step a minute.
void child_soak(const fs::path& model_dir, const fs::path& work, int frames, int hours, int camera_minutes) {
  const std::vector<std::string> jpegs = field_frames(work, frames);
  FieldSite site(work / "soak");
  RunningLoop running(site, bench::load_field_model(model_dir), camera_minutes);
  const auto started = Steady::now();
  long long warm_kb = 0, peak_kb = 0;
  std::int64_t dropped = 0, acknowledged = 0;
  for (std::int64_t minute = 0; minute < hours * 60LL; ++minute) {
    // The soil dries by day and is watered when the zone opens; the air
    // follows the sun.
    const double day = 2 * M_PI * static_cast<double>(minute % 1440) / 1440.0;
    site.set_sensors(0.24 + 0.08 * std::sin(day), 18 + 8 * std::sin(day - M_PI / 2));
    if (minute % camera_minutes == 0)
      site.drop_frame(jpegs[static_cast<std::size_t>(dropped++) % jpegs.size()], running.clock.wall_ms());
    running.loop->run_due();
    running.clock.advance_ms(kMinuteMs);
    if ((minute + 1) % 60 != 0) continue;
    acknowledged += running.drain();
    const long long rss = resident().rss_kb;
    peak_kb = std::max(peak_kb, rss);
    const std::int64_t hour = (minute + 1) / 60;
    if (hour == 1) warm_kb = rss;
    if (hour % 6 == 0 || hour == hours)
      std::fprintf(stderr, "soak: %lld/%d simulated hours, %lld frames, RSS %s, %.0f s\n",
                   static_cast<long long>(hour), hours, static_cast<long long>(dropped), mb(rss).c_str(),
                   ms_since(started) / 1000);
  }
  print_resident({{"warm_kb", warm_kb},
                  {"peak_kb", peak_kb},
                  {"frames", dropped},
                  {"acknowledged", acknowledged},
                  {"seconds", ms_since(started) / 1000}});
}

// --- the parent ---------------------------------------------------------------

Json run_child(const std::vector<std::string>& args) {
  std::vector<std::string> argv{fs::read_symlink("/proc/self/exe").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandOutput out = check(run_to_completion(argv, std::chrono::minutes(5)), "the child " + args[1]);
  if (out.exit_code != 0) die("the child " + args[1] + " exited with " + std::to_string(out.exit_code));
  return check(parse_json(out.output), "the child's answer");
}

double median(std::vector<double> values) { return bench::percentile(std::move(values), 0.5); }

struct Overhead {
  // Per frame, median round.
  double loop_ms = 0, engine_ms = 0, decode_ms = 0, prepare_ms = 0;
  std::int64_t records = 0;
};

Overhead measure_overhead(const fs::path& model_dir, const fs::path& work, int frames, int rounds) {
  const std::vector<std::string> jpegs = field_frames(work, frames);
  auto model = bench::load_field_model(model_dir);
  const package::InputSpec& spec = model->manifest.input;

  // The reference's input: every frame decoded and letterboxed in advance,
  // as the loop does it (at the size the model sees, into kept buffers).
  // Doing that again in every round, timed, tells where the loop's time goes.
  std::vector<infer::Tensor> inputs;
  for (std::size_t i = 0; i < jpegs.size(); ++i)
    inputs.push_back(
        infer::Tensor::allocate(infer::DataType::kFloat32, {1, 3, spec.shape[2], spec.shape[3]}));
  vision::ImageDecoder decoder;
  vision::InputWriter writer = infer::input_writer(spec);
  auto prepare_all = [&](double& decode_ms, double& prepare_ms) {
    decode_ms = prepare_ms = 0;
    for (std::size_t i = 0; i < jpegs.size(); ++i) {
      auto start = Steady::now();
      const cv::Size full = check(decoder.size(jpegs[i]), "reading a frame's size");
      const cv::Mat image =
          check(decoder.decode(jpegs[i], infer::input_footprint(spec, full)), "decoding a frame");
      decode_ms += ms_since(start) / static_cast<double>(jpegs.size());
      start = Steady::now();
      writer.write(image, inputs[i].data<float>());
      prepare_ms += ms_since(start) / static_cast<double>(jpegs.size());
    }
  };
  double decode_ms = 0, prepare_ms = 0;
  prepare_all(decode_ms, prepare_ms);
  auto context = model->engine->create_context();

  FieldSite site(work / "overhead");
  RunningLoop running(site, model, 1);
  // Warm-up: the loop builds its detector at the first frame.
  site.drop_frame(jpegs[0], running.clock.wall_ms());
  running.loop->run_due();
  for (const infer::Tensor& input : inputs) check(context->run({input}), "running the engine");

  Overhead result;
  std::vector<double> loop_ms, engine_ms, decodes_ms, prepares_ms;
  for (int round = 0; round < rounds; ++round) {
    prepare_all(decode_ms, prepare_ms);
    decodes_ms.push_back(decode_ms);
    prepares_ms.push_back(prepare_ms);
    auto start = Steady::now();
    for (const infer::Tensor& input : inputs) check(context->run({input}), "running the engine");
    engine_ms.push_back(ms_since(start) / frames);
    double in_loop = 0;
    for (const std::string& jpeg : jpegs) {
      running.clock.advance_ms(kMinuteMs);
      site.drop_frame(jpeg, running.clock.wall_ms());  // the camera's work, not timed
      start = Steady::now();
      running.loop->run_due();
      in_loop += ms_since(start);
    }
    loop_ms.push_back(in_loop / frames);
    std::fprintf(stderr, "overhead: round %d/%d, loop %.2f ms/frame, engine alone %.2f ms/frame\n", round + 1,
                 rounds, loop_ms.back(), engine_ms.back());
  }
  result.loop_ms = median(loop_ms);
  result.engine_ms = median(engine_ms);
  result.decode_ms = median(decodes_ms);
  result.prepare_ms = median(prepares_ms);
  result.records = running.drain();
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The field loop's cost around its model: throughput, memory and a soak", "field_loop_bench"};
  std::string work_dir = "bench-work", markdown, model_dir, child;
  int frames = 40, rounds = 5, hours = 72, camera_minutes = 5, rss_frames = 60;
  app.add_option("--model", model_dir, "package directory of the detector (canopy.json and its model)")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--work", work_dir, "scratch directory (default bench-work)");
  app.add_option("--frames", frames, "distinct 640x480 frames, rendered once (default 40)");
  app.add_option("--rounds", rounds, "alternating rounds of loop and engine over the frames (default 5)");
  app.add_option("--rss-frames", rss_frames, "frames the memory children process (default 60)");
  app.add_option("--hours", hours, "simulated hours of the soak (default 72)");
  app.add_option("--camera-minutes", camera_minutes,
                 "simulated minutes between frames in the soak (default 5)");
  app.add_option("--markdown", markdown,
                 "Markdown file whose field loop section is replaced with the results");
  app.add_option("--child", child, "internal: run one measured child (engine, loop, soak) and print JSON")
      ->check(CLI::IsMember({"engine", "loop", "soak"}));
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  const fs::path work = fs::absolute(work_dir);
  fs::create_directories(work);

  if (child == "engine") child_engine(model_dir, rss_frames);
  if (child == "loop") child_loop(model_dir, work, rss_frames);
  if (child == "soak") child_soak(model_dir, work, frames, hours, camera_minutes);
  if (!child.empty()) return 0;

  const Overhead overhead = measure_overhead(model_dir, work, frames, rounds);
  const std::vector<std::string> common{
      "--model",  fs::absolute(model_dir).string(), "--work",       work.string(),
      "--frames", std::to_string(frames),           "--rss-frames", std::to_string(rss_frames)};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), common.begin(), common.end());
    return args;
  };
  std::fprintf(stderr, "memory: a process that loads the engine, then one that runs the loop\n");
  const Json engine_only = run_child(with({"--child", "engine"}));
  const Json loop = run_child(with({"--child", "loop"}));
  std::fprintf(stderr, "soak: %d simulated hours, a frame every %d minutes\n", hours, camera_minutes);
  const Json soak = run_child(with({"--child", "soak", "--hours", std::to_string(hours), "--camera-minutes",
                                    std::to_string(camera_minutes)}));

  const auto& spec = bench::load_field_model(model_dir)->manifest.input.shape;
  const std::string input = std::to_string(spec[3]) + "x" + std::to_string(spec[2]);
  const double rest_ms = overhead.loop_ms - overhead.engine_ms - overhead.decode_ms - overhead.prepare_ms;
  const long long loop_rss = loop["rss_kb"].get<long long>(),
                  engine_rss = engine_only["rss_kb"].get<long long>();
  const long long warm = soak["warm_kb"].get<long long>(), end = soak["rss_kb"].get<long long>();
  const double growth = 100.0 * static_cast<double>(end - warm) / static_cast<double>(warm);

  std::string table = "| measure | canopy | reference | ratio |\n|---|---|---|---|\n";
  table +=
      "| frames/s, whole loop: spool, decode, letterbox, inference, tracking, rules, records into the outbox "
      "(median of " +
      std::to_string(rounds) + " rounds of " + std::to_string(frames) + " frames) | " +
      bench::fmt("%.1f", 1000 / overhead.loop_ms) + " (" + bench::fmt("%.2f", overhead.loop_ms) +
      " ms/frame) | engine alone, "
      "frames decoded and letterboxed beforehand: " +
      bench::fmt("%.1f", 1000 / overhead.engine_ms) + " (" + bench::fmt("%.2f", overhead.engine_ms) +
      " ms) | " + bench::fmt("%.2f", overhead.loop_ms / overhead.engine_ms) + " |\n";
  table += "| where a loop frame goes (medians) | decode " + bench::fmt("%.2f", overhead.decode_ms) +
           " ms, letterbox " + bench::fmt("%.2f", overhead.prepare_ms) + " ms, inference " +
           bench::fmt("%.2f", overhead.engine_ms) + " ms, the rest " + bench::fmt("%.2f", rest_ms) +
           " ms | | |\n";
  table += "| RSS after " + std::to_string(rss_frames) + " frames through the loop (VmRSS / VmHWM) | " +
           mb(loop_rss) + " / " + mb(loop["hwm_kb"].get<long long>()) +
           " | a process that loads the engine and runs it: " + mb(engine_rss) + " / " +
           mb(engine_only["hwm_kb"].get<long long>()) + " | " +
           bench::fmt("%.2f", static_cast<double>(loop_rss) / static_cast<double>(engine_rss)) + " |\n";
  table += "| RSS growth over " + std::to_string(hours) + " simulated hours (" +
           std::to_string(soak["frames"].get<long long>()) + " frames, " +
           std::to_string(soak["acknowledged"].get<long long>()) +
           " records acknowledged), after the first hour to "
           "the end | " +
           bench::fmt("%+.2f", growth) + "% (" + mb(warm) + " to " + mb(end) + ", peak " +
           mb(soak["peak_kb"].get<long long>()) + ") | | |\n";
  std::printf("%s", table.c_str());
  if (!markdown.empty()) {
    const std::string section =
        "Measured with `make bench` (`build/bench/field_loop_bench`), 2 cores, model input " + input +
        ", 1 engine thread, 640x480 JPEG frames, scratch in the build directory; the "
        "soak took " +
        bench::fmt("%.0f", soak["seconds"].get<double>()) +
        " s. A ratio above 1 "
        "means the loop is slower or larger than its reference.\n\n" +
        table;
    bench::check(bench::replace_section(markdown, "field-loop-bench", section), "writing " + markdown);
  }
  return 0;
}
