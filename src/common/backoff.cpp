#include "common/backoff.h"

#include <algorithm>

namespace canopy {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
    : initial_(initial), max_(std::max(initial, max)), random_(std::random_device{}()) {}

std::chrono::milliseconds Backoff::next_failure() {
  const int doublings = std::min(failures_, 30);
  ++failures_;
  const long long cap = std::min<long long>(max_.count(), initial_.count() << std::min(doublings, 20));
  std::uniform_int_distribution<long long> pick(initial_.count(), std::max<long long>(initial_.count(), cap));
  return std::chrono::milliseconds(pick(random_));
}

std::chrono::milliseconds Backoff::jittered(std::chrono::milliseconds interval) {
  std::uniform_real_distribution<double> factor(0.8, 1.2);
  return std::chrono::milliseconds(
      static_cast<long long>(static_cast<double>(interval.count()) * factor(random_)));
}

}  // namespace canopy
