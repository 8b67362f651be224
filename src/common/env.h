// The file-system operations whose failure or interruption decides what
// survives a crash: creating and writing a new file, syncing it, renaming it
// into place, syncing its directory, removing it. Everything that writes
// state that matters (common/files.h's atomic writes, the blob store, the
// agent's state) goes through an Env, in the spirit of LevelDB's: the real
// one is PosixEnv, and a test passes one that fails the Nth operation, fills
// the disk, or drops what was never synced (tests/support/fault_env.h), to
// prove that the old state survives at every single point.
// Thread-safety: default_env() may be used from any thread; a WritableFile
// belongs to one thread at a time.
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>

#include "common/error.h"

namespace canopy {

namespace fs = std::filesystem;

// A new file open for writing. The destructor closes it without syncing.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status append(std::string_view data) = 0;
  // Makes everything appended so far durable.
  virtual Status sync() = 0;
  virtual Status set_mode(int mode) = 0;
  virtual Status close() = 0;
  virtual const fs::path& path() const = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  // Creates `<dir>/<prefix>XXXXXX` exclusively (mode 0600), open for writing.
  virtual Result<std::unique_ptr<WritableFile>> create_temp_file(const fs::path& dir,
                                                                 std::string_view prefix) = 0;
  // Atomically replaces `to` with `from` (same filesystem). Durable only once
  // the directory is synced.
  virtual Status rename_file(const fs::path& from, const fs::path& to) = 0;
  // Makes creations, renames and removals inside `dir` durable.
  virtual Status sync_dir(const fs::path& dir) = 0;
  // Syncs an existing file's content (one written by another process or
  // library, such as a download's .part file).
  virtual Status sync_file(const fs::path& path) = 0;
  // Removes a file; a missing one is not an error.
  virtual Status remove_file(const fs::path& path) = 0;
};

// The real file system (POSIX calls).
Env& default_env();

}  // namespace canopy
