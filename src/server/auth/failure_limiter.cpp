#include "server/auth/failure_limiter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

namespace canopy::server {

FailureRecord after_failure(FailureRecord record, std::int64_t now_ms, const FailurePolicy& policy) {
  if (record.failures > 0 && now_ms - record.last_failure_ms >= policy.forget_after_ms)
    record = FailureRecord{};
  ++record.failures;
  record.last_failure_ms = now_ms;
  const int over = record.failures - policy.free_failures;
  if (over > 0) {
    // Doubling from the first shut-out; the shift is bounded before it can overflow.
    std::int64_t block = policy.first_block_ms;
    for (int i = 1; i < over && block < policy.max_block_ms; ++i) block *= 2;
    record.blocked_until_ms = now_ms + std::min(block, policy.max_block_ms);
  }
  return record;
}

std::int64_t wait_ms(const FailureRecord& record, std::int64_t now_ms) {
  return std::max<std::int64_t>(0, record.blocked_until_ms - now_ms);
}

FailureLimiter::FailureLimiter(Clock& clock, FailurePolicy policy) : clock_(clock), policy_(policy) {}

std::int64_t FailureLimiter::wait_ms(const std::string& address) const {
  std::lock_guard lock(mutex_);
  auto it = records_.find(address);
  return it == records_.end() ? 0 : server::wait_ms(it->second, clock_.monotonic_ms());
}

void FailureLimiter::record_failure(const std::string& address, const char* what) {
  const std::int64_t now = clock_.monotonic_ms();
  std::lock_guard lock(mutex_);
  if (records_.size() >= kMaxAddresses && !records_.contains(address)) make_room(now);
  FailureRecord& record = records_[address];
  record = after_failure(record, now, policy_);
  ++failures_;
  const std::int64_t blocked = server::wait_ms(record, now);
  if (blocked > 0)
    spdlog::warn("auth.address_blocked address={} what=\"{}\" failures={} for_ms={}", address, what,
                 record.failures, blocked);
  else
    spdlog::info("auth.failed address={} what=\"{}\" failures={}", address, what, record.failures);
}

void FailureLimiter::record_refused() {
  std::lock_guard lock(mutex_);
  ++refused_;
}

FailureLimiter::Counts FailureLimiter::counts() const {
  const std::int64_t now = clock_.monotonic_ms();
  std::lock_guard lock(mutex_);
  Counts counts{failures_, refused_, 0};
  for (const auto& [address, record] : records_)
    if (server::wait_ms(record, now) > 0) ++counts.addresses_blocked;
  return counts;
}

void FailureLimiter::make_room(std::int64_t now_ms) {
  std::erase_if(records_, [&](const auto& entry) {
    return now_ms - entry.second.last_failure_ms >= policy_.forget_after_ms;
  });
  if (records_.size() < kMaxAddresses) return;
  // Still full: a flood from many addresses. Forget the older half.
  std::vector<std::int64_t> last;
  last.reserve(records_.size());
  for (const auto& [address, record] : records_) last.push_back(record.last_failure_ms);
  std::nth_element(last.begin(), last.begin() + static_cast<std::ptrdiff_t>(last.size() / 2), last.end());
  const std::int64_t median = last[last.size() / 2];
  std::erase_if(records_, [&](const auto& entry) { return entry.second.last_failure_ms < median; });
}

}  // namespace canopy::server
