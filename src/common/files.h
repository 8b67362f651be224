// File helpers. Every write of state that matters goes through
// write_file_atomic or commit_file: a crash at any instant leaves either the
// old content or the new one, never a mix (temp file, fsync, rename, fsync dir).
// The writes go through an Env (common/env.h), the real file system unless a
// test passes one that injects failures.
// Thread-safety: stateless functions; concurrent writers of one path race as
// rename does (last one wins, never a torn file).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/env.h"
#include "common/error.h"

namespace canopy {

namespace fs = std::filesystem;

Result<std::string> read_file(const fs::path& path);

// Writes `content` to `path` atomically and durably.
Status write_file_atomic(const fs::path& path, std::string_view content, int mode = 0644,
                         Env& env = default_env());

// Replaces `path` atomically (temp file + rename) but without fsync: a crash
// of the process leaves the old content or the new, never a mix; after a
// power loss the file may hold the previous content. For state rewritten many
// times a second whose loss costs only redone work (progress records, caches).
Status replace_file_atomic(const fs::path& path, std::string_view content, int mode = 0644,
                           Env& env = default_env());

// Durably moves a fully written `temp` file onto `target` (fsync temp, rename,
// fsync the target's directory). `temp` must be on the same filesystem.
Status commit_file(const fs::path& temp, const fs::path& target, Env& env = default_env());

// fsyncs a directory so that renames and creations inside it survive a crash.
Status fsync_dir(const fs::path& dir, Env& env = default_env());

// Creates a fresh uniquely named directory `<parent>/<prefix>XXXXXX`.
Result<fs::path> make_temp_dir(const fs::path& parent, std::string_view prefix);

// A new temp file open for writing; removed by the destructor unless committed.
class TempFile {
 public:
  // Creates `<dir>/<prefix>XXXXXX` exclusively.
  static Result<TempFile> create(const fs::path& dir, std::string_view prefix, Env& env = default_env());
  TempFile(TempFile&& other) noexcept;
  TempFile& operator=(TempFile&&) = delete;
  TempFile(const TempFile&) = delete;
  ~TempFile();

  Status write(std::string_view data);
  Status sync();
  // mkstemp creates 0600; set the final permission bits before commit.
  Status set_mode(int mode);
  // Syncs, closes and renames onto target; after success the temp is gone.
  Status commit_to(const fs::path& target);
  // Closes and renames onto target without syncing (see replace_file_atomic).
  Status rename_to(const fs::path& target);
  // Removes the temp file (no-op after commit).
  void discard();

  const fs::path& path() const { return path_; }
  std::uint64_t bytes_written() const { return bytes_written_; }

 private:
  TempFile(std::unique_ptr<WritableFile> file, Env& env)
      : file_(std::move(file)), env_(&env), path_(file_->path()) {}
  Status close_file();
  std::unique_ptr<WritableFile> file_;
  Env* env_;
  fs::path path_;
  std::uint64_t bytes_written_ = 0;
  bool committed_ = false;
};

// An exclusive advisory lock (flock) on a file, held until the FileLock is
// destroyed. The kernel releases it when the process ends, however it ends
// (kill -9, a crash), so a dead holder never leaves a stale lock behind.
// The holder's pid is written into the file, so a refused caller can say who
// holds it.
class FileLock {
 public:
  // Creates `path` if missing and locks it without waiting. kConflict, naming
  // the holder's pid when it is known, while another process holds it.
  static Result<FileLock> try_acquire(const fs::path& path);
  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

// True when `relative` is a plain relative path that stays inside its root:
// not empty, not absolute, no `..` component, no backslashes or NUL bytes.
bool is_confined_relative_path(std::string_view relative);

// True when `relative` is confined (above) and written one way only: no "."
// or empty components, no trailing slash. Manifests list files this way so a
// listed path matches exactly one archive entry.
bool is_canonical_relative_path(std::string_view relative);

// Human-readable byte count, e.g. "12.5 MiB".
std::string format_bytes(std::uint64_t bytes);

}  // namespace canopy
