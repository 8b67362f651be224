// The outbox's on-disk record format (docs/field.md, "Outbox"): a segment
// file is a run of frames, each
//
//   u32 payload length | u32 CRC-32 of the payload | payload
//   payload = i64 seq | i64 at_ms | the record's body as JSON text
//
// little-endian. A frame is valid when its length is within bounds, it is
// whole, its CRC matches and its seq follows the previous frame's by one;
// scan_frames stops at the first frame that is not, which is where a write
// torn by kill -9 or a power cut ends. SegmentWriter appends frames to a new
// file with plain POSIX calls (the Env in common/env.h only creates files to
// rename, it does not append to them).
// Private to canopy_outbox. Thread-safety: plain functions; a SegmentWriter
// belongs to the Outbox's mutex.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace canopy::outbox {

inline constexpr std::size_t kFrameHeaderBytes = 8;
inline constexpr std::size_t kFramePayloadHeaderBytes = 16;  // seq and at_ms
// An image body is at most api::kMaxImageBase64 (4 MiB) of base64 plus a
// little JSON; a length above this bound is garbage, not a record.
inline constexpr std::size_t kMaxFramePayloadBytes = 5u << 20;

std::uint32_t crc32(std::string_view data);

// The whole frame for one record.
std::string encode_frame(std::int64_t seq, std::int64_t at_ms, std::string_view body_json);

struct Frame {
  std::int64_t seq = 0;
  std::int64_t at_ms = 0;
  std::string_view body_json;  // points into the scanned buffer
  std::size_t end_offset = 0;  // where the next frame starts
};

// The valid frames at the start of `data`, in order; the last one's
// end_offset is the length of the valid prefix (0 when there is none).
std::vector<Frame> scan_frames(std::string_view data);

// Appends frames to a segment file it creates. Every append is whole or
// undone: a failed or short write is truncated away before returning.
class SegmentWriter {
 public:
  // Creates `path` exclusively (it must not exist).
  static Result<SegmentWriter> create(const std::filesystem::path& path);
  SegmentWriter(SegmentWriter&& other) noexcept;
  SegmentWriter& operator=(SegmentWriter&& other) noexcept;
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;
  ~SegmentWriter();

  Status append(std::string_view frame);
  // fdatasync: the appended frames survive a power cut.
  Status sync();
  std::uint64_t size_bytes() const { return size_bytes_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  SegmentWriter(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::filesystem::path path_;
  std::uint64_t size_bytes_ = 0;
};

}  // namespace canopy::outbox
