#include "server/fleet/rollout.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace canopy::server {

namespace {

bool counts(const Member& member, const DeviceActive& active) {
  return member.state != kMemberSuperseded && active(member.device_id);
}

std::string ratio_text(double value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f", value);
  return buf;
}

}  // namespace

std::size_t stage_size(const RolloutStage& stage, std::size_t eligible) {
  if (stage.count) return std::min<std::size_t>(static_cast<std::size_t>(*stage.count), eligible);
  // Rounded up, so a small share of a small fleet still admits a device.
  auto size =
      static_cast<std::size_t>(std::ceil(stage.percent * static_cast<double>(eligible) / 100.0 - 1e-9));
  return std::min(size, eligible);
}

bool RolloutPlan::changes(const Deployment& deployment) const {
  return !admit.empty() || stage != deployment.stage || stage_started_ms != deployment.stage_started_ms ||
         state != deployment.state || reason != deployment.reason;
}

RolloutPlan plan_rollout(const Deployment& deployment, const DeviceActive& active, std::int64_t now_ms) {
  RolloutPlan plan;
  plan.stage = deployment.stage;
  plan.stage_started_ms = deployment.stage_started_ms;
  plan.state = deployment.state;
  plan.reason = deployment.reason;
  if (deployment.state != DeploymentState::kRunning && deployment.state != DeploymentState::kCompleted)
    return plan;

  std::vector<std::size_t> eligible;  // member indices in join order
  for (std::size_t i = 0; i < deployment.members.size(); ++i)
    if (counts(deployment.members[i], active)) eligible.push_back(i);
  std::vector<bool> admitted(eligible.size());
  for (std::size_t k = 0; k < eligible.size(); ++k)
    admitted[k] = deployment.members[eligible[k]].admitted_stage.has_value();
  const std::size_t total = eligible.size();
  const auto& stages = deployment.strategy.stages;

  while (true) {
    const RolloutStage& stage = stages[static_cast<std::size_t>(plan.stage)];
    std::size_t admitted_count = static_cast<std::size_t>(std::count(admitted.begin(), admitted.end(), true));
    for (std::size_t k = 0; k < total && admitted_count < stage_size(stage, total); ++k) {
      if (admitted[k]) continue;
      admitted[k] = true;
      ++admitted_count;
      plan.admit.emplace_back(eligible[k], plan.stage);
    }
    std::size_t successes = 0, failures = 0;
    for (std::size_t k = 0; k < total; ++k) {
      if (!admitted[k]) continue;
      const std::string& state = deployment.members[eligible[k]].state;
      if (state == "success")
        ++successes;
      else if (is_failure_state(state))
        ++failures;
    }
    // Failures a resume acknowledged do not trip the threshold again.
    const auto counted = static_cast<std::int64_t>(failures) - deployment.failure_baseline;
    if (counted >= deployment.strategy.min_failures && admitted_count > 0 &&
        static_cast<double>(counted) / static_cast<double>(admitted_count) >
            deployment.strategy.max_failure_ratio) {
      plan.state =
          deployment.strategy.auto_rollback ? DeploymentState::kRolledBack : DeploymentState::kPaused;
      plan.reason = std::to_string(counted) + " of " + std::to_string(admitted_count) +
                    " admitted devices failed (ratio " +
                    ratio_text(static_cast<double>(counted) / static_cast<double>(admitted_count)) + " > " +
                    ratio_text(deployment.strategy.max_failure_ratio) + ")";
      return plan;
    }
    if (static_cast<std::size_t>(plan.stage) + 1 == stages.size()) {
      // With no device left (a newer deployment took them all over) it stays
      // as it was: a completed deployment does not go back to running.
      if (total > 0)
        plan.state = successes == total ? DeploymentState::kCompleted : DeploymentState::kRunning;
      return plan;
    }
    const bool enough =
        admitted_count > 0 &&
        static_cast<double>(successes) >= stage.success_ratio * static_cast<double>(admitted_count) - 1e-9;
    if (!enough) return plan;
    const std::int64_t soak_end = plan.stage_started_ms + stage.soak_s * 1000;
    if (now_ms < soak_end) {
      plan.wake_ms = soak_end;
      return plan;
    }
    ++plan.stage;
    plan.stage_started_ms = now_ms;
  }
}

void apply_plan(Deployment& deployment, const RolloutPlan& plan, std::int64_t now_ms) {
  for (const auto& [index, stage] : plan.admit) {
    Member& member = deployment.members[index];
    member.admitted_stage = stage;
    if (member.state == kMemberWaiting) member.state = kMemberPending;
    member.updated_ms = now_ms;
  }
  if (plan.changes(deployment)) deployment.updated_ms = now_ms;
  deployment.stage = plan.stage;
  deployment.stage_started_ms = plan.stage_started_ms;
  deployment.state = plan.state;
  deployment.reason = plan.reason;
}

Tally tally(const Deployment& deployment, const DeviceActive& active) {
  Tally out;
  out.stages.resize(deployment.strategy.stages.size());
  for (const auto& member : deployment.members) {
    ++out.by_state[member.state];
    if (!counts(member, active)) continue;
    ++out.eligible;
    if (!member.admitted_stage) continue;
    StageTally& stage = out.stages[static_cast<std::size_t>(*member.admitted_stage)];
    ++out.admitted;
    ++stage.admitted;
    if (member.state == "success") {
      ++out.successes;
      ++stage.successes;
    } else if (is_failure_state(member.state)) {
      ++out.failures;
      ++stage.failures;
    }
  }
  for (std::size_t i = 0; i < out.stages.size(); ++i)
    out.stages[i].size = stage_size(deployment.strategy.stages[i], out.eligible);
  return out;
}

std::optional<std::string> state_after_report(const Deployment& deployment, const Member& member,
                                              ReportState state, const std::optional<ModelRef>& reported) {
  if (!member.admitted_stage || member.state == kMemberSuperseded || state == ReportState::kIdle)
    return std::nullopt;
  if (deployment.state == DeploymentState::kRolledBack && member.rollback_to &&
      (state == ReportState::kRolledBack ||
       (state == ReportState::kSuccess && reported == member.rollback_to->model)))
    return std::string(kMemberReverted);
  if (state == ReportState::kSuccess && reported != deployment.package.model) return std::nullopt;
  return std::string(api::report_state_name(state));
}

std::optional<Assignment> assignment_for(const Deployment& deployment, const Member& member) {
  if (member.state == kMemberSuperseded) return std::nullopt;
  if (deployment.state == DeploymentState::kRolledBack) {
    // Only devices that installed the model have anything to undo.
    if (!member.rollback_to) return std::nullopt;
    return Assignment{Action::kRollback, *member.rollback_to};
  }
  if (!deployment.in_force() || !member.admitted_stage) return std::nullopt;
  // A pause holds back devices that have not started; ones part-way through finish.
  if (deployment.state == DeploymentState::kPaused && member.state == kMemberPending) return std::nullopt;
  return Assignment{Action::kInstall, deployment.package};
}

api::RollbackSummary rollback_summary(const Deployment& deployment) {
  api::RollbackSummary out;
  for (const Member& member : deployment.members) {
    if (member.state == kMemberSuperseded) continue;
    if (member.rollback_to) {
      ++out.returning;
      if (member.state == kMemberReverted) ++out.reverted;
    } else if (member.state == "success") {
      ++out.no_previous;
    } else {
      ++out.not_installed;
    }
  }
  return out;
}

}  // namespace canopy::server
