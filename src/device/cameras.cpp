#include "device/cameras.h"

#include <fcntl.h>
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <signal.h>
#include <turbojpeg.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/files.h"
#include "common/http_client.h"
#include "common/subprocess.h"

namespace canopy::device {

namespace {

std::uint8_t byte_at(std::string_view data, std::size_t i) { return static_cast<std::uint8_t>(data[i]); }

// The end (one past EOI) of the JPEG starting at `start` (its SOI), or npos
// while the buffer does not hold all of it yet. Walks the marker segments
// by their lengths, so an FFD9 inside a segment (an EXIF thumbnail) does not
// end the frame early; inside entropy-coded data FF is followed only by 00
// (a stuffed byte) or a restart marker until the next real marker.
std::size_t jpeg_end(std::string_view data, std::size_t start) {
  std::size_t pos = start + 2;
  while (true) {
    while (pos < data.size() && byte_at(data, pos) == 0xFF && pos + 1 < data.size() &&
           byte_at(data, pos + 1) == 0xFF)
      ++pos;  // fill bytes
    if (pos + 1 >= data.size()) return std::string_view::npos;
    if (byte_at(data, pos) != 0xFF) return pos;  // not a marker: corrupt; end the frame here
    const std::uint8_t marker = byte_at(data, pos + 1);
    if (marker == 0xD9) return pos + 2;
    if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
      pos += 2;
      continue;
    }
    if (pos + 3 >= data.size()) return std::string_view::npos;
    const std::size_t length = (std::size_t{byte_at(data, pos + 2)} << 8) | byte_at(data, pos + 3);
    pos += 2 + length;
    if (marker != 0xDA) continue;
    // Entropy-coded data after the start of scan, up to the next marker.
    while (true) {
      if (pos + 1 >= data.size()) return std::string_view::npos;
      if (byte_at(data, pos) == 0xFF) {
        const std::uint8_t next = byte_at(data, pos + 1);
        if (next != 0x00 && !(next >= 0xD0 && next <= 0xD7)) break;
      }
      ++pos;
    }
  }
}

std::size_t find_soi(std::string_view data, std::size_t from) {
  for (std::size_t i = from; i + 1 < data.size(); ++i)
    if (byte_at(data, i) == 0xFF && byte_at(data, i + 1) == 0xD8) return i;
  return std::string_view::npos;
}

bool is_frame_file(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  if (name.empty() || name.front() == '.') return false;  // being written under a hidden name
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::int64_t unix_ms(std::filesystem::file_time_type time) {
  const auto system = std::chrono::file_clock::to_sys(time);
  return std::chrono::duration_cast<std::chrono::milliseconds>(system.time_since_epoch()).count();
}

class SpoolCamera final : public Camera {
 public:
  explicit SpoolCamera(std::filesystem::path directory) : directory_(std::move(directory)) {}

  Result<std::optional<Frame>> capture(std::int64_t) override {
    std::error_code ec;
    std::vector<std::pair<std::int64_t, std::filesystem::path>> files;
    for (std::filesystem::directory_iterator it(directory_, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file(ec) || !is_frame_file(it->path())) continue;
      const auto time = it->last_write_time(ec);
      if (!ec) files.emplace_back(unix_ms(time), it->path());
    }
    if (ec)
      return make_error(ErrorCode::kIo, "cannot read the spool " + directory_.string() + ": " + ec.message());
    if (files.empty()) return std::optional<Frame>();
    std::sort(files.begin(), files.end());
    // Older frames were overtaken while the loop was busy: a live loop wants
    // what the field looks like now, not a backlog.
    for (std::size_t i = 0; i + 1 < files.size(); ++i) std::filesystem::remove(files[i].second, ec);
    const auto& [captured_ms, newest] = files.back();
    Frame frame;
    frame.captured_ms = captured_ms;
    frame.skipped = static_cast<int>(files.size() - 1);
    const auto size = std::filesystem::file_size(newest, ec);
    Status read_status;
    if (ec) {
      read_status = make_error(ErrorCode::kIo, "cannot read " + newest.string() + ": " + ec.message());
    } else if (size > kMaxFrameBytes) {
      read_status = make_error(ErrorCode::kInvalidArgument, newest.string() + " has " + std::to_string(size) +
                                                                " bytes, more than a frame may");
    } else if (auto bytes = read_file(newest); bytes.ok()) {
      frame.encoded = std::move(*bytes);
    } else {
      read_status = bytes.error();
    }
    // Taken or not, the file is consumed: a bad frame must not be read again at every pass.
    std::filesystem::remove(newest, ec);
    if (!read_status.ok()) return read_status.error();
    return std::optional<Frame>(std::move(frame));
  }

  std::string describe() const override { return "spool " + directory_.string(); }

 private:
  std::filesystem::path directory_;
};

class CommandCamera final : public Camera {
 public:
  explicit CommandCamera(std::vector<std::string> argv) : argv_(std::move(argv)) {}
  ~CommandCamera() override { stop(); }

  Result<std::optional<Frame>> capture(std::int64_t now_ms) override {
    if (argv_.empty()) return make_error(ErrorCode::kInvalidArgument, "camera command is empty");
    if (!child_) {
      Subprocess::Options options;
      options.argv = argv_;
      options.stdout_pipe = true;
      CANOPY_ASSIGN_OR_RETURN(Subprocess started, Subprocess::start(options));
      child_.emplace(std::move(started));
      ended_ = false;
      reader_ = std::thread([this] { read_frames(child_->stdout_fd()); });
    }
    std::optional<Frame> out;
    {
      std::lock_guard lock(mutex_);
      if (latest_) {
        out = Frame{std::move(*latest_), now_ms, skipped_};
        latest_.reset();
        skipped_ = 0;
      }
    }
    if (out) return out;
    if (ended_.load()) {
      const int code = child_->wait();
      stop();
      return make_error(ErrorCode::kIo, describe() + " exited with " + std::to_string(code));
    }
    return std::optional<Frame>();
  }

  std::string describe() const override { return "camera command " + argv_.front(); }

 private:
  void read_frames(int fd) {
    std::string buffer;
    std::string chunk(64 * 1024, '\0');
    while (true) {
      pollfd waiting{fd, POLLIN, 0};
      // The timeout lets stop() end the thread even if the program keeps the pipe open.
      const int ready = ::poll(&waiting, 1, 200);
      if (stopping_.load()) break;
      if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
      const ssize_t n = ready > 0 ? ::read(fd, chunk.data(), chunk.size()) : -1;
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      std::vector<std::string> frames = take_jpeg_frames(buffer, std::string_view(chunk.data(), n));
      if (frames.empty()) continue;
      std::lock_guard lock(mutex_);
      skipped_ += static_cast<int>(frames.size()) - (latest_ ? 0 : 1);
      latest_ = std::move(frames.back());
    }
    ended_.store(true);
  }

  void stop() {
    if (!child_) return;
    stopping_.store(true);
    child_->signal(SIGKILL);
    if (reader_.joinable()) reader_.join();
    child_.reset();
    stopping_.store(false);
  }

  std::vector<std::string> argv_;
  std::optional<Subprocess> child_;
  std::thread reader_;
  std::atomic<bool> ended_{false}, stopping_{false};
  std::mutex mutex_;
  std::optional<std::string> latest_;  // guarded by mutex_
  int skipped_ = 0;                    // guarded by mutex_
};

class HttpCamera final : public Camera {
 public:
  explicit HttpCamera(std::string url) : url_(std::move(url)) {
    const std::size_t scheme = url_.find("://");
    const std::size_t path = url_.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    base_ = path == std::string::npos ? url_ : url_.substr(0, path);
    path_ = path == std::string::npos ? "/" : url_.substr(path);
  }

  Result<std::optional<Frame>> capture(std::int64_t now_ms) override {
    HttpOptions options;
    options.max_attempts = 1;  // the loop retries with its own backoff
    HttpClient client(base_, options);
    CANOPY_ASSIGN_OR_RETURN(HttpResponse response, client.get(path_));
    if (response.status != 200)
      return make_error(ErrorCode::kIo, describe() + " answered HTTP " + std::to_string(response.status));
    if (response.body.size() > kMaxFrameBytes)
      return make_error(ErrorCode::kInvalidArgument, describe() + " sent a frame larger than a frame may be");
    return std::optional<Frame>(Frame{std::move(response.body), now_ms, 0});
  }

  std::string describe() const override { return "camera " + url_; }

 private:
  std::string url_, base_, path_;
};

class V4l2Camera final : public Camera {
 public:
  V4l2Camera(std::filesystem::path device, int width, int height)
      : device_(std::move(device)), width_(width), height_(height) {}
  ~V4l2Camera() override { close_device(); }
  V4l2Camera(const V4l2Camera&) = delete;
  V4l2Camera& operator=(const V4l2Camera&) = delete;

  Result<std::optional<Frame>> capture(std::int64_t now_ms) override {
    if (fd_ < 0) CANOPY_TRY(open_device());
    // Frames the driver queued while the loop was busy are older than the
    // one wanted: read until none is ready, keeping the last.
    int skipped = -1;
    std::size_t size = 0;
    for (;;) {
      const ssize_t n = v4l2_read(fd_, buffer_.data(), buffer_.size());
      if (n > 0) {
        size = static_cast<std::size_t>(n);
        ++skipped;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        if (skipped >= 0) break;
        pollfd waiting{fd_, POLLIN, 0};
        if (::poll(&waiting, 1, 2000) > 0) continue;
        return make_error(ErrorCode::kIo, describe() + ": no frame within 2 s");
      }
      const std::string reason = n == 0 ? "end of stream" : std::strerror(errno);
      close_device();  // reopened at the next capture: a camera unplugged and plugged in again
      return make_error(ErrorCode::kIo, describe() + ": " + reason);
    }
    Frame frame;
    frame.captured_ms = now_ms;
    frame.skipped = skipped;
    if (mjpeg_) {
      frame.encoded.assign(buffer_.data(), size);
    } else {
      CANOPY_ASSIGN_OR_RETURN(frame.encoded, encode_rgb(size));
    }
    return std::optional<Frame>(std::move(frame));
  }

  std::string describe() const override { return "camera " + device_.string(); }

 private:
  Status open_device() {
    fd_ = v4l2_open(device_.c_str(), O_RDWR | O_NONBLOCK);
    if (fd_ < 0)
      return make_error(ErrorCode::kIo, "cannot open " + device_.string() + ": " + std::strerror(errno));
    v4l2_format format{};
    format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    format.fmt.pix.width = static_cast<unsigned>(width_);
    format.fmt.pix.height = static_cast<unsigned>(height_);
    format.fmt.pix.field = V4L2_FIELD_ANY;
    // MJPEG first: the camera compresses, and the frame goes on as it is.
    format.fmt.pix.pixelformat = V4L2_PIX_FMT_MJPEG;
    if (v4l2_ioctl(fd_, VIDIOC_S_FMT, &format) != 0 || format.fmt.pix.pixelformat != V4L2_PIX_FMT_MJPEG) {
      format.fmt.pix.pixelformat = V4L2_PIX_FMT_RGB24;  // libv4l2 converts YUYV and the rest
      if (v4l2_ioctl(fd_, VIDIOC_S_FMT, &format) != 0 || format.fmt.pix.pixelformat != V4L2_PIX_FMT_RGB24) {
        const std::string reason = std::strerror(errno);
        close_device();
        return make_error(ErrorCode::kIo,
                          describe() + " offers neither MJPEG nor a format libv4l2 converts: " + reason);
      }
    }
    mjpeg_ = format.fmt.pix.pixelformat == V4L2_PIX_FMT_MJPEG;
    frame_width_ = static_cast<int>(format.fmt.pix.width);
    frame_height_ = static_cast<int>(format.fmt.pix.height);
    const std::size_t rgb_bytes =
        static_cast<std::size_t>(frame_width_) * static_cast<std::size_t>(frame_height_) * 3;
    buffer_.assign(
        std::min<std::size_t>(kMaxFrameBytes, std::max<std::size_t>(format.fmt.pix.sizeimage, rgb_bytes)),
        '\0');
    return {};
  }

  Result<std::string> encode_rgb(std::size_t size) const {
    if (size < static_cast<std::size_t>(frame_width_) * static_cast<std::size_t>(frame_height_) * 3)
      return make_error(ErrorCode::kCorrupt,
                        describe() + ": a short frame of " + std::to_string(size) + " bytes");
    std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitCompress(), tjDestroy);
    unsigned char* jpeg = nullptr;
    unsigned long jpeg_size = 0;
    if (tjCompress2(handle.get(), reinterpret_cast<const unsigned char*>(buffer_.data()), frame_width_, 0,
                    frame_height_, TJPF_RGB, &jpeg, &jpeg_size, TJSAMP_420, 90, 0) != 0)
      return make_error(ErrorCode::kInternal, describe() + ": " + tjGetErrorStr2(handle.get()));
    std::string out(reinterpret_cast<const char*>(jpeg), jpeg_size);
    tjFree(jpeg);
    return out;
  }

  void close_device() {
    if (fd_ >= 0) v4l2_close(fd_);
    fd_ = -1;
  }

  std::filesystem::path device_;
  int width_, height_;
  int fd_ = -1;
  bool mjpeg_ = false;
  int frame_width_ = 0, frame_height_ = 0;
  std::string buffer_;
};

}  // namespace

