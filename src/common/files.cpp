#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace canopy {

namespace {

Error io_error(std::string_view what, const fs::path& path) {
  return make_error(ErrorCode::kIo,
                    std::string(what) + " " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

Result<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open", path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return io_error("cannot read", path);
  return buffer.str();
}

Status fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return io_error("cannot sync directory", dir);
  return {};
}

Result<TempFile> TempFile::create(const fs::path& dir, std::string_view prefix) {
  std::string pattern = (dir / (std::string(prefix) + "XXXXXX")).string();
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  int fd = ::mkstemp(buf.data());
  if (fd < 0) return io_error("cannot create temp file in", dir);
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return TempFile(fd, fs::path(buf.data()));
}

TempFile::TempFile(TempFile&& other) noexcept
    : fd_(other.fd_), path_(std::move(other.path_)), bytes_written_(other.bytes_written_),
      committed_(other.committed_) {
  other.fd_ = -1;
  other.committed_ = true;  // the moved-from object owns nothing to discard
}

TempFile::~TempFile() { discard(); }

void TempFile::close_fd() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status TempFile::write(std::string_view data) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", path_);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  bytes_written_ += data.size();
  return {};
}

Status TempFile::set_mode(int mode) {
  if (::fchmod(fd_, static_cast<mode_t>(mode)) != 0) return io_error("cannot set mode of", path_);
  return {};
}

Status TempFile::sync() {
  if (::fsync(fd_) != 0) return io_error("cannot sync", path_);
  return {};
}

Status TempFile::commit_to(const fs::path& target) {
  CANOPY_TRY(sync());
  close_fd();
  if (::rename(path_.c_str(), target.c_str()) != 0) return io_error("cannot rename onto", target);
  committed_ = true;
  return fsync_dir(target.parent_path());
}

Status TempFile::rename_to(const fs::path& target) {
  close_fd();
  if (::rename(path_.c_str(), target.c_str()) != 0) return io_error("cannot rename onto", target);
  committed_ = true;
  return {};
}

void TempFile::discard() {
  close_fd();
  if (!committed_ && !path_.empty()) {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  committed_ = true;
}

Status commit_file(const fs::path& temp, const fs::path& target) {
  int fd = ::open(temp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", temp);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return io_error("cannot sync", temp);
  if (::rename(temp.c_str(), target.c_str()) != 0) return io_error("cannot rename onto", target);
  return fsync_dir(target.parent_path());
}

Status write_file_atomic(const fs::path& path, std::string_view content, int mode) {
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  CANOPY_ASSIGN_OR_RETURN(TempFile temp, TempFile::create(dir, "." + path.filename().string() + ".tmp-"));
  CANOPY_TRY(temp.set_mode(mode));
  CANOPY_TRY(temp.write(content));
  return temp.commit_to(path);
}

Status replace_file_atomic(const fs::path& path, std::string_view content, int mode) {
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  CANOPY_ASSIGN_OR_RETURN(TempFile temp, TempFile::create(dir, "." + path.filename().string() + ".tmp-"));
  CANOPY_TRY(temp.set_mode(mode));
  CANOPY_TRY(temp.write(content));
  return temp.rename_to(path);
}

Result<fs::path> make_temp_dir(const fs::path& parent, std::string_view prefix) {
  std::string pattern = (parent / (std::string(prefix) + "XXXXXX")).string();
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) return io_error("cannot create temp directory in", parent);
  return fs::path(buf.data());
}

bool is_confined_relative_path(std::string_view relative) {
  if (relative.empty() || relative.front() == '/') return false;
  if (relative.find('\0') != std::string_view::npos) return false;
  if (relative.find('\\') != std::string_view::npos) return false;
  size_t start = 0;
  while (start <= relative.size()) {
    size_t end = relative.find('/', start);
    if (end == std::string_view::npos) end = relative.size();
    std::string_view part = relative.substr(start, end - start);
    if (part == "..") return false;
    start = end + 1;
  }
  return true;
}

bool is_canonical_relative_path(std::string_view relative) {
  if (!is_confined_relative_path(relative) || relative.back() == '/') return false;
  size_t start = 0;
  while (start <= relative.size()) {
    size_t end = relative.find('/', start);
    if (end == std::string_view::npos) end = relative.size();
    std::string_view part = relative.substr(start, end - start);
    if (part.empty() || part == ".") return false;
    start = end + 1;
  }
  return true;
}

std::string format_bytes(std::uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  char out[32];
  std::snprintf(out, sizeof out, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return out;
}

}  // namespace canopy
