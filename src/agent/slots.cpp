#include "agent/slots.h"

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>

#include <algorithm>

#include "common/files.h"

namespace canopy::agent {

namespace {

std::uint64_t tree_bytes(const fs::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) total += it->file_size(size_ec);
  }
  return total;
}

Result<std::uint64_t> free_bytes(const fs::path& dir) {
  struct statvfs info {};
  if (::statvfs(dir.c_str(), &info) != 0)
    return make_error(ErrorCode::kIo, "cannot read the free space of " + dir.string());
  return static_cast<std::uint64_t>(info.f_bavail) * info.f_frsize;
}

Status remove_tree(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot remove " + dir.string() + ": " + ec.message());
  return {};
}

}  // namespace

std::string_view slot_name(Slot slot) { return slot == Slot::kA ? "a" : "b"; }

SlotStore::SlotStore(const fs::path& data_dir, std::uint64_t max_bytes)
    : root_(data_dir / "slots"), max_bytes_(max_bytes) {}

bool SlotStore::has_staged(Slot slot) const {
  std::error_code ec;
  return fs::is_directory(staging_dir(slot), ec);
}

std::uint64_t SlotStore::used_bytes() const {
  return tree_bytes(slot_dir(Slot::kA)) + tree_bytes(slot_dir(Slot::kB));
}

Result<package::PackageInfo> SlotStore::stage(const fs::path& zip, Slot slot,
                                              package::VerifyOptions options) const {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create " + root_.string() + ": " + ec.message());
  CANOPY_TRY(remove_tree(staging_dir(slot)));

  CANOPY_ASSIGN_OR_RETURN(std::uint64_t room, free_bytes(root_));
  if (max_bytes_ > 0) {
    const std::uint64_t used = used_bytes();
    room = std::min(room, used >= max_bytes_ ? 0 : max_bytes_ - used);
  }
  CANOPY_ASSIGN_OR_RETURN(package::PackageInfo info, package::verify_package(zip, options));
  const std::uint64_t needed = info.manifest.total_size_bytes();
  if (needed > room)
    return make_error(ErrorCode::kTooLarge, "not enough disk space to install: the model needs " +
                                                format_bytes(needed) + ", the slot directory has " +
                                                format_bytes(room) + " free");
  // The manifest's sizes are checked against the bytes as they are unpacked,
  // so this bound holds for what is written, not only for what is declared.
  options.limits.max_total_bytes = std::min(options.limits.max_total_bytes, room);
  auto extracted = package::extract_package(zip, staging_dir(slot), options);
  if (!extracted.ok()) {
    if (extracted.error().code == ErrorCode::kTooLarge)
      return extracted.error().with_context("not enough disk space to install");
    return extracted.error();
  }
  return extracted;
}

Status SlotStore::promote(Slot slot, const std::function<void()>& between) const {
  if (!has_staged(slot)) return {};
  CANOPY_TRY(remove_tree(slot_dir(slot)));
  CANOPY_TRY(fsync_dir(root_));
  if (between) between();
  std::error_code ec;
  fs::rename(staging_dir(slot), slot_dir(slot), ec);
  if (ec)
    return make_error(ErrorCode::kIo, "cannot move the new model into slot " + std::string(slot_name(slot)) +
                                          ": " + ec.message());
  return fsync_dir(root_);
}

Status SlotStore::clear(Slot slot) const {
  CANOPY_TRY(remove_tree(slot_dir(slot)));
  return fsync_dir(root_);
}

void SlotStore::remove_leftovers(std::optional<Slot> keep_staged) const {
  std::error_code ec;
  std::vector<fs::path> doomed;
  for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const bool extraction_temp = name.find(".extract-") != std::string::npos;
    const bool stale_stage =
        name.ends_with(".next") && (!keep_staged || staging_dir(*keep_staged).filename() != name);
    if (extraction_temp || stale_stage) doomed.push_back(it->path());
  }
  for (const fs::path& path : doomed) {
    spdlog::info("agent.cleanup path={}", path.string());
    if (auto removed = remove_tree(path); !removed.ok())
      spdlog::warn("agent.cleanup_failed {}", removed.error().message);
  }
  if (!doomed.empty()) (void)fsync_dir(root_);
}

}  // namespace canopy::agent