std::vector<std::string> take_jpeg_frames(std::string& buffer, std::string_view bytes) {
  buffer.append(bytes);
  std::vector<std::string> frames;
  std::size_t consumed = 0;
  while (true) {
    const std::size_t start = find_soi(buffer, consumed);
    if (start == std::string::npos) {
      // Keep a trailing FF: it may be the first half of the next SOI.
      consumed =
          buffer.empty() || byte_at(buffer, buffer.size() - 1) != 0xFF ? buffer.size() : buffer.size() - 1;
      break;
    }
    consumed = start;
    const std::size_t end = jpeg_end(buffer, start);
    if (end == std::string::npos) {
      // Incomplete: wait for more, unless it is already too long to be a frame.
      if (buffer.size() - start > kMaxFrameBytes)
        consumed = start + 2;
      else
        break;
      continue;
    }
    frames.emplace_back(buffer, start, end - start);
    consumed = end;
  }
  buffer.erase(0, consumed);
  return frames;
}

std::unique_ptr<Camera> spool_camera(std::filesystem::path directory) {
  return std::make_unique<SpoolCamera>(std::move(directory));
}
std::unique_ptr<Camera> command_camera(std::vector<std::string> argv) {
  return std::make_unique<CommandCamera>(std::move(argv));
}
std::unique_ptr<Camera> http_camera(std::string url) { return std::make_unique<HttpCamera>(std::move(url)); }
std::unique_ptr<Camera> v4l2_camera(std::filesystem::path device, int width, int height) {
  return std::make_unique<V4l2Camera>(std::move(device), width, height);
}

}  // namespace canopy::device
