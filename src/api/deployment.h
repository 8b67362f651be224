// Deployments on the wire (docs/fleet.md, "Deployments"): what an operator
// asks for (a model, the devices, a rollout strategy) and the status the
// server answers with. The rollout rules themselves live in the server's
// fleet area (server/fleet/rollout.h); these are their inputs and outputs.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/device.h"
#include "api/model_ref.h"
#include "common/error.h"
#include "common/json.h"

namespace canopy::api {

// Which devices a deployment is for: exactly one of the three is set.
struct DeploymentTarget {
  std::string group;
  std::map<std::string, std::string> tags;  // every pair must match
  std::set<std::string> devices;

  Json to_json() const;
  static Result<DeploymentTarget> from_json(const Json& json);
  std::string describe() const;  // "group field-a", "tags crop=maize", "3 devices"
};

// One rollout stage: the canary or a wave. A wave's size is a cumulative
// share of the target; the canary's is a count or a share.
struct RolloutStage {
  std::string name;  // "canary", "wave 1", ...
  std::optional<std::int64_t> count;
  double percent = 0;
  std::int64_t soak_s = 0;
  double success_ratio = 0.9;
};

struct RolloutStrategy {
  std::vector<RolloutStage> stages;  // the canary (if any) first, then the waves; the last one is 100%
  double max_failure_ratio = 0.2;
  std::int64_t min_failures = 2;
  bool auto_rollback = true;

  Json to_json() const;
  // Fills defaults: no canary, one wave of 100%, success_ratio 0.9.
  static Result<RolloutStrategy> from_json(const Json& json);
};

// POST /api/v1/deployments.
struct DeploymentRequest {
  ModelSelector model;  // a version or an alias, resolved once at creation
  DeploymentTarget target;
  RolloutStrategy strategy;
  // A target that matches no device yet is refused unless this is set: the
  // deployment then waits for devices that enroll into it later.
  bool allow_empty = false;

  Json to_json() const;
  static Result<DeploymentRequest> from_json(const Json& json);
};

enum class DeploymentState { kRunning, kPaused, kRolledBack, kAborted, kCompleted };
std::string_view deployment_state_name(DeploymentState state);
std::optional<DeploymentState> parse_deployment_state(std::string_view text);

enum class StageStatus { kDone, kCurrent, kWaiting };

struct StageProgress {
  std::string name;
  std::size_t size = 0;  // cumulative devices the stage admits at today's target size
  std::size_t admitted = 0;
  std::size_t successes = 0;
  std::size_t failures = 0;
  std::int64_t soak_s = 0;
  double success_ratio = 0;
  StageStatus status = StageStatus::kWaiting;
};

struct FailureReport {
  std::string device_id;
  std::string name;
  std::string state;
  std::string error;
  std::string at;
};

// Where a rolled-back deployment's devices go: a device returns to its
// previous model only if it installed this one over another.
struct RollbackSummary {
  std::size_t returning = 0;      // told to return to their previous model
  std::size_t reverted = 0;       // of those, back on it already
  std::size_t no_previous = 0;    // installed this model with none before it: they keep it
  std::size_t not_installed = 0;  // never installed it: nothing to undo
};

// A deployment as GET /api/v1/deployments lists it; `detail` holds what
// GET /api/v1/deployments/ID adds.
struct DeploymentStatus {
  std::int64_t id = 0;
  PackageRef package;
  DeploymentTarget target;
  DeploymentState state = DeploymentState::kRunning;
  std::string reason;
  int stage = 0;
  std::string stage_name;
  std::string stage_started_at;
  std::size_t targeted = 0;
  std::size_t admitted = 0;
  std::size_t successes = 0;
  std::size_t failures = 0;
  std::map<std::string, std::size_t> counts;  // members by state
  std::string created_at;
  std::string created_by;
  std::string updated_at;
  std::optional<RollbackSummary> rollback;  // set once rolled back
  struct Detail {
    RolloutStrategy strategy;
    std::vector<StageProgress> stages;
    std::vector<FailureReport> failure_reports;
  };
  std::optional<Detail> detail;

  Json to_json() const;
  static Result<DeploymentStatus> from_json(const Json& json);
};

}  // namespace canopy::api
