// API reads while a large package is being published. Measures, in one run
// against one `canopy server`, the latency of reads the dashboard, the CLI
// and devices make:
//   - GET /api/v1/models                       (API key; the registry)
//   - GET /api/v1/models/NAME/versions/latest  (API key; the registry)
//   - GET /api/v1/devices                      (API key; the fleet)
//   - GET /api/v1/device/desired               (device token; the fleet)
// first on an idle server, then while a package of --size-mib is uploaded,
// verified and stored (curl -T), alternating the two phases --publishes
// times. The reference is the same read on the idle server: the ratio of
// the p99s says how much a publish slows the reads.
// The server is driven only over HTTP, so the same program measures any
// build of `canopy` (--canopy), e.g. one from before a change.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <thread>

#include "bench_server.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/http_client.h"
#include "common/json.h"
#include "common/keys.h"
#include "common/subprocess.h"
#include "common/time.h"
#include "package/package.h"
#include "report.h"

namespace {

using canopy::bench::BenchServer;
using canopy::bench::check;
using canopy::bench::die;
using canopy::bench::kAdminKey;
using canopy::bench::make_random_package;
using canopy::bench::percentile;
using namespace canopy;
using SteadyClock = std::chrono::steady_clock;
constexpr int kSeedModels = 20;
constexpr auto kReadSpacing = std::chrono::milliseconds(10);  // per reader: paced, not back to back

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

HttpResponse call(const std::string& url, const std::string& method, const std::string& path,
                  const std::vector<std::string>& headers, const std::string& body = "") {
  HttpOptions options;
  options.max_attempts = 1;
  options.headers = headers;
  HttpClient client(url, options);
  auto response = method == "GET" ? client.get(path) : client.send(method, path, body, "application/json");
  if (!response.ok()) die(method + " " + path + ": " + response.error().message);
  return *response;
}

std::vector<std::string> admin_headers() { return {std::string("X-API-KEY: ") + kAdminKey}; }

// Enrolls one device and returns its token.
std::string enroll_device(const std::string& url) {
  auto token_answer = call(url, "POST", "/api/v1/enrollment-tokens", admin_headers(),
                           Json{{"group", "bench"}, {"max_uses", 1}}.dump());
  if (token_answer.status != 201) die("enrollment token: " + token_answer.body);
  const std::string token = check(parse_json(token_answer.body), "token").value("token", "");
  KeyPair key = KeyPair::generate();
  std::string public_key = key.public_key.to_text();
  public_key.pop_back();
  const std::string timestamp = now_rfc3339();
  const std::string signed_text =
      "canopy-enroll\n" + token + "\n" + public_key + "\nbench-device\n" + timestamp;
  Json body = {{"enrollment_token", token},
               {"public_key", public_key},
               {"name", "bench-device"},
               {"timestamp", timestamp},
               {"signature", base64_encode(sign_detached(key, signed_text))}};
  auto enrolled = call(url, "POST", "/api/v1/enroll", {}, body.dump());
  if (enrolled.status != 201) die("enroll: " + enrolled.body);
  return check(parse_json(enrolled.body), "enroll answer").value("device_token", "");
}

struct Read {
  std::string label;
  std::string path;
  std::vector<std::string> headers;
  std::vector<double> idle_ms;
  std::vector<double> publishing_ms;
};

// Each read runs on its own thread, paced, until `stop`; latencies go to
// the phase `publishing` names.
void read_until(Read& read, const std::string& url, const std::atomic<bool>& stop, bool publishing) {
  HttpOptions options;
  options.max_attempts = 1;
  options.headers = read.headers;
  HttpClient client(url, options);
  std::vector<double>& out = publishing ? read.publishing_ms : read.idle_ms;
  auto next = SteadyClock::now();
  while (!stop) {
    std::this_thread::sleep_until(next);
    next += kReadSpacing;
    auto start = SteadyClock::now();
    auto response = client.get(read.path);
    const double ms = seconds_since(start) * 1000;
    if (!response.ok() || response->status != 200)
      die("GET " + read.path + ": " + (response.ok() ? response->body : response.error().message));
    out.push_back(ms);
  }
}

// Runs every read concurrently while `work` runs (or for `idle_s` when there is none).
void measure(std::vector<Read>& reads, const std::string& url, bool publishing,
             const std::function<void()>& work, double idle_s) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  for (Read& read : reads) readers.emplace_back([&] { read_until(read, url, stop, publishing); });
  if (work) {
    work();
  } else {
    std::this_thread::sleep_for(std::chrono::duration<double>(idle_s));
  }
  stop = true;
  for (auto& reader : readers) reader.join();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"API read latency while a large package is published", "publish_load_bench"};
  std::string canopy_path, work_dir = "bench-work", markdown;
  std::uint64_t size_mib = 256;
  int publishes = 2;
  double idle_s = 4;
  app.add_option("--canopy", canopy_path, "path of the canopy binary")->required();
  app.add_option("--work", work_dir, "scratch directory on the disk under test (default ./bench-work)");
  app.add_option("--size-mib", size_mib, "size of the published package (default 256)");
  app.add_option("--publishes", publishes, "publishes measured, each after an idle phase (default 2)");
  app.add_option("--idle-s", idle_s, "length of each idle phase in seconds (default 4)");
  app.add_option("--markdown", markdown,
                 "Markdown file whose publish-load section is replaced with the results");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  check(init_crypto(), "crypto");
  fs::path work = fs::absolute(work_dir) / "publish-load";
  fs::remove_all(work);
  fs::create_directories(work);
  KeyPair key = KeyPair::generate();
  check(save_key_pair(key, work / "bench-key"), "save key");

  std::vector<fs::path> large;
  for (int i = 0; i < publishes; ++i) {
    std::fprintf(stderr, "packaging %llu MiB (%d/%d)\n", static_cast<unsigned long long>(size_mib), i + 1,
                 publishes);
    large.push_back(make_random_package(work, "large-model", size_mib << 20, 500 + static_cast<unsigned>(i),
                                        key, work / ("large-" + std::to_string(i) + ".zip")));
  }

  BenchServer server(canopy_path, work / "data", work / "bench-key.pub");
  const std::string url = server.url();
  for (int i = 0; i < kSeedModels; ++i) {
    fs::path small = make_random_package(work, "field-model-" + std::to_string(i), 4096,
                                         static_cast<unsigned>(i), key, work / "small.zip");
    auto published =
        call(url, "PUT", "/repository/model.zip", admin_headers(), check(read_file(small), "read"));
    if (published.status != 201) die("seed publish: " + published.body);
  }
  const std::string device_token = enroll_device(url);

  std::vector<Read> reads = {
      {"GET /api/v1/models", "/api/v1/models", admin_headers(), {}, {}},
      {"GET /api/v1/models/NAME/versions/latest",
       "/api/v1/models/field-model-7/versions/latest",
       admin_headers(),
       {},
       {}},
      {"GET /api/v1/devices", "/api/v1/devices", admin_headers(), {}, {}},
      {"GET /api/v1/device/desired (device token)",
       "/api/v1/device/desired",
       {"Authorization: Bearer " + device_token},
       {},
       {}},
  };
  measure(reads, url, false, nullptr, 1);  // warm-up
  for (Read& read : reads) read.idle_ms.clear();

  std::vector<double> publish_s;
  for (int i = 0; i < publishes; ++i) {
    std::fprintf(stderr, "idle phase %d/%d\n", i + 1, publishes);
    measure(reads, url, false, nullptr, idle_s);
    std::fprintf(stderr, "publish %d/%d\n", i + 1, publishes);
    measure(
        reads, url, true,
        [&] {
          auto start = SteadyClock::now();
          auto upload = check(Subprocess::start({{"/usr/bin/curl", "-sf", "-o", "/dev/null", "-H",
                                                  std::string("X-API-KEY:") + kAdminKey, "-T",
                                                  large[i].string(), url + "/repository/model.zip"},
                                                 {},
                                                 {},
                                                 {}}),
                              "start curl");
          if (upload.wait() != 0) die("upload failed");
          publish_s.push_back(seconds_since(start));
        },
        0);
  }

  std::string table = "| read | idle p50 / p99 | during a " + std::to_string(size_mib) +
                      " MiB publish p50 / p99 | p99 ratio (publishing / idle) |\n|---|---|---|---|\n";
  for (const Read& read : reads) {
    const double idle_p99 = percentile(read.idle_ms, 0.99), busy_p99 = percentile(read.publishing_ms, 0.99);
    table += "| " + read.label + " | " + bench::fmt("%.2f ms", percentile(read.idle_ms, 0.5)) + " / " +
             bench::fmt("%.2f ms", idle_p99) + " | " +
             bench::fmt("%.2f ms", percentile(read.publishing_ms, 0.5)) + " / " +
             bench::fmt("%.2f ms", busy_p99) + " | " + bench::fmt("%.2f", busy_p99 / idle_p99) + " |\n";
  }
  std::string summary = "Reads: " + std::to_string(reads.size()) + " threads, one request every " +
                        std::to_string(kReadSpacing.count()) + " ms each; " +
                        std::to_string(reads[0].idle_ms.size()) + " idle and " +
                        std::to_string(reads[0].publishing_ms.size()) +
                        " publishing samples per read; publishes took";
  for (double s : publish_s) summary += " " + bench::fmt("%.1f s", s);
  summary += ".\n";
  std::printf("%s\n%s", table.c_str(), summary.c_str());
  if (!markdown.empty()) {
    std::string section = "Measured with `build/bench/publish_load_bench --canopy build/apps/canopy`, " +
                          std::to_string(std::thread::hardware_concurrency()) + " cores.\n\n" + table + "\n" +
                          summary;
    check(bench::replace_section(markdown, "publish-load-bench", section), "write " + markdown);
  }
  fs::remove_all(work);
  return 0;
}
