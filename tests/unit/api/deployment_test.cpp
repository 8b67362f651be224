// Deployment requests and statuses on the wire: one JSON form each, with
// the strategy's defaults filled in and every mistake named.
#include "api/deployment.h"

#include <gtest/gtest.h>

namespace canopy::api {
namespace {

TEST(DeploymentRequestTest, TakesAVersionOrAnAliasAndExactlyOneTarget) {
  auto by_version =
      DeploymentRequest::from_json({{"model", "crop"}, {"version", 4}, {"target", {{"group", "north"}}}});
  ASSERT_TRUE(by_version.ok()) << by_version.error().message;
  EXPECT_EQ(by_version->model.text(), "crop:4");
  ASSERT_EQ(by_version->strategy.stages.size(), 1u) << "no strategy: one wave of 100%";
  EXPECT_EQ(by_version->strategy.stages[0].percent, 100);
  EXPECT_FALSE(by_version->allow_empty);
  auto again = DeploymentRequest::from_json(by_version->to_json());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->to_json(), by_version->to_json());

  auto by_alias = DeploymentRequest::from_json({{"model", "crop"},
                                                {"alias", "production"},
                                                {"target", {{"tags", {{"crop", "maize"}}}}},
                                                {"allow_empty", true}});
  ASSERT_TRUE(by_alias.ok()) << by_alias.error().message;
  EXPECT_TRUE(by_alias->model.is_alias());
  EXPECT_EQ(by_alias->target.describe(), "tags crop=maize");
  EXPECT_TRUE(by_alias->allow_empty);

  auto both = DeploymentRequest::from_json(
      {{"model", "crop"}, {"version", 4}, {"alias", "production"}, {"target", {{"group", "north"}}}});
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error().message, "request body: give exactly one of 'version' or 'alias'");
  auto two_targets = DeploymentRequest::from_json(
      {{"model", "crop"}, {"version", 4}, {"target", {{"group", "north"}, {"tags", {{"a", "b"}}}}}});
  ASSERT_FALSE(two_targets.ok());
  EXPECT_NE(two_targets.error().message.find("exactly one of 'group', 'tags' or 'devices'"),
            std::string::npos);
  auto bad_device = DeploymentRequest::from_json(
      {{"model", "crop"}, {"version", 4}, {"target", {{"devices", {"../../etc"}}}}});
  ASSERT_FALSE(bad_device.ok());
  EXPECT_NE(bad_device.error().message.find("16 hex digits"), std::string::npos);
}

TEST(RolloutStrategyTest, IsValidatedAndKeepsItsShape) {
  EXPECT_FALSE(RolloutStrategy::from_json({{"waves", {{{"percent", 50}}}}}).ok()) << "must end at 100%";
  EXPECT_FALSE(RolloutStrategy::from_json({{"canary", {{"count", 2}, {"percent", 5}}}}).ok());
  EXPECT_FALSE(RolloutStrategy::from_json({{"max_failure_ratio", 1.5}}).ok());
  EXPECT_FALSE(RolloutStrategy::from_json({{"waves", {{{"percent", 100}, {"soak_s", -1}}}}}).ok());
  auto strategy = RolloutStrategy::from_json(
      {{"canary", {{"count", 2}}}, {"waves", {{{"percent", 50}, {"soak_s", 60}}, {{"percent", 100}}}}});
  ASSERT_TRUE(strategy.ok()) << strategy.error().message;
  ASSERT_EQ(strategy->stages.size(), 3u);
  EXPECT_EQ(strategy->stages[0].name, "canary");
  EXPECT_EQ(strategy->stages[0].soak_s, 60) << "a canary soaks like the first wave by default";
  auto again = RolloutStrategy::from_json(strategy->to_json());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->to_json(), strategy->to_json());
}

TEST(DeploymentStatusTest, RoundTripsWithItsDetailAndRollback) {
  DeploymentStatus status;
  status.id = 9;
  status.package = {{"crop", 4}, std::string(64, 'a'), 2048};
  status.target.group = "north";
  status.state = DeploymentState::kRolledBack;
  status.reason = "rolled back by ops";
  status.stage_name = "wave 1";
  status.targeted = 3;
  status.counts = {{"success", 2}, {"failed", 1}};
  status.created_by = "ops";
  status.rollback = RollbackSummary{1, 0, 1, 1};
  DeploymentStatus::Detail& detail = status.detail.emplace();
  detail.strategy.stages.push_back({"wave 1", std::nullopt, 100, 0, 0.9});
  detail.stages.push_back({"wave 1", 3, 3, 2, 1, 0, 0.9, StageStatus::kCurrent});
  detail.failure_reports.push_back({"00112233aabbccdd", "field-2", "failed", "health check failed", "t"});
  const Json json = status.to_json();
  EXPECT_EQ(json["state"], "rolled-back");
  EXPECT_EQ(json["stages"][0]["status"], "current");
  auto back = DeploymentStatus::from_json(json);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->to_json(), json);
  ASSERT_TRUE(back->rollback);
  EXPECT_EQ(back->rollback->no_previous, 1u);
}

}  // namespace
}  // namespace canopy::api
