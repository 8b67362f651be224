// The slow-client rule: a head is due a fixed time after it begins; a body
// after its grace, plus the time its bytes so far earn at the minimum rate.
#include "server/http/client_pace.h"

#include <gtest/gtest.h>

#include <limits>

#include "common/clock.h"

namespace canopy::server {
namespace {

const ClientPace kPace{/*head_timeout_ms=*/10'000, /*body_grace_ms=*/5'000, /*min_body_bytes_per_s=*/1'000};

TEST(ClientPaceTest, AHeadIsDueItsTimeoutAfterItBeganWhateverArrived) {
  for (std::int64_t start : {0ll, 1ll, 123'456ll, 1'000'000'000ll})
    for (std::uint64_t bytes : {0ull, 1ull, 1'000'000ull})
      EXPECT_EQ(read_deadline_ms(kPace, ReadPhase::kHead, start, bytes), start + 10'000)
          << start << " " << bytes;
}

TEST(ClientPaceTest, EveryBodyByteEarnsTimeAtTheMinimumRate) {
  for (std::int64_t rate : {1ll, 7ll, 1'000ll, 1'048'576ll}) {
    const ClientPace pace{10'000, 5'000, rate};
    for (std::int64_t start : {0ll, 42ll, 9'000'000ll})
      for (std::uint64_t bytes = 0; bytes <= 5'000; bytes += 7)
        EXPECT_EQ(read_deadline_ms(pace, ReadPhase::kBody, start, bytes),
                  start + 5'000 + static_cast<std::int64_t>(bytes * 1000 / static_cast<std::uint64_t>(rate)))
            << rate << " " << start << " " << bytes;
  }
}

TEST(ClientPaceTest, EveryByteTakenOfAResponseEarnsTimeAtTheDownloadRate) {
  for (std::int64_t rate : {1ll, 7ll, 1'000ll, 1'048'576ll}) {
    const ClientPace pace{10'000, 5'000, /*min_body_bytes_per_s=*/3, rate};
    for (std::int64_t start : {0ll, 42ll, 9'000'000ll})
      for (std::uint64_t bytes = 0; bytes <= 5'000; bytes += 7)
        EXPECT_EQ(response_deadline_ms(pace, start, bytes),
                  start + 5'000 + static_cast<std::int64_t>(bytes * 1000 / static_cast<std::uint64_t>(rate)))
            << rate << " " << start << " " << bytes;
  }
  // So many bytes that their time overflows: no deadline.
  const ClientPace slowest{10'000, 5'000, 1, 1};
  EXPECT_EQ(response_deadline_ms(slowest, 1'000, std::numeric_limits<std::uint64_t>::max()),
            std::numeric_limits<std::int64_t>::max());
}

// A client a little faster than the minimum rate is never behind; one
// slower falls behind, and the later the closer it is to the rate.
TEST(ClientPaceTest, OnlyAClientSlowerThanTheMinimumRateFallsBehind) {
  const std::int64_t start = 1'000;
  auto behind_at = [&](std::int64_t bytes_per_s) -> std::int64_t {
    for (std::int64_t t = start; t < start + 1'000'000; t += 10) {
      const auto received = static_cast<std::uint64_t>((t - start) * bytes_per_s / 1000);
      if (t >= read_deadline_ms(kPace, ReadPhase::kBody, start, received)) return t - start;
    }
    return -1;
  };
  EXPECT_EQ(behind_at(1'010), -1);
  EXPECT_EQ(behind_at(2'000), -1);
  EXPECT_EQ(behind_at(0), 5'000) << "nothing after the grace";
  EXPECT_EQ(behind_at(500), 10'000) << "5 s of grace and 5 s earned by 2.5 s of bytes";
  EXPECT_EQ(behind_at(900), 50'000);
}

// The attack the rule is for, on a manual clock: a head sent a byte every
// 29 s (each read well within a 30 s read timeout) is dropped at 10 s, and
// a body trickled the same way shortly after its grace.
TEST(ClientPaceTest, AByteEvery29SecondsIsDroppedAtTheDeadline) {
  ManualClock clock;
  const std::int64_t start = clock.monotonic_ms();
  std::int64_t dropped_after = -1;
  std::uint64_t bytes = 0;
  for (int i = 0; i < 100 && dropped_after < 0; ++i) {
    clock.advance_ms(29'000);
    if (clock.monotonic_ms() >= read_deadline_ms(kPace, ReadPhase::kBody, start, bytes))
      dropped_after = clock.monotonic_ms() - start;
    ++bytes;
  }
  EXPECT_EQ(dropped_after, 29'000) << "a byte earns 1 ms at 1000 B/s; the grace is 5 s";
  EXPECT_GE(clock.monotonic_ms(), read_deadline_ms(kPace, ReadPhase::kHead, start, 0));
}

TEST(ClientPaceTest, AnEnormousBodySaturatesInsteadOfOverflowing) {
  constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  const ClientPace slowest{10'000, 5'000, 1};
  EXPECT_EQ(read_deadline_ms(slowest, ReadPhase::kBody, 0, std::numeric_limits<std::uint64_t>::max()),
            kNever);
  EXPECT_EQ(read_deadline_ms(slowest, ReadPhase::kBody, kNever - 6'000, 2), kNever);
  EXPECT_EQ(read_deadline_ms(slowest, ReadPhase::kBody, kNever - 8'000, 2), kNever - 1'000);
  EXPECT_EQ(read_deadline_ms(slowest, ReadPhase::kBody, 0, static_cast<std::uint64_t>(kNever / 1000)),
            kNever);
  EXPECT_EQ(read_deadline_ms(slowest, ReadPhase::kBody, 0, static_cast<std::uint64_t>(kNever / 1000 - 10)),
            5'000 + (kNever / 1000 - 10) * 1000);
}

}  // namespace
}  // namespace canopy::server
