// Registry benchmark. Compares, in one run on one disk:
//   - upload throughput (curl -T to the server: stream, verify, hash, store)
//     and download throughput (curl from the server) against `cp` of the same
//     file followed by an fsync (the server makes every stored package durable);
//   - GET /api/v1/models latency with 10,000 versions stored, against
//     GET /api/v1/health on the same server (HTTP + auth floor);
//   - server start-up time with 10,000 versions against an empty store.
// Prints a Markdown table and, with --markdown FILE, replaces the registry
// section of that file.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "bench_server.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/http_client.h"
#include "common/keys.h"
#include "common/progress.h"
#include "common/subprocess.h"
#include "package/package.h"
#include "report.h"
#include "server/registry/registry.h"

namespace {

using canopy::bench::BenchServer;
using canopy::bench::check;
using canopy::bench::die;
using canopy::bench::fmt;
using canopy::bench::kAdminKey;
using canopy::bench::make_random_package;
using canopy::bench::percentile;
using namespace canopy;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

int run(const std::vector<std::string>& argv) {
  auto child = check(Subprocess::start({argv, {}, {}, {}}), "start " + argv[0]);
  return child.wait();
}

void fsync_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  ::fsync(fd);
  ::close(fd);
}

// A running `canopy server`; records how long it took to listen.
struct Row {
  std::string measure, canopy, reference, ratio;
};

std::string table(const std::vector<Row>& rows) {
  std::string out = "| measure | canopy | reference | ratio |\n|---|---|---|---|\n";
  for (const auto& r : rows)
    out += "| " + r.measure + " | " + r.canopy + " | " + r.reference + " | " + r.ratio + " |\n";
  return out;
}

std::vector<Row> bench_throughput(const fs::path& canopy, const fs::path& work, std::uint64_t size_mib,
                                  const KeyPair& key, const fs::path& key_pub, int runs) {
  fs::path data = work / "throughput-data";
  fs::remove_all(data);
  BenchServer server(canopy, data, key_pub);
  std::vector<double> up, up_ref, down, down_ref;
  const std::uint64_t size = size_mib << 20;
  for (int i = 0; i < runs; ++i) {
    std::fprintf(stderr, "throughput run %d/%d: packaging %llu MiB\n", i + 1, runs,
                 static_cast<unsigned long long>(size_mib));
    fs::path pkg = make_random_package(work, "throughput-model", size, 100 + static_cast<unsigned>(i), key,
                                       work / "big.zip");
    const double mib = static_cast<double>(fs::file_size(pkg)) / (1 << 20);

    auto t = Clock::now();
    run({"/bin/cp", pkg.string(), (data / "cp-reference.zip").string()});
    fsync_file(data / "cp-reference.zip");
    up_ref.push_back(mib / seconds_since(t));

    t = Clock::now();
    int rc = run({"/usr/bin/curl", "-sf", "-o", "/dev/null", "-H", std::string("X-API-KEY:") + kAdminKey,
                  "-T", pkg.string(), server.url() + "/repository/model.zip"});
    if (rc != 0) die("upload failed");
    up.push_back(mib / seconds_since(t));

    fs::remove(data / "cp-reference.zip");
    t = Clock::now();
    run({"/bin/cp", pkg.string(), (work / "cp-download-reference.zip").string()});
    fsync_file(work / "cp-download-reference.zip");
    down_ref.push_back(mib / seconds_since(t));

    t = Clock::now();
    rc = run({"/usr/bin/curl", "-sf", "-o", (work / "downloaded.zip").string(), "-H",
              std::string("X-API-KEY:") + kAdminKey,
              server.url() + "/api/v1/models/throughput-model/versions/latest/package"});
    fsync_file(work / "downloaded.zip");
    if (rc != 0) die("download failed");
    down.push_back(mib / seconds_since(t));
    if (check(sha256_file_hex(work / "downloaded.zip"), "hash") != check(sha256_file_hex(pkg), "hash"))
      die("downloaded package differs from the upload");
    fs::remove(work / "cp-download-reference.zip");
    fs::remove(work / "downloaded.zip");
    fs::remove(pkg);
  }
  std::string label = std::to_string(size_mib) + " MiB package, median of " + std::to_string(runs);
  return {{"upload (curl -T, verify, store), " + label, fmt("%.0f MiB/s", median(up)),
           fmt("cp+fsync %.0f MiB/s", median(up_ref)), fmt("%.2f", median(up) / median(up_ref))},
          {"download (curl), " + label, fmt("%.0f MiB/s", median(down)),
           fmt("cp+fsync %.0f MiB/s", median(down_ref)), fmt("%.2f", median(down) / median(down_ref))}};
}

