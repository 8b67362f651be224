#include "common/files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace canopy {

namespace {

Error io_error(std::string_view what, const fs::path& path) {
  return make_error(ErrorCode::kIo, std::string(what) + " " + path.string() + ": " + std::strerror(errno));
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

Status fsync_dir(const fs::path& dir, Env& env) { return env.sync_dir(dir); }

Result<TempFile> TempFile::create(const fs::path& dir, std::string_view prefix, Env& env) {
  CANOPY_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env.create_temp_file(dir, prefix));
  return TempFile(std::move(file), env);
}

TempFile::TempFile(TempFile&& other) noexcept
    : file_(std::move(other.file_)),
      env_(other.env_),
      path_(std::move(other.path_)),
      bytes_written_(other.bytes_written_),
      committed_(other.committed_) {
  other.committed_ = true;  // the moved-from object owns nothing to discard
}

TempFile::~TempFile() { discard(); }

Status TempFile::close_file() {
  if (!file_) return {};
  Status closed = file_->close();
  file_.reset();
  return closed;
}

Status TempFile::write(std::string_view data) {
  CANOPY_TRY(file_->append(data));
  bytes_written_ += data.size();
  return {};
}

Status TempFile::set_mode(int mode) { return file_->set_mode(mode); }

Status TempFile::sync() { return file_->sync(); }

Status TempFile::commit_to(const fs::path& target) {
  CANOPY_TRY(sync());
  CANOPY_TRY(close_file());
  CANOPY_TRY(env_->rename_file(path_, target));
  committed_ = true;
  return env_->sync_dir(target.parent_path());
}

Status TempFile::rename_to(const fs::path& target) {
  CANOPY_TRY(close_file());
  CANOPY_TRY(env_->rename_file(path_, target));
  committed_ = true;
  return {};
}

void TempFile::discard() {
  (void)close_file();
  if (!committed_ && !path_.empty()) (void)env_->remove_file(path_);
  committed_ = true;
}

Status commit_file(const fs::path& temp, const fs::path& target, Env& env) {
  CANOPY_TRY(env.sync_file(temp));
  CANOPY_TRY(env.rename_file(temp, target));
  return env.sync_dir(target.parent_path());
}

Status write_file_atomic(const fs::path& path, std::string_view content, int mode, Env& env) {
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  CANOPY_ASSIGN_OR_RETURN(TempFile temp,
                          TempFile::create(dir, "." + path.filename().string() + ".tmp-", env));
  CANOPY_TRY(temp.set_mode(mode));
  CANOPY_TRY(temp.write(content));
  return temp.commit_to(path);
}

Status replace_file_atomic(const fs::path& path, std::string_view content, int mode, Env& env) {
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  CANOPY_ASSIGN_OR_RETURN(TempFile temp,
                          TempFile::create(dir, "." + path.filename().string() + ".tmp-", env));
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

Result<FileLock> FileLock::try_acquire(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return make_error(ErrorCode::kIo, "cannot open " + path.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int lock_errno = errno;
    char holder[32] = {};
    const ssize_t read_bytes = ::pread(fd, holder, sizeof holder - 1, 0);
    ::close(fd);
    if (lock_errno != EWOULDBLOCK)
      return make_error(ErrorCode::kIo, "cannot lock " + path.string() + ": " + std::strerror(lock_errno));
    std::string pid = read_bytes > 0 ? std::string(holder, static_cast<size_t>(read_bytes)) : "";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return make_error(ErrorCode::kConflict, path.string() + " is locked by " +
                                                (pid.empty() ? "another process" : "process " + pid));
  }
  // A caller refused between the truncate and the write finds no pid and names "another process".
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int write_errno = errno;
    ::close(fd);
    return make_error(ErrorCode::kIo, "cannot write " + path.string() + ": " + std::strerror(write_errno));
  }
  return FileLock(fd);
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
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
