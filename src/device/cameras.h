// Camera sources behind one interface. Each hands out encoded frames (JPEG
// or PNG bytes) that the field loop decodes, so a corrupt frame is the
// loop's error to report, never a crash here:
//   spool    a directory a camera or a script drops .jpg/.jpeg/.png files
//            into (written under another name and renamed in, so no frame is
//            read half-written); the newest is taken, older ones are skipped
//   command  a program writing a stream of JPEG frames to stdout, which is
//            how ffmpeg or gst-launch bring RTSP cameras in
//            (`ffmpeg -i rtsp://... -f image2pipe -c:v mjpeg -r 1 -`); a
//            reader thread keeps only the latest frame, and a program that
//            died is started again at the next capture
//   http     a snapshot URL, as most IP cameras offer
//   v4l2     a USB or CSI camera (/dev/videoN) through libv4l2: MJPEG frames
//            as the camera makes them, or, from a camera without MJPEG,
//            frames libv4l2 converts to RGB (from YUYV and the rest),
//            encoded to JPEG with libturbojpeg
// A capture that fails returns the error; retrying with backoff is the
// loop's job, so every source gets the same policy.
// Thread-safety: a Camera is used by one thread at a time (the command
// source's reader thread is internal).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace canopy::device {

struct Frame {
  std::string encoded;           // JPEG or PNG bytes
  std::int64_t captured_ms = 0;  // Unix ms: the file's time for a spool, the capture time otherwise
  int skipped = 0;               // frames dropped unseen since the previous capture
};

// The most bytes one frame may have; a larger one is refused unread.
inline constexpr std::size_t kMaxFrameBytes = 32u << 20;

class Camera {
 public:
  virtual ~Camera() = default;
  // The newest frame not handed out before, nullopt when there is none yet.
  // `now_ms` stamps frames whose source has no time of its own.
  virtual Result<std::optional<Frame>> capture(std::int64_t now_ms) = 0;
  virtual std::string describe() const = 0;
};

std::unique_ptr<Camera> spool_camera(std::filesystem::path directory);
std::unique_ptr<Camera> command_camera(std::vector<std::string> argv);
// `url` is http://HOST[:PORT]/PATH.
std::unique_ptr<Camera> http_camera(std::string url);
// The camera at `device` asked for `width`×`height` (it may choose the
// nearest size it has). It is opened at the first capture and again after
// an error, and each capture takes the newest frame it has.
std::unique_ptr<Camera> v4l2_camera(std::filesystem::path device, int width = 640, int height = 480);

// Splits a stream of concatenated JPEG images (SOI FFD8 ... EOI FFD9) into
// frames: appends `bytes` to `buffer` and moves every complete frame out,
// dropping bytes before a frame's start and any frame over kMaxFrameBytes.
std::vector<std::string> take_jpeg_frames(std::string& buffer, std::string_view bytes);

}  // namespace canopy::device
