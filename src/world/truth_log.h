// The simulated world's ground truth: append-only JSON Lines in a directory
// of the simulator's own, never on the agent's path to the server.
//   frames.jsonl   each published frame: file, camera, time, size, light, true boxes (pixels) and states
//   soil.jsonl     each zone every ten minutes and at each valve change: θ, Dr, Ks, water in and out
//   plants.jsonl   every plant change with its time and cause
//   weather.jsonl  each day: temperatures, humidity, rain, ET0
// A line is written whole with one append and its values are rounded to
// fixed decimals, so the same world writes the same bytes.
// Thread-safety: one thread at a time.
#pragma once

#include <filesystem>
#include <string_view>

#include "common/error.h"
#include "common/json.h"

namespace canopy::world {

class TruthLog {
 public:
  explicit TruthLog(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // Appends `record` as one line to DIR/STREAM.jsonl, creating both as needed.
  Status append(std::string_view stream, const Json& record);
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// `value` rounded to `decimals`, so truth files do not carry float noise.
double rounded(double value, int decimals);

}  // namespace canopy::world
