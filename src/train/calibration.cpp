#include "train/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace canopy::train {

namespace {

constexpr float kSmallestThreshold = 1e-6f;
constexpr double kPercentile = 0.9999;

// KL(P || Q) of two histograms of the same length, each normalized here.
// Bins where P is empty add nothing; where Q is empty and P is not, Q gets
// a tiny mass so a threshold that drops mass is penalized, not infinite.
double kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  const double p_sum = std::accumulate(p.begin(), p.end(), 0.0), q_sum = std::accumulate(q.begin(), q.end(), 0.0);
  if (p_sum <= 0 || q_sum <= 0) return std::numeric_limits<double>::infinity();
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] <= 0) continue;
    const double pi = p[i] / p_sum, qi = std::max(q[i] / q_sum, 1e-12);
    kl += pi * std::log(pi / qi);
  }
  return kl;
}

}  // namespace

Result<Calibrator> parse_calibrator(const std::string& name) {
  if (name == "minmax") return Calibrator::kMinMax;
  if (name == "percentile") return Calibrator::kPercentile;
  if (name == "entropy") return Calibrator::kEntropy;
  return Error{ErrorCode::kInvalidArgument, "unknown calibrator '" + name + "' (minmax, percentile, entropy or auto)"};
}

std::string calibrator_name(Calibrator calibrator) {
  switch (calibrator) {
    case Calibrator::kMinMax: return "minmax";
    case Calibrator::kPercentile: return "percentile";
    case Calibrator::kEntropy: return "entropy";
  }
  return "?";
}

void ActivationHistogram::observe_range(const float* values, std::int64_t count) {
  if (count <= 0) return;
  const auto [lo, hi] = std::minmax_element(values, values + count);
  min_ = seen_ ? std::min(min_, *lo) : *lo;
  max_ = seen_ ? std::max(max_, *hi) : *hi;
  seen_ = true;
}

void ActivationHistogram::observe(const float* values, std::int64_t count) {
  const float width = bin_width();
  if (width <= 0) return;
  for (std::int64_t i = 0; i < count; ++i) {
    const auto bin = static_cast<std::int64_t>(std::fabs(values[i]) / width);
    bins_[static_cast<size_t>(std::min<std::int64_t>(bin, kBins - 1))] += 1;
  }
}

float ActivationHistogram::abs_max() const { return std::max(std::fabs(min_), std::fabs(max_)); }

float ActivationHistogram::threshold(Calibrator calibrator) const {
  float t = abs_max();
  if (calibrator == Calibrator::kPercentile) t = percentile_threshold(kPercentile);
  if (calibrator == Calibrator::kEntropy) t = entropy_threshold();
  return std::max(t, kSmallestThreshold);
}

float ActivationHistogram::percentile_threshold(double fraction) const {
  const double total = std::accumulate(bins_.begin(), bins_.end(), 0.0);
  if (total <= 0) return abs_max();
  double seen = 0;
  for (int i = 0; i < kBins; ++i) {
    seen += bins_[static_cast<size_t>(i)];
    if (seen >= fraction * total) return static_cast<float>(i + 1) * bin_width();
  }
  return abs_max();
}

// For each candidate threshold (a bin edge), the reference distribution is
// the histogram up to it with everything beyond folded into its last bin;
// the candidate is that distribution squeezed into the int8 levels and
// spread back over the bins that were non-empty. The least divergent wins.
float ActivationHistogram::entropy_threshold() const {
  const int levels = is_signed() ? 128 : 256;
  const double total = std::accumulate(bins_.begin(), bins_.end(), 0.0);
  if (total <= 0) return abs_max();
  double best_kl = std::numeric_limits<double>::infinity();
  int best = kBins;
  for (int edge = levels; edge <= kBins; edge += 16) {
    std::vector<double> p(bins_.begin(), bins_.begin() + edge);
    p.back() += std::accumulate(bins_.begin() + edge, bins_.end(), 0.0);
    std::vector<double> q(static_cast<size_t>(edge), 0.0);
    const double per_level = static_cast<double>(edge) / levels;
    for (int level = 0; level < levels; ++level) {
      const auto begin = static_cast<size_t>(std::floor(level * per_level));
      const auto end = std::max(begin + 1, static_cast<size_t>(std::floor((level + 1) * per_level)));
      double mass = 0;
      int occupied = 0;
      for (size_t i = begin; i < end && i < p.size(); ++i) {
        mass += bins_[i];  // the unfolded counts: clipped mass is not representable
        occupied += bins_[i] > 0 ? 1 : 0;
      }
      for (size_t i = begin; i < end && i < p.size(); ++i)
        if (bins_[i] > 0) q[i] = mass / occupied;
    }
    const double kl = kl_divergence(p, q);
    if (kl < best_kl) {
      best_kl = kl;
      best = edge;
    }
  }
  return static_cast<float>(best) * bin_width();
}

}  // namespace canopy::train
