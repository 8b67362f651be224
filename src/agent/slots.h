// The A/B model slots under DATA/slots: `a` and `b` each hold one extracted,
// verified package. A new model is extracted next to the slot it will replace
// (`<slot>.next`), health-checked there, and only then moved into the slot,
// so the model in the slot keeps being the previous one until the new one
// has proven itself. Which slot is active is recorded in state.json, not here.
// Thread-safety: used by the updater thread only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "package/package.h"

namespace canopy::agent {

namespace fs = std::filesystem;

// The two model slots.
enum class Slot { kA, kB };
// "a" or "b": the slot's directory, and its name in state.json and in logs.
std::string_view slot_name(Slot slot);
inline Slot other_slot(Slot slot) { return slot == Slot::kA ? Slot::kB : Slot::kA; }

class SlotStore {
 public:
  // `max_bytes` caps what the slots may hold together (0: only the free
  // space of the filesystem counts), for devices that share a small disk and
  // for testing a full disk.
  SlotStore(const fs::path& data_dir, std::uint64_t max_bytes);

  fs::path slot_dir(Slot slot) const { return root_ / std::string(slot_name(slot)); }
  fs::path staging_dir(Slot slot) const { return root_ / (std::string(slot_name(slot)) + ".next"); }
  bool has_staged(Slot slot) const;

  // Verifies `zip` and extracts it into staging_dir(slot), replacing a stale
  // one. Fails without writing when the package does not fit: its listed
  // size must fit both the free disk space and the `max_bytes` budget; the
  // same bound is enforced on the bytes actually unpacked.
  Result<package::PackageInfo> stage(const fs::path& zip, Slot slot, package::VerifyOptions options) const;

  // Moves staging_dir(slot) into slot_dir(slot), deleting what the slot held.
  // Calling it again after a crash midway finishes the move: it is a no-op
  // once the staging directory is gone. `between` runs after the old slot is
  // removed and before the rename (the fault-injection point of that instant).
  Status promote(Slot slot, const std::function<void()>& between = {}) const;

  // Empties a slot whose content is no longer known to be good.
  Status clear(Slot slot) const;

  // Removes what an interrupted extraction or install left behind: temp
  // extraction directories, and every staged model except `keep_staged`'s
  // (none: remove them all).
  void remove_leftovers(std::optional<Slot> keep_staged) const;

 private:
  std::uint64_t used_bytes() const;
  fs::path root_;
  std::uint64_t max_bytes_;
};

}  // namespace canopy::agent
