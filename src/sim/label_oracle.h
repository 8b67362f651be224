// The labeling oracle, a simulation tool (docs/labeling.md, "The oracle"):
// a careful person who knows the world simulator's ground truth. Given a
// sample, it answers the true boxes of the frame the sample was taken from,
// optionally with a set share of mistakes (a box given another class, or
// missed), so tests, benchmarks and the demo can run the labeling loop
// without people. Never part of a real deployment.
//
// A simulation directory (canopy sim --world --dir DIR) holds each device's
// agent data in DIR/device-K (its enrollment.json names the device id the
// server knows) and the world's truth in DIR/truth/device-K/frames.jsonl.
// A sample is matched to its frame by device, camera and capture time.
//
// Thread-safety: one thread at a time (the random draws).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "api/samples.h"
#include "common/error.h"

namespace canopy::sim {

class LabelOracle {
 public:
  // Reads every device's truth under `sim_dir`. kNotFound when it holds none.
  static Result<LabelOracle> load(const std::filesystem::path& sim_dir, double error_rate,
                                  std::uint32_t seed);

  // The true boxes of the sample's frame (0-1 coordinates), with the
  // oracle's mistakes; nullopt when no frame matches.
  std::optional<std::vector<api::SampleBox>> label(const api::StoredSample& sample);

  std::size_t frames() const { return truth_.size(); }

 private:
  using FrameKey = std::tuple<std::string, std::string, std::int64_t>;  // device id, camera, capture ms
  std::map<FrameKey, std::vector<api::SampleBox>> truth_;
  std::vector<std::string> classes_;
  double error_rate_ = 0;
  std::mt19937 random_;
};

}  // namespace canopy::sim
