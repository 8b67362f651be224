#include "server/storage/blob_store.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "common/hash.h"

namespace canopy::server {

Result<BlobStore> BlobStore::open(const fs::path& root, Env& env) {
  std::error_code ec;
  fs::path blobs = root / "blobs" / "sha256";
  fs::path tmp = root / "tmp";
  fs::create_directories(blobs, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create " + blobs.string() + ": " + ec.message());
  fs::create_directories(tmp, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create " + tmp.string() + ": " + ec.message());
  return BlobStore(blobs, tmp, env);
}

fs::path BlobStore::path_of(const std::string& sha256) const {
  return blobs_ / sha256.substr(0, 2) / (sha256 + ".zip");
}

bool BlobStore::contains(const std::string& sha256) const {
  std::error_code ec;
  return fs::exists(path_of(sha256), ec);
}

Status BlobStore::put(TempFile& file, const std::string& sha256) {
  if (!is_sha256_hex(sha256)) return make_error(ErrorCode::kInternal, "bad blob digest " + sha256);
  if (contains(sha256)) {
    file.discard();
    return {};
  }
  std::error_code ec;
  fs::create_directories(path_of(sha256).parent_path(), ec);
  CANOPY_TRY(file.set_mode(0644));
  return file.commit_to(path_of(sha256));
}

Status BlobStore::put_path(const fs::path& file, const std::string& sha256) {
  if (contains(sha256)) {
    std::error_code ec;
    fs::remove(file, ec);
    return {};
  }
  std::error_code ec;
  fs::create_directories(path_of(sha256).parent_path(), ec);
  return commit_file(file, path_of(sha256), *env_);
}

Status BlobStore::remove(const std::string& sha256) {
  CANOPY_TRY(env_->remove_file(path_of(sha256)));
  return fsync_dir(path_of(sha256).parent_path(), *env_);
}

Result<BlobStore::SweepReport> BlobStore::sweep_unnamed(Database& db, const std::string& query) {
  std::set<std::string> referenced;
  CANOPY_ASSIGN_OR_RETURN(Statement select, db.prepare(query));
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    referenced.insert(select.column_text(0));
  }
  return sweep(referenced);
}

Result<BlobStore::SweepReport> BlobStore::sweep(const std::set<std::string>& referenced) {
  SweepReport report;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(tmp_, ec)) {
    fs::remove_all(entry.path(), ec);
    ++report.temp_removed;
  }
  for (const auto& shard : fs::directory_iterator(blobs_, ec)) {
    if (!shard.is_directory()) continue;
    for (const auto& blob : fs::directory_iterator(shard.path(), ec)) {
      std::string digest = blob.path().stem().string();
      if (blob.path().extension() == ".zip" && referenced.count(digest) > 0) continue;
      fs::remove(blob.path(), ec);
      ++report.blobs_removed;
    }
  }
  if (report.temp_removed + report.blobs_removed > 0)
    spdlog::warn("store.sweep temp_removed={} orphan_blobs_removed={}", report.temp_removed,
                 report.blobs_removed);
  return report;
}

}  // namespace canopy::server
