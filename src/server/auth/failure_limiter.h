// Slows guessing (docs/security.md, "Brute force"): failed authentications
// (API keys, device tokens, sessions, passwords) and failed enrollments are
// counted per client address. The first few cost nothing, so a mistyped key
// is not punished; after them each failure shuts the address out for a time
// that doubles, up to a cap, and the count is forgotten after a quiet spell.
// While shut out, the address's credentials are not even looked at: a guess
// answered 429 teaches nothing.
//
// Successes do not reset the count, or one valid key would let its holder
// guess others between uses.
//
// The rule is pure (after_failure, wait_ms); FailureLimiter keeps a record
// per address on the server's Clock.
// Thread-safety: FailureLimiter is thread-safe; the rule functions are pure.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/clock.h"

namespace canopy::server {

struct FailurePolicy {
  int free_failures = 10;               // failures before the first shut-out
  std::int64_t first_block_ms = 1'000;  // the first shut-out; each further failure doubles it
  std::int64_t max_block_ms = 300'000;
  std::int64_t forget_after_ms = 900'000;  // a spell without failures that clears the count
};

struct FailureRecord {
  int failures = 0;
  std::int64_t last_failure_ms = 0;
  std::int64_t blocked_until_ms = 0;
};

// The record after one more failure at `now_ms`.
FailureRecord after_failure(FailureRecord record, std::int64_t now_ms, const FailurePolicy& policy);
// How long the address must still wait before it may try again; 0: now.
std::int64_t wait_ms(const FailureRecord& record, std::int64_t now_ms);

class FailureLimiter {
 public:
  // Records of at most this many addresses are kept; past it, the quiet
  // ones are forgotten first, then the ones whose last failure is oldest.
  static constexpr std::size_t kMaxAddresses = 100'000;

  FailureLimiter(Clock& clock, FailurePolicy policy = {});

  // 0 when `address` may try now, else the milliseconds it must wait.
  std::int64_t wait_ms(const std::string& address) const;
  // Counts a failure of `what` ("api key", "device token", "enrollment",
  // "password") from `address`, logging when it starts a shut-out.
  void record_failure(const std::string& address, const char* what);

  struct Counts {
    std::uint64_t failures = 0;  // failures recorded
    std::uint64_t refused = 0;   // requests refused while their address was shut out
    std::size_t addresses_blocked = 0;
  };
  Counts counts() const;
  // Counts a request refused for its address's shut-out.
  void record_refused();

 private:
  void make_room(std::int64_t now_ms);

  Clock& clock_;
  const FailurePolicy policy_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, FailureRecord> records_;  // guarded by mutex_
  std::uint64_t failures_ = 0, refused_ = 0;                // guarded by mutex_
};

}  // namespace canopy::server
