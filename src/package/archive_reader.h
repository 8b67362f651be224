// A thin RAII wrapper over libarchive's zip reader, so the package logic reads
// entries and bytes without touching libarchive directly.
// Thread-safety: one reader per thread.
#pragma once

#include <archive.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "common/error.h"

namespace canopy::package {

struct ArchiveEntry {
  std::string name;             // as stored in the archive
  bool is_regular = false;
  bool is_directory = false;
  bool is_link = false;         // symlink or hard link
  std::optional<std::uint64_t> declared_size;
};

class ArchiveReader {
 public:
  // `display_name` names the archive in error messages.
  static Result<ArchiveReader> open(const std::filesystem::path& zip, const std::string& display_name);
  ArchiveReader(ArchiveReader&& other) noexcept : archive_(other.archive_), name_(std::move(other.name_)) {
    other.archive_ = nullptr;
  }
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;
  ArchiveReader& operator=(ArchiveReader&&) = delete;
  ~ArchiveReader();

  // Advances to the next entry; returns nullopt at the end of the archive.
  Result<std::optional<ArchiveEntry>> next();
  // Reads up to `size` bytes of the current entry; 0 means the entry ended.
  Result<size_t> read(char* buffer, size_t size);

 private:
  ArchiveReader(archive* a, std::string name) : archive_(a), name_(std::move(name)) {}
  Error archive_error(std::string_view what) const;
  archive* archive_;
  std::string name_;
};

}  // namespace canopy::package
