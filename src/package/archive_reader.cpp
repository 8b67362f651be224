#include "package/archive_reader.h"

#include <archive_entry.h>
#include <sys/stat.h>

namespace canopy::package {

Result<ArchiveReader> ArchiveReader::open(const std::filesystem::path& zip, const std::string& display_name) {
  archive* a = archive_read_new();
  // The seekable reader trusts the central directory, as unzip does, and
  // fails fast on a truncated file whose directory is missing.
  archive_read_support_format_zip_seekable(a);
  if (archive_read_open_filename(a, zip.c_str(), 1 << 16) != ARCHIVE_OK) {
    std::string reason = archive_error_string(a) ? archive_error_string(a) : "unknown error";
    archive_read_free(a);
    return make_error(ErrorCode::kCorrupt,
                      display_name + " is not a readable zip package (truncated or corrupt?): " + reason);
  }
  return ArchiveReader(a, display_name);
}

ArchiveReader::~ArchiveReader() {
  if (archive_ != nullptr) archive_read_free(archive_);
}

Error ArchiveReader::archive_error(std::string_view what) const {
  const char* reason = archive_error_string(archive_);
  return make_error(ErrorCode::kCorrupt, name_ + ": " + std::string(what) +
                                             " (truncated or corrupt zip?): " +
                                             (reason ? reason : "unknown error"));
}

Result<std::optional<ArchiveEntry>> ArchiveReader::next() {
  archive_entry* entry = nullptr;
  int rc = archive_read_next_header(archive_, &entry);
  if (rc == ARCHIVE_EOF) return std::optional<ArchiveEntry>();
  if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return archive_error("cannot read the next entry");
  ArchiveEntry out;
  const char* name = archive_entry_pathname(entry);
  out.name = name ? name : "";
  mode_t type = archive_entry_filetype(entry);
  out.is_regular = type == AE_IFREG;
  out.is_directory = type == AE_IFDIR;
  out.is_link = type == AE_IFLNK || archive_entry_hardlink(entry) != nullptr ||
                archive_entry_symlink(entry) != nullptr;
  if (out.is_link) out.is_regular = false;
  if (archive_entry_size_is_set(entry) && archive_entry_size(entry) >= 0)
    out.declared_size = static_cast<std::uint64_t>(archive_entry_size(entry));
  return std::optional<ArchiveEntry>(std::move(out));
}

Result<size_t> ArchiveReader::read(char* buffer, size_t size) {
  la_ssize_t n = archive_read_data(archive_, buffer, size);
  if (n < 0) return archive_error("cannot read entry data");
  return static_cast<size_t>(n);
}

}  // namespace canopy::package
