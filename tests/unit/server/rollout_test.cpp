// The rollout rules as pure functions: stage sizes, advancement on successes
// and soak time, the failure threshold, and what each member device is told.
#include "server/fleet/rollout.h"

#include <gtest/gtest.h>

namespace canopy::server {
namespace {

Deployment make_deployment(int devices, const Json& strategy) {
  Deployment d;
  d.id = 1;
  d.package.model.name = "crop-detector";
  d.package.model.version = 4;
  d.package.sha256 = "ab";
  d.package.size_bytes = 10;
  d.target.group = "north";
  auto parsed = RolloutStrategy::from_json(strategy);
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  d.strategy = *parsed;
  for (int i = 0; i < devices; ++i) d.add_member("device-" + std::to_string(i));
  return d;
}

const DeviceActive kAllActive = [](const std::string&) { return true; };

void step(Deployment& d, std::int64_t now) { apply_plan(d, plan_rollout(d, kAllActive, now), now); }

std::size_t admitted(const Deployment& d) { return tally(d, kAllActive).admitted; }

void report(Deployment& d, int index, const std::string& state) {
  d.members[static_cast<std::size_t>(index)].state = state;
}

TEST(Rollout, StageSizesAreCumulativeSharesRoundedUp) {
  RolloutStage wave{"wave 1", std::nullopt, 10, 0, 0.9};
  EXPECT_EQ(stage_size(wave, 0), 0u);
  EXPECT_EQ(stage_size(wave, 3), 1u);
  EXPECT_EQ(stage_size(wave, 20), 2u);
  RolloutStage canary{"canary", 5, 0, 0, 1.0};
  EXPECT_EQ(stage_size(canary, 3), 3u);
  EXPECT_EQ(stage_size(canary, 50), 5u);
}

TEST(Rollout, StrategiesAreValidated) {
  EXPECT_FALSE(RolloutStrategy::from_json({{"waves", {{{"percent", 50}}}}}).ok()) << "must end at 100%";
  EXPECT_FALSE(
      RolloutStrategy::from_json({{"waves", {{{"percent", 60}}, {{"percent", 50}}, {{"percent", 100}}}}})
          .ok());
  EXPECT_FALSE(RolloutStrategy::from_json({{"canary", {{"count", 2}, {"percent", 5}}}}).ok());
  EXPECT_FALSE(RolloutStrategy::from_json({{"max_failure_ratio", 1.5}}).ok());
  auto defaults = RolloutStrategy::from_json(nullptr);
  ASSERT_TRUE(defaults.ok());
  ASSERT_EQ(defaults->stages.size(), 1u);
  EXPECT_EQ(defaults->stages[0].percent, 100);
  auto canary = RolloutStrategy::from_json(
      {{"canary", {{"count", 2}}}, {"waves", {{{"percent", 100}, {"soak_s", 30}}}}});
  ASSERT_TRUE(canary.ok());
  EXPECT_EQ(canary->stages[0].soak_s, 30) << "a canary soaks like the first wave by default";
}

TEST(Rollout, AdvancesOnlyAfterSuccessesAndSoak) {
  Deployment d = make_deployment(10, {{"canary", {{"count", 2}, {"soak_s", 60}, {"success_ratio", 1.0}}},
                                      {"waves", {{{"percent", 100}}}}});
  step(d, 0);
  EXPECT_EQ(admitted(d), 2u);
  EXPECT_EQ(d.stage, 0);
  report(d, 0, "success");
  step(d, 61'000);
  EXPECT_EQ(d.stage, 0) << "one of two canaries is not enough";
  report(d, 1, "success");
  RolloutPlan early = plan_rollout(d, kAllActive, 30'000);
  EXPECT_EQ(early.stage, 0) << "the soak has not passed";
  EXPECT_EQ(early.wake_ms, 60'000) << "the clock alone moves it at the soak's end";
  step(d, 60'000);
  EXPECT_EQ(d.stage, 1);
  EXPECT_EQ(admitted(d), 10u);
  for (int i = 2; i < 10; ++i) report(d, i, "success");
  step(d, 61'000);
  EXPECT_EQ(d.state, DeploymentState::kCompleted);
}

TEST(Rollout, FailuresOverTheThresholdRollBack) {
  Deployment d =
      make_deployment(10, {{"canary", {{"count", 4}}}, {"min_failures", 2}, {"max_failure_ratio", 0.2}});
  step(d, 0);
  report(d, 0, "success");
  PackageRef previous;
  previous.model.name = "crop-detector";
  previous.model.version = 3;
  d.members[0].rollback_to = previous;
  report(d, 1, "failed");
  step(d, 1);
  EXPECT_EQ(d.state, DeploymentState::kRunning) << "below min_failures";
  report(d, 2, "rolled-back");
  step(d, 2);
  EXPECT_EQ(d.state, DeploymentState::kRolledBack);
  EXPECT_EQ(d.reason, "2 of 4 admitted devices failed (ratio 0.50 > 0.20)");
  auto rollback = assignment_for(d, d.members[0]);
  ASSERT_TRUE(rollback.has_value());
  EXPECT_EQ(rollback->action, Action::kRollback);
  EXPECT_EQ(rollback->package.model.version, 3);
  EXPECT_FALSE(assignment_for(d, d.members[1]).has_value());
  EXPECT_FALSE(assignment_for(d, d.members[5]).has_value());
}

TEST(Rollout, ReportsCountOnlyForTheDeploymentsModel) {
  Deployment d = make_deployment(2, {{"canary", {{"count", 1}}}});
  step(d, 0);
  const ModelRef target{"crop-detector", 4}, other{"crop-detector", 3};
  EXPECT_EQ(state_after_report(d, d.members[0], ReportState::kSuccess, target), "success");
  EXPECT_FALSE(state_after_report(d, d.members[0], ReportState::kSuccess, other))
      << "success with another model";
  EXPECT_FALSE(state_after_report(d, d.members[0], ReportState::kIdle, target));
  EXPECT_FALSE(state_after_report(d, d.members[1], ReportState::kFailed, target)) << "not admitted";
  d.state = DeploymentState::kRolledBack;
  PackageRef previous;
  previous.model = other;
  d.members[0].rollback_to = previous;
  EXPECT_EQ(state_after_report(d, d.members[0], ReportState::kRolledBack, other), kMemberReverted);
  EXPECT_EQ(state_after_report(d, d.members[0], ReportState::kSuccess, other), kMemberReverted);
}

TEST(Rollout, APauseHoldsDevicesThatHaveNotStarted) {
  Deployment d =
      make_deployment(4, {{"min_failures", 1}, {"max_failure_ratio", 0.1}, {"auto_rollback", false}});
  step(d, 0);
  report(d, 0, "failed");
  report(d, 1, "downloading");
  step(d, 1);
  EXPECT_EQ(d.state, DeploymentState::kPaused);
  EXPECT_TRUE(assignment_for(d, d.members[1]).has_value()) << "part-way through: it finishes";
  EXPECT_FALSE(assignment_for(d, d.members[2]).has_value()) << "not started: held";
  d.state = DeploymentState::kRunning;
  d.failure_baseline = 1;
  step(d, 2);
  EXPECT_EQ(d.state, DeploymentState::kRunning) << "acknowledged failures do not pause it again";
}

TEST(Rollout, InactiveAndSupersededDevicesDoNotCount) {
  Deployment d = make_deployment(4, {{"waves", {{{"percent", 50}}, {{"percent", 100}}}}});
  d.members[3].state = kMemberSuperseded;
  const DeviceActive all_but_first = [](const std::string& id) { return id != "device-0"; };
  apply_plan(d, plan_rollout(d, all_but_first, 0), 0);
  Tally counts = tally(d, all_but_first);
  EXPECT_EQ(counts.eligible, 2u);
  EXPECT_EQ(counts.admitted, 1u);
  EXPECT_FALSE(d.members[0].admitted_stage.has_value());
  EXPECT_FALSE(assignment_for(d, d.members[3]).has_value());
}

// A newer deployment takes every device over: the finished one stays
// completed (it does not read as running with nothing to do).
TEST(Rollout, ACompletedDeploymentStaysCompletedWhenSuperseded) {
  Deployment d = make_deployment(2, {{"waves", {{{"percent", 100}}}}});
  step(d, 0);
  report(d, 0, "success");
  report(d, 1, "success");
  step(d, 1000);
  ASSERT_EQ(d.state, DeploymentState::kCompleted);
  d.members[0].state = kMemberSuperseded;
  d.members[1].state = kMemberSuperseded;
  step(d, 2000);
  EXPECT_EQ(d.state, DeploymentState::kCompleted);
}

}  // namespace
}  // namespace canopy::server
