// The brute-force rule: free failures, doubling shut-outs up to a cap, the
// count forgotten after a quiet spell, and the limiter's bounded memory.
#include "server/auth/failure_limiter.h"

#include <gtest/gtest.h>

#include "common/clock.h"

namespace canopy::server {
namespace {

const FailurePolicy kPolicy{/*free_failures=*/3, /*first_block_ms=*/1000, /*max_block_ms=*/8000,
                            /*forget_after_ms=*/60'000};

TEST(FailureRuleTest, TheFreeFailuresCostNothingThenEachOneDoublesTheShutOutUpToTheCap) {
  FailureRecord record;
  const std::int64_t now = 1'000'000;
  std::vector<std::int64_t> waits;
  for (int i = 0; i < 8; ++i) {
    record = after_failure(record, now, kPolicy);
    waits.push_back(wait_ms(record, now));
  }
  EXPECT_EQ(waits, (std::vector<std::int64_t>{0, 0, 0, 1000, 2000, 4000, 8000, 8000}));
  EXPECT_EQ(record.failures, 8);
}

TEST(FailureRuleTest, AShutOutEndsOnTimeAndAQuietSpellForgetsTheCount) {
  FailureRecord record;
  std::int64_t now = 0;
  for (int i = 0; i < 4; ++i) record = after_failure(record, now, kPolicy);
  EXPECT_EQ(wait_ms(record, now), 1000);
  EXPECT_EQ(wait_ms(record, now + 999), 1);
  EXPECT_EQ(wait_ms(record, now + 1000), 0) << "released when its time is up";
  // A failure right after the release doubles the next shut-out ...
  now += 1000;
  record = after_failure(record, now, kPolicy);
  EXPECT_EQ(wait_ms(record, now), 2000);
  // ... but after a quiet spell the count starts again, with its free failures.
  now += kPolicy.forget_after_ms;
  record = after_failure(record, now, kPolicy);
  EXPECT_EQ(record.failures, 1);
  EXPECT_EQ(wait_ms(record, now), 0);
}

TEST(FailureRuleTest, AHugePolicyNeverOverflows) {
  FailurePolicy policy{0, 1000, std::int64_t{1} << 62, 1};
  FailureRecord record;
  for (int i = 0; i < 200; ++i) record = after_failure(record, 0, policy);
  EXPECT_GT(wait_ms(record, 0), 0);
  EXPECT_LE(wait_ms(record, 0), policy.max_block_ms);
}

TEST(FailureLimiterTest, AddressesAreCountedApartAndTheLimiterEngagesAndReleasesOnItsClock) {
  ManualClock clock;
  FailureLimiter limiter(clock, kPolicy);
  for (int i = 0; i < 4; ++i) limiter.record_failure("10.0.0.1", "api key");
  EXPECT_EQ(limiter.wait_ms("10.0.0.1"), 1000);
  EXPECT_EQ(limiter.wait_ms("10.0.0.2"), 0) << "another address is not touched";
  EXPECT_EQ(limiter.counts().addresses_blocked, 1u);
  limiter.record_refused();
  EXPECT_EQ(limiter.counts().failures, 4u);
  EXPECT_EQ(limiter.counts().refused, 1u);
  clock.advance_ms(1000);
  EXPECT_EQ(limiter.wait_ms("10.0.0.1"), 0);
  EXPECT_EQ(limiter.counts().addresses_blocked, 0u);
}

TEST(FailureLimiterTest, AFloodFromManyAddressesKeepsTheRecordsBounded) {
  ManualClock clock;
  FailureLimiter limiter(clock, kPolicy);
  const std::size_t flood = FailureLimiter::kMaxAddresses + 10;
  for (std::size_t i = 0; i < flood; ++i) {
    limiter.record_failure("address-" + std::to_string(i), "password");
    if (i % 1000 == 0) clock.advance_ms(1);
  }
  for (int i = 0; i < 4; ++i) limiter.record_failure("attacker", "password");
  EXPECT_GT(limiter.wait_ms("attacker"), 0) << "the newest address is kept";
  EXPECT_EQ(limiter.counts().failures, flood + 4);
}

}  // namespace
}  // namespace canopy::server
