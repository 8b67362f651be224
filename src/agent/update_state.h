// The updater's persistent record (DATA/state.json): which slot is active,
// what each slot holds, the update in progress and how often it was entered.
// It is the single source of truth: flipping the active slot and finishing an
// update is one atomic write of this file, so a crash leaves the old record
// or the new one and nothing in between (see docs/agent.md).
// Thread-safety: StateStore is used by the updater thread only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "agent/slots.h"
#include "api/device.h"
#include "api/model_ref.h"
#include "common/env.h"
#include "common/error.h"
#include "common/json.h"

namespace canopy::agent {

namespace fs = std::filesystem;

// The steps of an update, in order. kIdle means no update is in progress.
enum class Phase { kIdle, kDownloading, kVerifying, kInstalling, kHealthChecking, kSwitching };

std::string_view phase_name(Phase phase);
Result<Phase> parse_phase(std::string_view name);

// A slot holds a package; an update works towards what the server assigned
// (GET /api/v1/device/desired, docs/fleet.md).
using api::Assignment;
using api::PackageRef;

struct UpdateState {
  Phase phase = Phase::kIdle;
  std::optional<Slot> active_slot;           // none before the first install
  std::optional<PackageRef> slot_a, slot_b;  // what each slot directory holds
  std::optional<Assignment> target;          // set while phase != kIdle
  // Starts of the process that found this target's update unfinished, plus
  // the first try: beyond the limit the updater gives the version up.
  int attempts = 0;
  // A version that failed here; not tried again until the server desires another.
  std::optional<PackageRef> failed;
  std::string last_error;

  std::optional<PackageRef>& slot(Slot which) { return which == Slot::kA ? slot_a : slot_b; }
  const std::optional<PackageRef>& slot(Slot which) const { return which == Slot::kA ? slot_a : slot_b; }
  // The slot the next install goes to: the one that is not active.
  Slot inactive_slot() const { return active_slot ? other_slot(*active_slot) : Slot::kA; }
  std::optional<PackageRef> current() const;
  std::optional<PackageRef> previous() const;
};

// The models of `package` and of nothing.
std::optional<api::ModelRef> model_of(const std::optional<PackageRef>& package);

Json state_to_json(const UpdateState& state);
Result<UpdateState> state_from_json(const Json& json);

// Reads and writes DATA/state.json. Every save is atomic and durable (temp
// file, fsync, rename, fsync of the directory) and happens before the step it
// records acts, so a restart always knows where to resume.
class StateStore {
 public:
  // Writes go through `env` (tests inject failures there).
  explicit StateStore(fs::path data_dir, Env& env = default_env());
  // A missing file is a fresh device (idle, no slots); a damaged one is an error.
  Result<UpdateState> load() const;
  Status save(const UpdateState& state) const;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  Env* env_;
};

}  // namespace canopy::agent
