#include "fault_env.h"

#include <unistd.h>

#include <algorithm>

#include "common/files.h"

namespace canopy::testing {

namespace {

fs::path dir_of(const fs::path& path) {
  return path.parent_path().empty() ? fs::path(".") : path.parent_path();
}

}  // namespace

class FaultFile final : public WritableFile {
 public:
  FaultFile(FaultEnv& env, std::unique_ptr<WritableFile> real) : env_(env), real_(std::move(real)) {}

  Status append(std::string_view data) override {
    CANOPY_TRY(env_.operation("append to", path()));
    CANOPY_TRY(env_.consume_space(data.size(), path()));
    CANOPY_TRY(real_->append(data));
    env_.files_[path()].size += data.size();
    return {};
  }
  Status sync() override {
    CANOPY_TRY(env_.operation("sync", path()));
    CANOPY_TRY(real_->sync());
    auto& record = env_.files_[path()];
    record.synced = record.size;
    return {};
  }
  Status set_mode(int mode) override {
    CANOPY_TRY(env_.operation("set the mode of", path()));
    return real_->set_mode(mode);
  }
  Status close() override { return real_->close(); }
  const fs::path& path() const override { return real_->path(); }

 private:
  FaultEnv& env_;
  std::unique_ptr<WritableFile> real_;
};

void FaultEnv::reset() {
  operations_ = 0;
  fail_from_.reset();
  disk_left_.reset();
}

Status FaultEnv::operation(std::string_view what, const fs::path& path) {
  ++operations_;
  if (fail_from_ && operations_ >= *fail_from_)
    return make_error(ErrorCode::kIo, "injected failure: cannot " + std::string(what) + " " + path.string() +
                                          " (operation " + std::to_string(operations_) + ")");
  return {};
}

Status FaultEnv::consume_space(std::uint64_t bytes, const fs::path& path) {
  if (!disk_left_) return {};
  if (bytes > *disk_left_) {
    *disk_left_ = 0;
    return make_error(ErrorCode::kIo,
                      "cannot write " + path.string() + ": No space left on device (injected)");
  }
  *disk_left_ -= bytes;
  return {};
}

Result<std::unique_ptr<WritableFile>> FaultEnv::create_temp_file(const fs::path& dir,
                                                                 std::string_view prefix) {
  CANOPY_TRY(operation("create a file in", dir));
  CANOPY_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> real, real_.create_temp_file(dir, prefix));
  files_[real->path()] = FileRecord{};
  pending_.push_back({dir, {}, real->path(), std::nullopt});
  return std::unique_ptr<WritableFile>(new FaultFile(*this, std::move(real)));
}

Status FaultEnv::rename_file(const fs::path& from, const fs::path& to) {
  CANOPY_TRY(operation("rename onto", to));
  std::optional<std::string> replaced;
  std::error_code ec;
  if (fs::exists(to, ec)) {
    auto old = read_file(to);
    if (old.ok()) replaced = std::move(*old);
  }
  CANOPY_TRY(real_.rename_file(from, to));
  if (auto it = files_.find(from); it != files_.end()) {
    files_[to] = it->second;
    files_.erase(from);
  }
  pending_.push_back({dir_of(to), from, to, std::move(replaced)});
  return {};
}

Status FaultEnv::sync_dir(const fs::path& dir) {
  CANOPY_TRY(operation("sync directory", dir));
  CANOPY_TRY(real_.sync_dir(dir));
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(dir, ec);
  std::erase_if(pending_, [&](const PendingChange& change) {
    return change.dir == dir || fs::weakly_canonical(change.dir, ec) == canonical;
  });
  return {};
}

Status FaultEnv::sync_file(const fs::path& path) {
  CANOPY_TRY(operation("sync", path));
  CANOPY_TRY(real_.sync_file(path));
  if (auto it = files_.find(path); it != files_.end()) it->second.synced = it->second.size;
  return {};
}

Status FaultEnv::remove_file(const fs::path& path) {
  CANOPY_TRY(operation("remove", path));
  files_.erase(path);
  return real_.remove_file(path);
}

void FaultEnv::drop_unsynced() {
  std::error_code ec;
  // Bytes never synced are lost first, then the directory changes that
  // were never made durable are undone, newest first.
  for (const auto& [path, record] : files_)
    if (record.size != record.synced && fs::exists(path, ec))
      (void)::truncate(path.c_str(), static_cast<off_t>(record.synced));
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    if (it->from.empty()) {
      fs::remove(it->to, ec);
      continue;
    }
    fs::rename(it->to, it->from, ec);
    if (it->replaced) (void)write_file_atomic(it->to, *it->replaced, 0644, default_env());
  }
  pending_.clear();
  files_.clear();
}

}  // namespace canopy::testing
