// Content-addressed storage for package files: blobs/sha256/ab/<digest>.
// Uploads are written to tmp/ first and moved into place only when complete
// and verified, so a blob path always holds complete bytes. Anything left in
// tmp/ or unreferenced after a crash is removed by sweep() at the next start.
// Thread-safety: all methods may be called concurrently (the filesystem
// arbitrates; commit of equal digests is idempotent).
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>

#include "common/error.h"
#include "common/files.h"
#include "server/storage/sqlite.h"

namespace canopy::server {

class BlobStore {
 public:
  // Every write goes through `env` (a test injects failures there).
  static Result<BlobStore> open(const fs::path& root, Env& env = default_env());

  const fs::path& tmp_dir() const { return tmp_; }
  fs::path path_of(const std::string& sha256) const;
  bool contains(const std::string& sha256) const;

  // Durably moves a complete file into the store under `sha256`. When the
  // blob already exists the file is discarded instead.
  Status put(TempFile& file, const std::string& sha256);
  Status put_path(const fs::path& file, const std::string& sha256);
  Status remove(const std::string& sha256);

  struct SweepReport {
    std::uint64_t temp_removed = 0;
    std::uint64_t blobs_removed = 0;
  };
  // Deletes everything under tmp/ and every blob whose digest is not in `referenced`.
  Result<SweepReport> sweep(const std::set<std::string>& referenced);
  // sweep() keeping the digests the first column of `query` answers on `db`
  // (the owning area's tables name the blobs it keeps).
  Result<SweepReport> sweep_unnamed(Database& db, const std::string& query);

 private:
  BlobStore(fs::path blobs, fs::path tmp, Env& env)
      : blobs_(std::move(blobs)), tmp_(std::move(tmp)), env_(&env) {}
  fs::path blobs_;
  fs::path tmp_;
  Env* env_;
};

}  // namespace canopy::server
