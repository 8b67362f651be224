// The field detector's configuration, and the model named without libtorch:
// the public headers of src/train (trainer.h, onnx_export.h, prune.h, ...)
// pass the model by reference or shared pointer, so a file that includes
// them compiles without libtorch's headers. model.h defines the model.
// Thread-safety: plain data.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/json.h"

namespace canopy::train {

struct DetectorConfig {
  int classes = 3;
  int input_size = 320;  // square input, pixels; a multiple of 32
  double width = 0.5;    // channel multiplier
  double depth = 1.0;    // bottleneck count multiplier
  // Channel counts that override `width` for a channel group (see
  // channel_groups in prune.h); empty unless the model was pruned.
  std::map<std::string, int> channels;
  std::vector<int> strides() const { return {8, 16, 32}; }
  // The group's channel count: its override, or `fallback`.
  int channels_of(const std::string& group, int fallback) const;

  Json to_json() const;
  static DetectorConfig from_json(const Json& json);
};

// The libtorch module (model.h) and how it is held outside src/train.
struct FieldDetectorImpl;
using DetectorPtr = std::shared_ptr<FieldDetectorImpl>;

const DetectorConfig& config_of(const FieldDetectorImpl& model);
std::int64_t parameter_count(FieldDetectorImpl& model);
// Multiply-adds of one forward pass at the configured input size, times two.
double gflops(FieldDetectorImpl& model);

}  // namespace canopy::train
