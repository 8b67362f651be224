// The dashboard at fleet scale (docs/dashboard.md): with 10,000 enrolled
// devices, how long the devices page takes from navigation to its first
// rows and from a keystroke in the filter to the filtered rows, in Chromium
// (bench/dashboard_bench.mjs); and the compressed script and style a page
// loads. The reference is the same page on a fleet of 100 in the same run,
// so the ratio says what the fleet's size costs. Also what one Prometheus
// scrape of /metrics costs at each size.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include "bench_server.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/subprocess.h"
#include "fleet_clients.h"
#include "report.h"

namespace {

using canopy::bench::BenchServer;
using canopy::bench::check;
using canopy::bench::die;
using canopy::bench::fmt;
using canopy::bench::Target;
using namespace canopy;
namespace fs = std::filesystem;

constexpr const char* kUser = "bench";
constexpr const char* kPassword = "bench password";
// Filters a person types: a group and a number (10 matches), a name (111), a tag value (half), nothing.
constexpr const char* kQueries = "north-field-4242,south-field-12,north,cam-does-not-exist";
constexpr int kScrapes = 21;

// The median time of a scrape of /metrics, and its size, after one to warm up.
void time_scrapes(const Target& target, Json& figures) {
  const std::vector<std::string> headers = {std::string("X-API-KEY: ") + canopy::bench::kAdminKey};
  std::size_t bytes = canopy::bench::request(target, "GET", "/metrics", headers).body.size();
  std::vector<double> ms;
  for (int i = 0; i < kScrapes; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const HttpResponse response = canopy::bench::request(target, "GET", "/metrics", headers);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (response.status != 200) die("/metrics: HTTP " + std::to_string(response.status));
    bytes = response.body.size();
  }
  std::sort(ms.begin(), ms.end());
  figures["metrics_ms"] = ms[ms.size() / 2];
  figures["metrics_bytes"] = bytes;
}

Json measure(const fs::path& canopy_path, const fs::path& script, const fs::path& work, const fs::path& key,
             int devices) {
  BenchServer server(canopy_path, work / ("fleet-" + std::to_string(devices)), key);
  const Target target(server.url());
  canopy::bench::admin(target, "POST", "/api/v1/users",
                       {{"name", kUser}, {"role", "admin"}, {"password", kPassword}});
  std::fprintf(stderr, "enrolling %d devices\n", devices);
  (void)canopy::bench::enroll(target, "north-field", devices / 2, 8);
  (void)canopy::bench::enroll(target, "south-field", devices - devices / 2, 8);
  std::fprintf(stderr, "measuring the devices page in Chromium\n");
  const fs::path out = work / ("page-" + std::to_string(devices) + ".out");
  auto child = Subprocess::start({{"/usr/bin/env", "node", script.string()},
                                  {{"CANOPY_URL", server.url()},
                                   {"CANOPY_USER", kUser},
                                   {"CANOPY_PASSWORD", kPassword},
                                   {"CANOPY_QUERIES", kQueries}},
                                  out,
                                  work / "page.err"});
  if (!child.ok() || child->wait() != 0) {
    auto log = read_file(work / "page.err");
    die("the browser measurement failed: " + (log.ok() ? *log : std::string("(no log)")));
  }
  Json figures = check(parse_json(check(read_file(out), "read " + out.string())), "the browser's figures");
  time_scrapes(target, figures);
  return figures;
}

std::string row(const std::string& what, double measured, double reference, const std::string& unit,
                const std::string& goal, const char* format = "%.0f") {
  return "| " + what + " | " + fmt(format, measured) + unit + " | " + fmt(format, reference) + unit + " | " +
         fmt("%.2f", measured / std::max(reference, 1e-9)) + " | " + goal + " |\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The devices page of the dashboard with 10,000 devices, against 100", "dashboard_bench"};
  std::string canopy_path, script, work_dir = "bench-work", markdown;
  int devices = 10000;
  app.add_option("--canopy", canopy_path, "path of the canopy binary")->required();
  app.add_option("--script", script, "path of bench/dashboard_bench.mjs")->required();
  app.add_option("--work", work_dir, "scratch directory (default ./bench-work)");
  app.add_option("--devices", devices, "devices in the measured fleet (default 10000)");
  app.add_option("--markdown", markdown,
                 "Markdown file whose dashboard section is replaced with the results");
  CLI11_PARSE(app, argc, argv);
  check(init_crypto(), "crypto");

  const fs::path work = fs::absolute(work_dir) / "dashboard";
  fs::remove_all(work);
  fs::create_directories(work);
  KeyPair key = KeyPair::generate();
  check(save_key_pair(key, work / "publisher"), "save key");

  const Json small = measure(canopy_path, fs::absolute(script), work, work / "publisher.pub", 100);
  const Json large = measure(canopy_path, fs::absolute(script), work, work / "publisher.pub", devices);
  auto ms = [](const Json& figures, const char* name) { return figures[name].get<double>(); };

  std::ostringstream table;
  table << "Measured with `dashboard_bench` (`build/bench/dashboard_bench`), Debian's Chromium through "
           "playwright-core, "
        << std::thread::hardware_concurrency() << " cores shared by the server and the browser.\n\n"
        << "| measure | " << devices
        << " devices | reference: 100 devices | ratio | goal |\n|---|---|---|---|---|\n"
        << row("navigation to the devices page's first rows (median)", ms(large, "first_rows_ms"),
               ms(small, "first_rows_ms"), " ms", "≤ 500 ms")
        << row("the same, slowest of 7", ms(large, "first_rows_max_ms"), ms(small, "first_rows_max_ms"),
               " ms", "")
        << row("keystroke in the filter to filtered rows (median of 4 filters)", ms(large, "filter_ms"),
               ms(small, "filter_ms"), " ms", "≤ 200 ms")
        << row("the same, slowest filter", ms(large, "filter_max_ms"), ms(small, "filter_max_ms"), " ms", "")
        << row("script loaded by the page, compressed", ms(large, "script_bytes") / 1024,
               ms(small, "script_bytes") / 1024, " KiB", "")
        << row("style loaded by the page, compressed", ms(large, "style_bytes") / 1024,
               ms(small, "style_bytes") / 1024, " KiB", "script + style ≤ 100 KB")
        << row("a scrape of /metrics (median of " + std::to_string(kScrapes) + ", new connection each)",
               ms(large, "metrics_ms"), ms(small, "metrics_ms"), " ms", "", "%.1f")
        << row("its size", ms(large, "metrics_bytes") / 1024, ms(small, "metrics_bytes") / 1024, " KiB",
               "the same series at any size");
  std::printf("%s", table.str().c_str());
  if (!markdown.empty())
    check(canopy::bench::replace_section(markdown, "dashboard-bench", table.str()), "write " + markdown);
  return 0;
}
