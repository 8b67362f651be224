// Writes the field detector canopy-train ships as the two packages the field
// loop benchmark runs (bench/field_loop_bench.cpp): OUT/fp32 and OUT/int8
// (QDQ, calibrated on 16 rendered field images). A program of its own so
// that the benchmark that measures the agent's memory never links libtorch.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <filesystem>

#include "torch_reference.h"

int main(int argc, char** argv) {
  CLI::App app{"Writes the field detector as fp32 and int8 packages", "field_detector_package"};
  std::string out;
  app.add_option("--out", out, "directory that receives fp32/ and int8/ (and calibration/ images)")
      ->required();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  const std::filesystem::path dir = std::filesystem::absolute(out);
  try {
    std::filesystem::create_directories(dir);
    canopy::bench::write_field_detector_packages(dir, dir / "fp32", dir / "int8");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "field_detector_package: %s\n", e.what());
    return 1;
  }
  std::printf("%s\n%s\n", (dir / "fp32").c_str(), (dir / "int8").c_str());
  return 0;
}
