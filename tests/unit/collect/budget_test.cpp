#include "collect/budget.h"

#include <gtest/gtest.h>

namespace canopy::collect {
namespace {

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kT0 = 20'000 * kDay;  // a UTC midnight

TEST(BudgetTest, EachWindowLimitsAndResetsAtItsBoundary) {
  BudgetRules rules{.per_minute = 2, .per_hour = 3, .per_day = 4, .per_strategy_day = {}, .paced = false};
  BudgetState state;
  budget_spend(state, "uncertainty", kT0);
  budget_spend(state, "uncertainty", kT0 + 1000);
  EXPECT_FALSE(budget_allows(state, rules, "uncertainty", kT0 + 59'999));  // minute full
  EXPECT_TRUE(budget_allows(state, rules, "uncertainty", kT0 + 60'000));   // next minute
  budget_spend(state, "uncertainty", kT0 + 60'000);
  EXPECT_FALSE(budget_allows(state, rules, "uncertainty", kT0 + 120'000));  // hour full
  EXPECT_TRUE(budget_allows(state, rules, "uncertainty", kT0 + 3'600'000));
  budget_spend(state, "uncertainty", kT0 + 3'600'000);
  EXPECT_FALSE(budget_allows(state, rules, "uncertainty", kT0 + 7'200'000));  // day full
  EXPECT_FALSE(budget_allows(state, rules, "random", kT0 + kDay - 1));
  EXPECT_TRUE(budget_allows(state, rules, "uncertainty", kT0 + kDay));  // a new UTC day
}

TEST(BudgetTest, AStrategyWithItsOwnLimitLeavesTheRestToOthers) {
  BudgetRules rules{.per_minute = 100,
                    .per_hour = 100,
                    .per_day = 100,
                    .per_strategy_day = {{"novelty", 1}},
                    .paced = false};
  BudgetState state;
  budget_spend(state, "novelty", kT0);
  EXPECT_FALSE(budget_allows(state, rules, "novelty", kT0 + 3'600'000));
  EXPECT_TRUE(budget_allows(state, rules, "uncertainty", kT0 + 3'600'000));
  EXPECT_TRUE(budget_allows(state, rules, "novelty", kT0 + kDay));
}

TEST(BudgetTest, APacedDayReleasesItsBudgetHourByHour) {
  BudgetRules rules{.per_minute = 100, .per_hour = 100, .per_day = 48, .per_strategy_day = {}, .paced = true};
  BudgetState state;
  constexpr std::int64_t kHour = 3'600'000;
  int kept_in_first_hour = 0;
  for (int i = 0; i < 10; ++i)
    if (budget_allows(state, rules, "temporal", kT0 + i))
      budget_spend(state, "temporal", kT0 + i), ++kept_in_first_hour;
  EXPECT_EQ(kept_in_first_hour, 2) << "48 a day: 2 by the end of the first hour";
  EXPECT_TRUE(budget_allows(state, rules, "temporal", kT0 + kHour));
  // Late in the day what the quiet hours left is there to spend.
  int kept_late = 0;
  for (int i = 0; i < 100; ++i)
    if (budget_allows(state, rules, "temporal", kT0 + 23 * kHour + i))
      budget_spend(state, "temporal", kT0 + 23 * kHour + i), ++kept_late;
  EXPECT_EQ(kept_late, 46);
}

TEST(BudgetTest, TheStateReadBackCountsTheSameAndRefusesCorruption) {
  BudgetRules rules{.per_minute = 5, .per_hour = 5, .per_day = 2, .per_strategy_day = {}, .paced = false};
  BudgetState state;
  budget_spend(state, "temporal", kT0 + 5);
  budget_spend(state, "random", kT0 + 6);
  auto read = BudgetState::from_json(state.to_json());
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_FALSE(budget_allows(*read, rules, "temporal", kT0 + 10));
  EXPECT_EQ(read->strategy_day.at("random").count, 1);
  EXPECT_FALSE(BudgetState::from_json(Json::array()).ok());
  Json bad = state.to_json();
  bad["day"]["count"] = -1;
  EXPECT_EQ(BudgetState::from_json(bad).error().code, ErrorCode::kCorrupt);
  bad.erase("day");
  EXPECT_FALSE(BudgetState::from_json(bad).ok());
}

}  // namespace
}  // namespace canopy::collect
