// Activation ranges for int8 quantization, from values a model computes on
// real images. Each quantized tensor gets one ActivationHistogram: a first
// pass finds its range, a second fills 2048 bins of |x| over [0, max |x|].
// A calibrator then picks the clipping threshold T, and the tensor is
// quantized symmetrically: uint8 over [0, T] when it is never negative
// (after Relu), int8 over [-T, T] otherwise, zero point 0 either way.
//   min-max     T = max |x|: nothing clips, rare outliers cost resolution
//   percentile  T = the 99.99th percentile of |x|
//   entropy     T minimizing the KL divergence between the histogram and
//               its quantized version (the TensorRT calibrator)
// Thread-safety: values only.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"

namespace canopy::train {

enum class Calibrator { kMinMax, kPercentile, kEntropy };

Result<Calibrator> parse_calibrator(const std::string& name);
std::string calibrator_name(Calibrator calibrator);
inline constexpr std::array<Calibrator, 3> kAllCalibrators{Calibrator::kMinMax, Calibrator::kPercentile,
                                                           Calibrator::kEntropy};

class ActivationHistogram {
 public:
  static constexpr int kBins = 2048;

  // Pass 1.
  void observe_range(const float* values, std::int64_t count);
  // Pass 2, after every observe_range call.
  void observe(const float* values, std::int64_t count);

  bool is_signed() const { return min_ < 0; }
  float abs_max() const;
  // The clipping threshold; never 0 (an all-zero tensor gets a tiny one).
  float threshold(Calibrator calibrator) const;

 private:
  float percentile_threshold(double fraction) const;
  float entropy_threshold() const;
  float bin_width() const { return abs_max() / kBins; }

  float min_ = 0, max_ = 0;
  bool seen_ = false;
  std::vector<double> bins_ = std::vector<double>(kBins, 0.0);
};

}  // namespace canopy::train