std::vector<Row> bench_listing(const fs::path& canopy, const fs::path& work, int versions, const KeyPair& key,
                               const fs::path& key_pub) {
  fs::path data = work / "listing-data";
  fs::path empty = work / "empty-data";
  fs::remove_all(data);
  fs::remove_all(empty);
  {
    // Seed through the registry library itself: the same verify-and-store path as an upload.
    server::RegistryOptions options;
    options.trusted_publishers = {key.public_key};
    auto registry = check(server::Registry::open(check(server::Database::open_in(data), "open database"),
                                                 check(server::BlobStore::open(data), "open blob store"),
                                                 options, KeyPair::generate(), system_clock()),
                          "open registry");
    ProgressReporter progress("seeding versions", static_cast<std::uint64_t>(versions), false);
    for (int i = 0; i < versions; ++i) {
      std::string name = "field-model-" + std::to_string(i % 100);
      fs::path pkg = make_random_package(work, name, 512, static_cast<unsigned>(i), key, work / "small.zip");
      auto temp = check(TempFile::create(registry->tmp_dir(), "upload-"), "temp");
      std::string bytes = check(read_file(pkg), "read");
      check(temp.write(bytes), "write");
      check(
          registry->publish(std::move(temp), sha256_hex(bytes), std::nullopt, server::Publisher{"bench", ""}),
          "publish");
      progress.update(static_cast<std::uint64_t>(i + 1));
    }
    progress.finish();
  }
  std::vector<double> startup_full, startup_empty;
  for (int i = 0; i < 5; ++i) {
    {
      BenchServer s(canopy, empty, key_pub);
      startup_empty.push_back(s.startup_seconds());
    }
    {
      BenchServer s(canopy, data, key_pub);
      startup_full.push_back(s.startup_seconds());
    }
  }
  BenchServer server(canopy, data, key_pub);
  HttpOptions admin;
  admin.headers = {std::string("X-API-KEY: ") + kAdminKey};
  HttpClient client(server.url(), admin);
  auto time_requests = [&](const std::string& path) {
    std::vector<double> ms;
    for (int i = 0; i < 20; ++i) check(client.get(path), "warm-up");
    for (int i = 0; i < 200; ++i) {
      auto t = Clock::now();
      auto response = check(client.get(path), "GET " + path);
      if (response.status != 200) die("GET " + path + " answered " + std::to_string(response.status));
      ms.push_back(seconds_since(t) * 1000);
    }
    return ms;
  };
  auto list_ms = time_requests("/api/v1/models");
  auto model_ms = time_requests("/api/v1/models/field-model-7");
  auto health_ms = time_requests("/api/v1/health");
  std::string n = std::to_string(versions);
  return {
      {"GET /api/v1/models, " + n + " versions in 100 models (p50 / p95)",
       fmt("%.2f ms", median(list_ms)) + " / " + fmt("%.2f ms", percentile(list_ms, 0.95)),
       "GET /api/v1/health " + fmt("%.2f ms", median(health_ms)),
       fmt("%.2f", median(list_ms) / median(health_ms))},
      {"GET /api/v1/models/NAME, 100 versions (p50 / p95)",
       fmt("%.2f ms", median(model_ms)) + " / " + fmt("%.2f ms", percentile(model_ms, 0.95)),
       "GET /api/v1/health " + fmt("%.2f ms", median(health_ms)),
       fmt("%.2f", median(model_ms) / median(health_ms))},
      {"server start to listening, " + n + " versions (median of 5)",
       fmt("%.0f ms", median(startup_full) * 1000),
       "empty store " + fmt("%.0f ms", median(startup_empty) * 1000),
       fmt("%.2f", median(startup_full) / median(startup_empty))},
  };
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Registry throughput and latency benchmark", "registry_bench"};
  std::string canopy_path, work_dir = "bench-work", markdown;
  std::uint64_t size_mib = 256;
  int versions = 10000, runs = 3;
  app.add_option("--canopy", canopy_path, "path of the canopy binary")->required();
  app.add_option("--work", work_dir, "scratch directory on the disk under test (default ./bench-work)");
  app.add_option("--size-mib", size_mib, "package size for throughput (default 256)");
  app.add_option("--versions", versions, "versions to store for the latency test (default 10000)");
  app.add_option("--runs", runs, "throughput repetitions (default 3)");
  app.add_option("--markdown", markdown, "Markdown file whose registry section is replaced with the results");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  check(init_crypto(), "crypto");
  fs::path work = fs::absolute(work_dir);
  fs::create_directories(work);
  KeyPair key = KeyPair::generate();
  fs::remove(work / "bench-key.key");
  fs::remove(work / "bench-key.pub");
  check(save_key_pair(key, work / "bench-key"), "save key");

  auto rows = bench_throughput(canopy_path, work, size_mib, key, work / "bench-key.pub", runs);
  auto listing = bench_listing(canopy_path, work, versions, key, work / "bench-key.pub");
  rows.insert(rows.end(), listing.begin(), listing.end());
  std::string result = table(rows);
  std::printf("%s", result.c_str());
  if (!markdown.empty()) {
    std::string section =
        "Measured with `make bench` (`build/bench/registry_bench`), " +
        std::to_string(std::thread::hardware_concurrency()) + " cores, scratch in the build directory" +
        ". Ratios above 1 mean canopy is faster for throughput, slower for latency and start-up.\n\n" +
        result;
    check(bench::replace_section(markdown, "registry-bench", section), "write " + markdown);
  }
  fs::remove_all(work);
  return 0;
}
