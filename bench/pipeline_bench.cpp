// Pipeline runner overhead. A pipeline of 20 trivial steps, run with
// `canopy pipeline run`, against the same 20 commands in one plain bash
// script (the reference), in one run on one machine:
//   - every step runs (--force): what the runner adds per step (a bash per
//     step, output streaming, log files, run.json rewritten atomically as
//     each step starts and ends, input/output hashing, cache entries);
//   - every step cached: the cost of deciding that nothing needs to run.
// Prints a Markdown table and, with --markdown FILE, replaces the
// pipeline-overhead section of that file.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "common/files.h"
#include "common/subprocess.h"
#include "report.h"

namespace {

using canopy::bench::die;
using canopy::bench::fmt;
using canopy::bench::check;
using namespace canopy;
using Clock = std::chrono::steady_clock;

// Runs argv to completion with output to `log`; returns the wall time in seconds.
double timed(const std::vector<std::string>& argv, const fs::path& log) {
  auto start = Clock::now();
  auto child = Subprocess::start({argv, {}, log, log});
  if (!child.ok()) die("cannot start " + argv[0] + ": " + child.error().message);
  if (int code = child->wait(); code != 0) die(argv[0] + " exited with " + std::to_string(code) + "; see " + log.string());
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Pipeline runner overhead against a plain bash script", "pipeline_bench"};
  std::string canopy_path, work_dir = "bench-work", markdown;
  int steps = 20, runs = 5;
  app.add_option("--canopy", canopy_path, "path of the canopy binary")->required();
  app.add_option("--work", work_dir, "scratch directory (default ./bench-work)");
  app.add_option("--steps", steps, "steps in the pipeline (default 20)")->check(CLI::Range(1, 1000));
  app.add_option("--runs", runs, "repetitions; the median is reported (default 5)")->check(CLI::Range(1, 100));
  app.add_option("--markdown", markdown, "Markdown file whose pipeline-overhead section is replaced");
  CLI11_PARSE(app, argc, argv);

  const fs::path work = fs::absolute(work_dir) / "pipeline";
  fs::remove_all(work);
  fs::create_directories(work / "out");
  // Each step echoes a line and writes one small output file, so that the
  // cached run has outputs to check; the script does exactly the same.
  std::string yaml, script = "#!/bin/bash\nset -e\ncd " + work.string() + "\n";
  for (int i = 0; i < steps; ++i) {
    const std::string command = "echo step " + std::to_string(i) + " | tee out/" + std::to_string(i) + ".txt";
    yaml += "- step:\n    name: step-" + std::to_string(i) + "\n    command: " + command + "\n    outputs: out/" +
            std::to_string(i) + ".txt\n";
    script += command + "\n";
  }
  check(write_file_atomic(work / "pipeline.yaml", yaml), "write pipeline");
  check(write_file_atomic(work / "script.sh", script, 0755), "write script");
  const fs::path bash = "/bin/bash";

  std::vector<double> reference, forced, cached;
  timed({canopy_path, "pipeline", "run", (work / "pipeline.yaml").string(), "--force"}, work / "warmup.log");
  for (int r = 0; r < runs; ++r) {
    std::fprintf(stderr, "pipeline overhead run %d/%d\n", r + 1, runs);
    reference.push_back(timed({bash.string(), (work / "script.sh").string()}, work / "script.log"));
    forced.push_back(timed({canopy_path, "pipeline", "run", (work / "pipeline.yaml").string(), "--force"}, work / "forced.log"));
    cached.push_back(timed({canopy_path, "pipeline", "run", (work / "pipeline.yaml").string()}, work / "cached.log"));
  }
  const double ref = median(reference), all = median(forced), none = median(cached);
  const std::string n = std::to_string(steps);
  std::string result = "| measure | canopy | plain bash script | ratio |\n|---|---|---|---|\n";
  result += "| " + n + " trivial steps, all run (--force), median of " + std::to_string(runs) + " | " +
            fmt("%.0f ms", all * 1000) + " (" + fmt("%.1f ms", (all - ref) * 1000 / steps) + " per step over the script) | " +
            fmt("%.1f ms", ref * 1000) + " | " + fmt("%.1f", all / ref) + " |\n";
  result += "| " + n + " trivial steps, all cached, median of " + std::to_string(runs) + " | " + fmt("%.0f ms", none * 1000) +
            " | " + fmt("%.1f ms", ref * 1000) + " | " + fmt("%.1f", none / ref) + " |\n";
  std::printf("%s", result.c_str());
  if (!markdown.empty()) {
    std::string section = "Measured with `make bench` (`build/bench/pipeline_bench`), " +
                          std::to_string(std::thread::hardware_concurrency()) +
                          " cores, scratch in the build directory. Ratio: canopy time over the script's time (above 1: the runner is slower).\n\n" + result;
    check(bench::replace_section(markdown, "pipeline-overhead", section), "write " + markdown);
  }
  return 0;
}
