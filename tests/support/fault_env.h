// An Env (common/env.h) for tests that must prove what survives a failure:
// it counts the operations that write (create, append, set_mode, sync,
// rename, directory sync, remove) and fails the Nth one, runs out of disk
// space after a number of bytes, and on `drop_unsynced()` does what a power
// cut does to data the program never made durable: appended bytes past the
// last sync are lost, and creations and renames whose directory was never
// synced are undone (a replaced file gets its old content back).
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/env.h"

namespace canopy::testing {

class FaultEnv final : public Env {
 public:
  // Every write operation from now on counts; the `n`th (1-based) fails
  // with kIo, and so does every one after it until reset() (a failed disk
  // does not recover in the middle of a write).
  void fail_from_operation(std::int64_t n) { fail_from_ = n; }
  // Appends fail with "no space left" once this many bytes were appended.
  void fill_disk_after_bytes(std::uint64_t bytes) { disk_left_ = bytes; }
  // Clears the failure settings and the operation count (not the record of
  // unsynced data).
  void reset();
  std::int64_t operations() const { return operations_; }

  // The power cut: see above. Afterwards everything counts as durable.
  void drop_unsynced();

  Result<std::unique_ptr<WritableFile>> create_temp_file(const fs::path& dir,
                                                         std::string_view prefix) override;
  Status rename_file(const fs::path& from, const fs::path& to) override;
  Status sync_dir(const fs::path& dir) override;
  Status sync_file(const fs::path& path) override;
  Status remove_file(const fs::path& path) override;

 private:
  friend class FaultFile;
  // Counts one operation; the error when it is one that must fail.
  Status operation(std::string_view what, const fs::path& path);
  Status consume_space(std::uint64_t bytes, const fs::path& path);

  struct FileRecord {
    std::uint64_t size = 0;
    std::uint64_t synced = 0;
  };
  struct PendingChange {  // a creation or rename not yet made durable by a directory sync
    fs::path dir;
    fs::path from;  // empty for a creation
    fs::path to;
    std::optional<std::string> replaced;  // what `to` held before a rename
  };

  Env& real_ = default_env();
  std::int64_t operations_ = 0;
  std::optional<std::int64_t> fail_from_;
  std::optional<std::uint64_t> disk_left_;
  std::map<fs::path, FileRecord> files_;
  std::vector<PendingChange> pending_;
};

}  // namespace canopy::testing
