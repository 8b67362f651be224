#include "collect/budget.h"

namespace canopy::collect {

namespace {

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 86'400'000;

std::int64_t window_start(std::int64_t now_ms, std::int64_t length_ms) {
  return now_ms - ((now_ms % length_ms) + length_ms) % length_ms;
}

// The count in the window holding `now_ms`: a count of an earlier window is
// spent time, not spent budget.
int count_in(const WindowCount& window, std::int64_t now_ms, std::int64_t length_ms) {
  return window.start_ms == window_start(now_ms, length_ms) ? window.count : 0;
}

void spend(WindowCount& window, std::int64_t now_ms, std::int64_t length_ms) {
  const std::int64_t start = window_start(now_ms, length_ms);
  if (window.start_ms != start) window = {start, 0};
  ++window.count;
}

Json window_json(const WindowCount& window) {
  return {{"start_ms", window.start_ms}, {"count", window.count}};
}

Result<WindowCount> window_from(const Json& json, std::string_view name) {
  if (!json.is_object())
    return make_error(ErrorCode::kCorrupt, "budget window '" + std::string(name) + "' must be an object");
  WindowCount window;
  CANOPY_ASSIGN_OR_RETURN(window.start_ms, json_get<std::int64_t>(json, "start_ms"));
  CANOPY_ASSIGN_OR_RETURN(window.count, json_get<int>(json, "count"));
  if (window.count < 0) return make_error(ErrorCode::kCorrupt, "budget window count is negative");
  return window;
}

}  // namespace

Json BudgetState::to_json() const {
  Json strategies = Json::object();
  for (const auto& [name, window] : strategy_day) strategies[name] = window_json(window);
  return {{"minute", window_json(minute)},
          {"hour", window_json(hour)},
          {"day", window_json(day)},
          {"strategy_day", strategies}};
}

Result<BudgetState> BudgetState::from_json(const Json& json) {
  if (!json.is_object()) return make_error(ErrorCode::kCorrupt, "the budget must be an object");
  BudgetState state;
  for (auto [field, window] :
       {std::pair{"minute", &state.minute}, {"hour", &state.hour}, {"day", &state.day}}) {
    if (!json.contains(field))
      return make_error(ErrorCode::kCorrupt, std::string("the budget has no ") + field);
    CANOPY_ASSIGN_OR_RETURN(*window, window_from(json.at(field), field));
  }
  if (json.contains("strategy_day")) {
    if (!json.at("strategy_day").is_object())
      return make_error(ErrorCode::kCorrupt, "the budget's strategy_day must be an object");
    for (const auto& [name, window] : json.at("strategy_day").items()) {
      CANOPY_ASSIGN_OR_RETURN(state.strategy_day[name], window_from(window, name));
    }
  }
  return state;
}

bool budget_allows(const BudgetState& state, const BudgetRules& rules, const std::string& strategy,
                   std::int64_t now_ms) {
  if (count_in(state.minute, now_ms, kMinuteMs) >= rules.per_minute) return false;
  if (count_in(state.hour, now_ms, kHourMs) >= rules.per_hour) return false;
  const int today = count_in(state.day, now_ms, kDayMs);
  if (today >= rules.per_day) return false;
  if (rules.paced) {
    const std::int64_t hour_of_day = (now_ms - window_start(now_ms, kDayMs)) / kHourMs;
    if (static_cast<std::int64_t>(today) * 24 >= static_cast<std::int64_t>(rules.per_day) * (hour_of_day + 1))
      return false;
  }
  const auto limit = rules.per_strategy_day.find(strategy);
  if (limit == rules.per_strategy_day.end()) return true;
  const auto spent = state.strategy_day.find(strategy);
  return (spent == state.strategy_day.end() ? 0 : count_in(spent->second, now_ms, kDayMs)) < limit->second;
}

void budget_spend(BudgetState& state, const std::string& strategy, std::int64_t now_ms) {
  spend(state.minute, now_ms, kMinuteMs);
  spend(state.hour, now_ms, kHourMs);
  spend(state.day, now_ms, kDayMs);
  spend(state.strategy_day[strategy], now_ms, kDayMs);
}

}  // namespace canopy::collect
