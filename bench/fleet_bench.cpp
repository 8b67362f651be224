// Fleet benchmark, on one server in one run:
//   - desired-state polls: N enrolled devices poll GET /api/v1/device/desired
//     (with If-None-Match, a new connection per poll, as the agent does) at
//     one poll per device per interval; latency percentiles against the same
//     schedule of GET /api/v1/health (the HTTP floor: no authentication, no work);
//   - a rollout: M devices take a package through canary and waves, each
//     polling, downloading, checking the SHA-256 and reporting every state;
//     time from deployment creation to "completed", against M plain downloads
//     of the same package at the same concurrency.
// Prints a Markdown table and, with --markdown FILE, replaces the fleet
// section of that file.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "bench_server.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/http_client.h"
#include "common/json.h"
#include "common/keys.h"
#include "common/subprocess.h"
#include "common/time.h"
#include "fleet_clients.h"
#include "package/package.h"
#include "report.h"

namespace {

using canopy::bench::admin;
using canopy::bench::BenchServer;
using canopy::bench::check;
using canopy::bench::Device;
using canopy::bench::die;
using canopy::bench::enroll;
using canopy::bench::fmt;
using canopy::bench::kAdminKey;
using canopy::bench::make_random_package;
using canopy::bench::percentile;
using canopy::bench::PollResult;
using canopy::bench::request;
using namespace canopy;
using Clock = std::chrono::steady_clock;
constexpr const char* kModel = "field-detector";

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Every device polls `path` once per `interval_s`, with a new connection each.
PollResult poll_load(const std::string& url, std::vector<Device>& devices, const std::string& path,
                     bool authenticated, double interval_s, double duration_s, int threads) {
  return canopy::bench::scheduled_polls(devices, interval_s, duration_s, threads, [&] {
    return [&](Device& device) {
      std::vector<std::string> headers;
      if (authenticated) {
        headers.push_back("Authorization: Bearer " + device.token);
        if (!device.etag.empty()) headers.push_back("If-None-Match: " + device.etag);
      }
      auto response = request(url, "GET", path, headers);
      if (response.status != 200 && response.status != 304)
        die(path + ": " + std::to_string(response.status));
      if (authenticated) device.etag = response.header("etag");
    };
  });
}

void report_state(const std::string& url, const Device& device, std::int64_t deployment,
                  const std::string& state, const Json& model, const Json& current) {
  Json body = {{"deployment_id", deployment}, {"state", state}, {"model", model}, {"current", current},
               {"previous", nullptr},         {"error", ""},    {"health", "ok"}, {"agent_version", "bench"}};
  auto response =
      request(url, "POST", "/api/v1/device/status", {"Authorization: Bearer " + device.token}, body.dump());
  if (response.status != 200) die("status report: " + response.body);
}

// Devices poll every `poll_s` until told to install, then download, check
// and report each state. Returns seconds until the deployment completed.
double rollout(const std::string& url, std::vector<Device>& devices, const std::string& expected_sha256,
               double poll_s, int threads, std::int64_t* deployment_id) {
  const auto start = Clock::now();
  Json created =
      admin(url, "POST", "/api/v1/deployments",
            {{"model", kModel},
             {"version", 1},
             {"target", {{"group", "rollout"}}},
             {"strategy",
              {{"canary", {{"count", 10}}},
               {"waves", {{{"percent", 50}, {"soak_s", 0}}, {{"percent", 100}, {"soak_s", 0}}}}}}});
  const std::int64_t id = created.value("id", 0);
  *deployment_id = id;
  std::atomic<size_t> done{0};
  // Per device: 0 idle, 1 taken by a worker, 2 installed. A worker takes a
  // device before polling for it, so no device is simulated twice at once.
  std::vector<std::atomic<int>> progress(devices.size());
  std::atomic<size_t> next_slot{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      while (done < devices.size()) {
        size_t i = next_slot++ % devices.size();
        int idle = 0;
        if (!progress[i].compare_exchange_strong(idle, 1)) continue;
        Device& device = devices[i];
        auto desired =
            request(url, "GET", "/api/v1/device/desired", {"Authorization: Bearer " + device.token});
        Json state = check(parse_json(desired.body), "desired");
        if (state["model"].is_null()) {
          progress[i] = 0;
          std::this_thread::sleep_for(std::chrono::duration<double>(
              poll_s / static_cast<double>(devices.size()) * static_cast<double>(threads)));
          continue;
        }
        const Json model = {{"name", kModel}, {"version", 1}};
        report_state(url, device, id, "downloading", model, nullptr);
        auto package =
            request(url, "GET", state["model"].value("url", ""), {"Authorization: Bearer " + device.token});
        report_state(url, device, id, "verifying", model, nullptr);
        if (package.status != 200 || sha256_hex(package.body) != expected_sha256)
          die("package download differs");
        report_state(url, device, id, "installing", model, nullptr);
        report_state(url, device, id, "health-checking", model, nullptr);
        report_state(url, device, id, "success", model, model);
        progress[i] = 2;
        ++done;
      }
    });
  for (auto& w : workers) w.join();
  while (admin(url, "GET", "/api/v1/deployments/" + std::to_string(id)).value("state", "") != "completed") {
    if (seconds_since(start) > 600) die("the rollout did not complete");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return seconds_since(start);
}

double plain_downloads(const std::string& url, size_t count, int threads) {
  const auto start = Clock::now();
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      for (size_t i = next++; i < count; i = next++) {
        auto response = request(url, "GET", std::string("/api/v1/models/") + kModel + "/versions/1/package",
                                {std::string("X-API-KEY: ") + kAdminKey});
        if (response.status != 200) die("download: " + std::to_string(response.status));
      }
    });
  for (auto& w : workers) w.join();
  return seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fleet poll latency and rollout benchmark", "fleet_bench"};
  std::string canopy_path, work_dir = "bench-work", markdown;
  int poll_devices = 10000, rollout_devices = 1000, threads = 32;
  double poll_interval_s = 10, duration_s = 20, package_mib = 5;
  app.add_option("--canopy", canopy_path, "path of the canopy binary")->required();
  app.add_option("--work", work_dir, "scratch directory (default ./bench-work)");
  app.add_option("--devices", poll_devices, "devices polling (default 10000)");
  app.add_option("--interval", poll_interval_s, "seconds between one device's polls (default 10)");
  app.add_option("--duration", duration_s, "seconds of polling measured (default 20)");
  app.add_option("--rollout-devices", rollout_devices, "devices in the rollout (default 1000)");
  app.add_option("--package-mib", package_mib, "package size for the rollout (default 5)");
  app.add_option("--threads", threads, "client threads (default 32)");
  app.add_option("--markdown", markdown, "Markdown file whose fleet section is replaced with the results");
  CLI11_PARSE(app, argc, argv);
  check(init_crypto(), "crypto");

  fs::path work = fs::absolute(work_dir) / "fleet";
  fs::remove_all(work);
  fs::create_directories(work);
  KeyPair key = KeyPair::generate();
  check(save_key_pair(key, work / "publisher"), "save key");
  fs::path zip = make_random_package(work, kModel, static_cast<std::uint64_t>(package_mib * (1 << 20)), 7,
                                     key, work / "package.zip");
  const std::string sha256 = check(sha256_file_hex(zip), "hash package");

  BenchServer server(canopy_path, work / "data", work / "publisher.pub", {"--poll-interval", "5"});
  {
    HttpOptions options;
    options.headers = {std::string("X-API-KEY: ") + kAdminKey};
    HttpClient client(server.url(), options);
    auto pushed = check(client.upload_file("PUT", "/repository/package.zip", zip), "upload");
    if (pushed.status != 201) die("upload: " + pushed.body);
  }

  auto enroll_start = Clock::now();
  std::vector<Device> pollers = enroll(server.url(), "pollers", poll_devices, 8);
  const double enroll_s = seconds_since(enroll_start);
  std::fprintf(stderr, "enrolled %d devices in %.1f s\n", poll_devices, enroll_s);

  // One pass first, so every device holds an ETag as a running agent does.
  (void)poll_load(server.url(), pollers, "/api/v1/device/desired", true, 2, 2, threads);
  auto poll_result =
      poll_load(server.url(), pollers, "/api/v1/device/desired", true, poll_interval_s, duration_s, threads);
  auto health_result =
      poll_load(server.url(), pollers, "/api/v1/health", false, poll_interval_s, duration_s, threads);
  const auto& polls = poll_result.latencies_ms;
  const auto& health = health_result.latencies_ms;
  const double rate = poll_result.rate;
  std::fprintf(stderr, "polls p50 %.2f ms p99 %.2f ms; health p50 %.2f ms p99 %.2f ms\n",
               percentile(polls, 0.5), percentile(polls, 0.99), percentile(health, 0.5),
               percentile(health, 0.99));

  const double poll_rss_mib = server.peak_rss_mib();
  std::vector<Device> fleet = enroll(server.url(), "rollout", rollout_devices, 8);
  std::int64_t deployment = 0;
  const double cpu_before = server.cpu_seconds();
  const double rollout_s = rollout(server.url(), fleet, sha256, 5, threads, &deployment);
  const double rollout_cpu_s = server.cpu_seconds() - cpu_before;
  const double downloads_s = plain_downloads(server.url(), fleet.size(), threads);
  std::fprintf(stderr, "rollout %.1f s; plain downloads %.1f s\n", rollout_s, downloads_s);

  std::ostringstream table;
  table << "Measured with `fleet_bench` (`build/bench/fleet_bench`), " << std::thread::hardware_concurrency()
        << " cores shared by the server and the simulated devices (" << threads
        << " client threads, a new connection per request). Ratios above 1 mean canopy is slower.\n\n"
        << "| measure | canopy | reference | ratio |\n|---|---|---|---|\n"
        << "| desired-state poll, " << poll_devices << " devices at " << fmt("%.0f", rate)
        << " polls/s (p50 / p99) | " << fmt("%.2f", percentile(polls, 0.5)) << " ms / "
        << fmt("%.2f", percentile(polls, 0.99))
        << " ms | GET /api/v1/health, same schedule: " << fmt("%.2f", percentile(health, 0.5)) << " ms / "
        << fmt("%.2f", percentile(health, 0.99)) << " ms | "
        << fmt("%.2f", percentile(polls, 0.99) / std::max(percentile(health, 0.99), 1e-3)) << " |\n"
        << "| server peak RSS with " << poll_devices << " devices enrolled and polling | "
        << fmt("%.0f", poll_rss_mib) << " MiB | | |\n"
        << "| rollout of a " << fmt("%.0f", package_mib) << " MiB package to " << rollout_devices
        << " devices: canary 10, waves 50% and 100%, 5 reports per device, 5 s polls | "
        << fmt("%.1f", rollout_s) << " s | " << rollout_devices
        << " plain downloads: " << fmt("%.1f", downloads_s) << " s | "
        << fmt("%.2f", rollout_s / std::max(downloads_s, 1e-3)) << " |\n"
        << "| server CPU during that rollout | " << fmt("%.1f", rollout_cpu_s) << " s | | |\n"
        << "| enrollment (ed25519 proof, one durable transaction each) | "
        << fmt("%.0f", poll_devices / enroll_s) << " devices/s | | |\n";
  std::printf("%s", table.str().c_str());
  if (!markdown.empty())
    check(bench::replace_section(markdown, "fleet-bench", table.str()), "write " + markdown);
  return 0;
}
