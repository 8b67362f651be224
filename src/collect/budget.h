// Upload budgets for samples: at most so many per minute, hour and day
// (released over the day), and per strategy per day. Windows are aligned to the clock (a day is a UTC
// day), so a count read back after a restart is still the count of the
// window it belongs to, and the state is a few numbers kept in a file.
// Thread-safety: pure functions over the values passed in.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/error.h"
#include "common/json.h"

namespace canopy::collect {

struct BudgetRules {
  int per_minute = 2;
  int per_hour = 12;
  int per_day = 100;
  std::map<std::string, int> per_strategy_day;  // a strategy without an entry has only the shared limits
  // The day's budget is released hour by hour (per_day x (hour + 1) / 24),
  // so the first hours cannot spend what the rest of the day may need.
  bool paced = true;
};

// One window's count: which window (its start, Unix ms) and how many.
struct WindowCount {
  std::int64_t start_ms = -1;
  int count = 0;
};

struct BudgetState {
  WindowCount minute, hour, day;
  std::map<std::string, WindowCount> strategy_day;

  Json to_json() const;
  static Result<BudgetState> from_json(const Json& json);
};

// Whether one more sample picked by `strategy` fits every limit at `now_ms`.
bool budget_allows(const BudgetState& state, const BudgetRules& rules, const std::string& strategy,
                   std::int64_t now_ms);
// Counts one sample picked by `strategy` at `now_ms`.
void budget_spend(BudgetState& state, const std::string& strategy, std::int64_t now_ms);

}  // namespace canopy::collect
