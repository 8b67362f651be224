#include "common/env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace canopy {

namespace {

Error io_error(std::string_view what, const fs::path& path) {
  return make_error(ErrorCode::kIo, std::string(what) + " " + path.string() + ": " + std::strerror(errno));
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(int fd, fs::path path) : fd_(fd), path_(std::move(path)) {}
  ~PosixWritableFile() override { (void)close(); }

  Status append(std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("cannot write", path_);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    return {};
  }

  Status sync() override {
    if (::fsync(fd_) != 0) return io_error("cannot sync", path_);
    return {};
  }

  Status set_mode(int mode) override {
    if (::fchmod(fd_, static_cast<mode_t>(mode)) != 0) return io_error("cannot set mode of", path_);
    return {};
  }

  Status close() override {
    if (fd_ < 0) return {};
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return io_error("cannot close", path_);
    return {};
  }

  const fs::path& path() const override { return path_; }

 private:
  int fd_;
  fs::path path_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> create_temp_file(const fs::path& dir,
                                                         std::string_view prefix) override {
    const std::string pattern = (dir / (std::string(prefix) + "XXXXXX")).string();
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    const int fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd < 0) return io_error("cannot create temp file in", dir);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(fd, fs::path(name.data())));
  }

  Status rename_file(const fs::path& from, const fs::path& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return io_error("cannot rename onto", to);
    return {};
  }

  Status sync_dir(const fs::path& dir) override {
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_error("cannot open directory", dir);
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return io_error("cannot sync directory", dir);
    return {};
  }

  Status sync_file(const fs::path& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error("cannot open", path);
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return io_error("cannot sync", path);
    return {};
  }

  Status remove_file(const fs::path& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove", path);
    return {};
  }
};

}  // namespace

Env& default_env() {
  static PosixEnv env;
  return env;
}

}  // namespace canopy
