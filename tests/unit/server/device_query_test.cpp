// The devices page's filter, sort, paging and counts (device_query.h): pure
// functions of plain Device values and a time, so every case is exact.
#include "server/fleet/device_query.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace canopy::server {
namespace {

constexpr std::int64_t kNow = 1'000'000'000;
constexpr std::int64_t kStaleAfter = 90'000;

Device device(std::string id, std::string name, std::string group, std::map<std::string, std::string> tags,
              std::optional<ModelRef> model, std::int64_t last_seen_ms) {
  Device d;
  d.id = std::move(id);
  d.name = std::move(name);
  d.group = std::move(group);
  d.tags = std::move(tags);
  d.current = std::move(model);
  d.last_seen_ms = last_seen_ms;
  d.status = DeviceStatus::kActive;
  d.health = model ? "ok" : "no-model";
  return d;
}

class DeviceQueryTest : public ::testing::Test {
 protected:
  DeviceQueryTest() {
    fleet_ = {
        device("d1", "North gate", "field-a", {{"crop", "maize"}}, ModelRef{"crop", 9}, kNow - 1000),
        device("d2", "South pump", "field-a", {{"crop", "wheat"}}, ModelRef{"crop", 10}, kNow - 200'000),
        device("d3", "Orchard", "field-b", {{"crop", "apple"}, {"zone", "3"}}, std::nullopt, 0),
        device("d4", "north ridge", "field-b", {}, ModelRef{"soil", 1}, kNow - 90'000),
    };
    fleet_[3].status = DeviceStatus::kRevoked;
    fleet_[1].state = ReportState::kFailed;
    for (const Device& d : fleet_) pointers_.push_back(&d);
  }

  std::vector<std::string> ids(const std::map<std::string, std::string>& params) {
    auto query = parse_device_query(params);
    EXPECT_TRUE(query.ok()) << query.error().message;
    std::vector<std::string> out;
    for (const Device* d : select_devices(pointers_, *query, kNow, kStaleAfter).page) out.push_back(d->id);
    return out;
  }

  std::vector<Device> fleet_;
  std::vector<const Device*> pointers_;
};

TEST_F(DeviceQueryTest, PresenceIsOnlineUntilThreePollsAreMissed) {
  EXPECT_EQ(presence(fleet_[0], kNow, kStaleAfter), Presence::kOnline);
  EXPECT_EQ(presence(fleet_[3], kNow, kStaleAfter), Presence::kOnline) << "exactly at the limit";
  EXPECT_EQ(presence(fleet_[1], kNow, kStaleAfter), Presence::kStale);
  EXPECT_EQ(presence(fleet_[2], kNow, kStaleAfter), Presence::kNever);
  for (Presence p : {Presence::kOnline, Presence::kStale, Presence::kNever})
    EXPECT_EQ(parse_presence(presence_name(p)), p);
  EXPECT_FALSE(parse_presence("offline"));
}

TEST_F(DeviceQueryTest, TextMatchesEveryWordAnywhereIgnoringCase) {
  EXPECT_EQ(ids({}), (std::vector<std::string>{"d1", "d2", "d3", "d4"}));
  EXPECT_EQ(ids({{"q", "NORTH"}}), (std::vector<std::string>{"d1", "d4"})) << "names, any case";
  EXPECT_EQ(ids({{"q", "north field-b"}}), (std::vector<std::string>{"d4"})) << "every word must match";
  EXPECT_EQ(ids({{"q", "crop:10"}}), (std::vector<std::string>{"d2"})) << "the model label";
  EXPECT_EQ(ids({{"q", "zone:3"}}), (std::vector<std::string>{"d3"})) << "a tag";
  EXPECT_EQ(ids({{"q", "failed"}}), (std::vector<std::string>{"d2"})) << "the reported state";
  EXPECT_EQ(ids({{"q", "revoked"}}), (std::vector<std::string>{"d4"})) << "the status";
  EXPECT_EQ(ids({{"q", "  "}}), (std::vector<std::string>{"d1", "d2", "d3", "d4"})) << "blank is no filter";
  EXPECT_EQ(ids({{"q", "nothing-like-this"}}), std::vector<std::string>{});
}

TEST_F(DeviceQueryTest, FieldsFilterExactly) {
  EXPECT_EQ(ids({{"status", "revoked"}}), (std::vector<std::string>{"d4"}));
  EXPECT_EQ(ids({{"presence", "stale"}}), (std::vector<std::string>{"d2"}));
  EXPECT_EQ(ids({{"presence", "never"}}), (std::vector<std::string>{"d3"}));
  EXPECT_EQ(ids({{"group", "field-a"}}), (std::vector<std::string>{"d1", "d2"}));
  EXPECT_EQ(ids({{"group", "field"}}), std::vector<std::string>{}) << "a group is matched whole";
  EXPECT_EQ(ids({{"tag", "crop"}}), (std::vector<std::string>{"d1", "d2", "d3"}));
  EXPECT_EQ(ids({{"tag", "crop:wheat"}}), (std::vector<std::string>{"d2"}));
  EXPECT_EQ(ids({{"model", "crop"}}), (std::vector<std::string>{"d1", "d2"}));
  EXPECT_EQ(ids({{"model", "crop:9"}}), (std::vector<std::string>{"d1"}));
  EXPECT_EQ(ids({{"model", "none"}}), (std::vector<std::string>{"d3"}));
  EXPECT_EQ(ids({{"health", "no-model"}}), (std::vector<std::string>{"d3"}));
  EXPECT_EQ(ids({{"group", "field-b"}, {"q", "orchard"}}), (std::vector<std::string>{"d3"}));
}

TEST_F(DeviceQueryTest, SortsByEveryKeyWithTiesByIdInBothOrders) {
  EXPECT_EQ(ids({{"sort", "name"}}), (std::vector<std::string>{"d1", "d3", "d2", "d4"})) << "bytewise";
  EXPECT_EQ(ids({{"sort", "model"}}), (std::vector<std::string>{"d3", "d1", "d2", "d4"}))
      << "no model first, then versions in number order (9 before 10)";
  EXPECT_EQ(ids({{"sort", "last_seen"}, {"order", "desc"}}),
            (std::vector<std::string>{"d1", "d4", "d2", "d3"}));
  EXPECT_EQ(ids({{"sort", "group"}}), (std::vector<std::string>{"d1", "d2", "d3", "d4"}));
  EXPECT_EQ(ids({{"sort", "group"}, {"order", "desc"}}), (std::vector<std::string>{"d4", "d3", "d2", "d1"}))
      << "ties reversed too, so a descending page is the ascending one backwards";
  EXPECT_EQ(ids({{"sort", "status"}}), (std::vector<std::string>{"d1", "d2", "d3", "d4"}));
  EXPECT_EQ(ids({{"sort", "state"}}), (std::vector<std::string>{"d1", "d3", "d4", "d2"}));
  EXPECT_EQ(ids({{"sort", "health"}}), (std::vector<std::string>{"d3", "d1", "d2", "d4"}));
  EXPECT_EQ(ids({{"sort", "id"}, {"order", "desc"}}), (std::vector<std::string>{"d4", "d3", "d2", "d1"}));
}

TEST_F(DeviceQueryTest, PagesNeverOverlapAndCountEveryMatch) {
  auto query = parse_device_query({{"sort", "group"}, {"limit", "3"}, {"offset", "1"}});
  ASSERT_TRUE(query.ok());
  DeviceSelection selection = select_devices(pointers_, *query, kNow, kStaleAfter);
  EXPECT_EQ(selection.total, 4u);
  ASSERT_EQ(selection.page.size(), 3u);
  EXPECT_EQ(selection.page[0]->id, "d2");
  EXPECT_EQ(ids({{"limit", "2"}, {"offset", "3"}}), (std::vector<std::string>{"d4"}));
  EXPECT_EQ(ids({{"offset", "10"}}), std::vector<std::string>{}) << "past the end is an empty page";

  // Walking every page of every sort visits each device once.
  for (const char* sort : {"id", "name", "group", "status", "model", "state", "health", "last_seen"}) {
    std::vector<std::string> seen;
    for (int offset = 0; offset < 4; offset += 3) {
      auto page = ids({{"sort", sort}, {"limit", "3"}, {"offset", std::to_string(offset)}});
      seen.insert(seen.end(), page.begin(), page.end());
    }
    EXPECT_EQ(seen, ids({{"sort", sort}})) << sort;
  }
}

TEST_F(DeviceQueryTest, BadParametersNameWhatIsAllowed) {
  const std::map<std::string, std::string> bad[] = {
      {{"status", "lost"}}, {{"presence", "away"}}, {{"sort", "colour"}}, {{"order", "up"}},
      {{"offset", "-1"}},   {{"offset", "x"}},      {{"limit", "0"}},     {{"limit", "1001"}},
  };
  for (const auto& params : bad) {
    auto query = parse_device_query(params);
    ASSERT_FALSE(query.ok()) << params.begin()->first;
    EXPECT_EQ(query.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(query.error().message.find(params.begin()->first), std::string::npos) << query.error().message;
  }
  EXPECT_TRUE(parse_device_query({{"limit", "1000"}}).ok());
}

TEST_F(DeviceQueryTest, TheSummaryCountsLiveDevicesByEachMeasure) {
  Json summary = summarize_devices(pointers_, kNow, kStaleAfter);
  EXPECT_EQ(summary["total"], 4);
  EXPECT_EQ(summary["by_status"], (Json{{"active", 3}, {"revoked", 1}}));
  EXPECT_EQ(summary["by_presence"], (Json{{"online", 1}, {"stale", 1}, {"never", 1}}))
      << "not the revoked one";
  EXPECT_EQ(summary["by_model"], (Json{{"crop:9", 1}, {"crop:10", 1}, {"none", 1}}));
  EXPECT_EQ(summary["by_health"], (Json{{"ok", 2}, {"no-model", 1}}));
  EXPECT_EQ(summary["by_state"], (Json{{"idle", 2}, {"failed", 1}}));
  EXPECT_EQ(summary["by_group"], (Json{{"field-a", 2}, {"field-b", 1}}));
}

}  // namespace
}  // namespace canopy::server
