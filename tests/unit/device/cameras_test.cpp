// Camera sources fed by what a camera would produce: files dropped in a
// spool, a program streaming JPEG frames (and dying), an HTTP snapshot.
#include "device/cameras.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <opencv2/core.hpp>
#include <thread>

#include "test_support.h"
#include "vision/image_codec.h"

namespace canopy::device {
namespace {

using testing::TempDir;
using testing::write_bytes;

std::string jpeg_of(int shade) {
  cv::Mat image(24, 32, CV_8UC3, cv::Scalar(shade, 255 - shade, 128));
  return *vision::encode_image(image, vision::ImageFormat::kJpeg);
}

void set_time(const std::filesystem::path& file, int seconds_ago) {
  std::filesystem::last_write_time(
      file, std::filesystem::file_time_type::clock::now() - std::chrono::seconds(seconds_ago));
}

TEST(CamerasTest, ASpoolHandsOutTheNewestFrameAndSkipsTheOlder) {
  TempDir dir;
  auto camera = spool_camera(dir.path());
  EXPECT_FALSE(camera->capture(0)->has_value()) << "nothing dropped yet";
  write_bytes(dir / "a.jpg", jpeg_of(10));
  set_time(dir / "a.jpg", 30);
  write_bytes(dir / "b.JPEG", jpeg_of(20));
  set_time(dir / "b.JPEG", 20);
  write_bytes(dir / "c.png", "newest");
  write_bytes(dir / ".d.jpg", "still being written");
  write_bytes(dir / "notes.txt", "not a frame");
  auto frame = camera->capture(0);
  ASSERT_TRUE(frame.ok()) << frame.error().message;
  ASSERT_TRUE(frame->has_value());
  EXPECT_EQ((*frame)->encoded, "newest");
  EXPECT_EQ((*frame)->skipped, 2);
  EXPECT_GT((*frame)->captured_ms, 1'600'000'000'000) << "the file's own time";
  EXPECT_FALSE(std::filesystem::exists(dir / "a.jpg"));
  EXPECT_TRUE(std::filesystem::exists(dir / ".d.jpg"));
  EXPECT_TRUE(std::filesystem::exists(dir / "notes.txt"));
  EXPECT_FALSE(camera->capture(0)->has_value()) << "each frame once";

  EXPECT_FALSE(spool_camera(dir / "missing")->capture(0).ok()) << "a spool that is not there";
}

TEST(CamerasTest, JpegFramesAreSplitByTheirStructureNotByTheFirstEndMarker) {
  // A frame whose APP1 segment (an EXIF thumbnail) holds FF D9 before the real end.
  std::string app1 = "\xFF\xE1";
  const std::string payload = std::string("Exif\0\0", 6) + "\xFF\xD8" + "thumb" + "\xFF\xD9";
  app1 += static_cast<char>(0);
  app1 += static_cast<char>(payload.size() + 2);
  app1 += payload;
  const std::string with_thumbnail = "\xFF\xD8" + app1 + jpeg_of(50).substr(2);
  const std::string stream = "garbage" + jpeg_of(10) + with_thumbnail + jpeg_of(90);
  std::string buffer;
  std::vector<std::string> frames;
  // Fed in small pieces, the way a pipe delivers it.
  for (std::size_t i = 0; i < stream.size(); i += 100) {
    auto some = take_jpeg_frames(buffer, std::string_view(stream).substr(i, 100));
    frames.insert(frames.end(), some.begin(), some.end());
  }
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0], jpeg_of(10));
  EXPECT_EQ(frames[1], with_thumbnail);
  EXPECT_EQ(frames[2], jpeg_of(90));
  EXPECT_TRUE(buffer.empty());
  for (const std::string& frame : frames) EXPECT_TRUE(vision::decode_image(frame).ok());
}

TEST(CamerasTest, ACommandCameraKeepsTheLatestFrameAndIsStartedAgainWhenItDies) {
  TempDir dir;
  // Both frames in one file, so cat writes them in one write of less than
  // PIPE_BUF and the reader sees them together: two files would be two writes,
  // and a capture between them would take the first frame.
  ASSERT_LT(jpeg_of(10).size() + jpeg_of(200).size(), 4096u);
  write_bytes(dir / "frames.mjpeg", jpeg_of(10) + jpeg_of(200));
  const std::string script = "cat " + (dir / "frames.mjpeg").string() + "; exit 1";
  auto camera = command_camera({"/bin/sh", "-c", script});
  std::optional<Frame> frame;
  for (int i = 0; i < 500 && !frame; ++i) {
    auto captured = camera->capture(42);
    ASSERT_TRUE(captured.ok()) << captured.error().message;
    frame = std::move(*captured);
    if (!frame) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->encoded, jpeg_of(200)) << "the latest frame";
  EXPECT_EQ(frame->skipped, 1);
  EXPECT_EQ(frame->captured_ms, 42);
  Result<std::optional<Frame>> next = std::optional<Frame>();
  for (int i = 0; i < 500 && next.ok() && !next->has_value(); ++i) {
    next = camera->capture(43);
    if (next.ok() && !next->has_value()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(next.ok()) << "the program's end is reported";
  EXPECT_NE(next.error().message.find("exited with 1"), std::string::npos) << next.error().message;
  std::optional<Frame> again;
  for (int i = 0; i < 500 && !again; ++i) {
    auto captured = camera->capture(44);
    ASSERT_TRUE(captured.ok()) << captured.error().message;
    again = std::move(*captured);
    if (!again) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(again) << "started again at the next capture";
  EXPECT_FALSE(command_camera({"/nonexistent/ffmpeg"})->capture(0).ok());
}

TEST(CamerasTest, AnHttpSnapshotIsOneFrame) {
  httplib::Server server;
  const std::string frame_bytes = jpeg_of(77);
  server.Get("/snapshot.jpg", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(frame_bytes, "image/jpeg");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  auto frame = http_camera(base + "/snapshot.jpg")->capture(7);
  ASSERT_TRUE(frame.ok()) << frame.error().message;
  ASSERT_TRUE(frame->has_value());
  EXPECT_EQ((*frame)->encoded, frame_bytes);
  EXPECT_EQ((*frame)->captured_ms, 7);
  auto missing = http_camera(base + "/other.jpg")->capture(7);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("404"), std::string::npos);
  server.stop();
  serving.join();
  EXPECT_FALSE(http_camera(base + "/snapshot.jpg")->capture(7).ok()) << "a camera that is gone";
}

TEST(CamerasTest, AV4l2CameraThatIsNotThereIsAnErrorAtEachCapture) {
  auto camera = v4l2_camera("/dev/video-canopy-missing");
  for (int i = 0; i < 2; ++i) {
    auto frame = camera->capture(0);
    ASSERT_FALSE(frame.ok());
    EXPECT_NE(frame.error().message.find("cannot open /dev/video-canopy-missing"), std::string::npos)
        << frame.error().message;
  }
  TempDir dir;
  write_bytes(dir / "video0", "not a video device");
  EXPECT_FALSE(v4l2_camera(dir / "video0")->capture(0).ok()) << "a file that is no camera";
}

}  // namespace
}  // namespace canopy::device
