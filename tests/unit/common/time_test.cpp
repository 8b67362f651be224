#include "common/time.h"

#include <gtest/gtest.h>

namespace canopy {
namespace {

TEST(TimeTest, FormatsAndParsesBackTheSameSecond) {
  const std::int64_t ms = 1795594800000;  // 2026-11-25T08:20:00Z
  EXPECT_EQ(format_utc(ms), "2026-11-25T08:20:00Z");
  auto parsed = parse_utc(format_utc(ms + 999));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, ms);
}

TEST(TimeTest, RefusesAnythingButTheOneShape) {
  for (const char* text :
       {"", "2026-11-25", "2026-11-25T08:20:00", "2026-11-25 08:20:00Z", "2026-11-25T08:20:00+01:00",
        "2026-1a-25T08:20:00Z", "2026-11-25T08:20:00Zx", "-026-11-25T08:20:00Z"}) {
    auto parsed = parse_utc(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_NE(parsed.error().message.find("must look like 2026-11-25T08:00:00Z"), std::string::npos);
  }
}

}  // namespace
}  // namespace canopy
