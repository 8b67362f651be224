#include "outbox/segment.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace canopy::outbox {

namespace {

// CRC-32 (IEEE 802.3, as zlib and gzip compute it), one table of 256 entries.
constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<std::uint32_t, 256> kCrcTable = make_crc_table();

void put_u32(std::string& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}
void put_i64(std::string& out, std::int64_t value) {
  const auto bits = static_cast<std::uint64_t>(value);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}
std::uint64_t get_le(std::string_view data, std::size_t offset, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i)
    value |= static_cast<std::uint64_t>(static_cast<unsigned char>(data[offset + i])) << (8 * i);
  return value;
}

Error io_error(std::string_view what, const std::filesystem::path& path, int error_number) {
  return make_error(ErrorCode::kIo,
                    std::string(what) + " " + path.string() + ": " + std::strerror(error_number));
}

}  // namespace

std::uint32_t crc32(std::string_view data) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (char byte : data) c = kCrcTable[(c ^ static_cast<unsigned char>(byte)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string encode_frame(std::int64_t seq, std::int64_t at_ms, std::string_view body_json) {
  std::string payload;
  payload.reserve(kFramePayloadHeaderBytes + body_json.size());
  put_i64(payload, seq);
  put_i64(payload, at_ms);
  payload.append(body_json);
  std::string frame;
  frame.reserve(kFrameHeaderBytes + payload.size());
  put_u32(frame, static_cast<std::uint32_t>(payload.size()));
  put_u32(frame, crc32(payload));
  frame += payload;
  return frame;
}

std::vector<Frame> scan_frames(std::string_view data) {
  std::vector<Frame> frames;
  std::size_t offset = 0;
  while (data.size() - offset >= kFrameHeaderBytes) {
    const std::size_t length = get_le(data, offset, 4);
    const auto crc = static_cast<std::uint32_t>(get_le(data, offset + 4, 4));
    if (length < kFramePayloadHeaderBytes || length > kMaxFramePayloadBytes) break;
    if (data.size() - offset - kFrameHeaderBytes < length) break;  // torn: the write never finished
    const std::string_view payload = data.substr(offset + kFrameHeaderBytes, length);
    if (crc32(payload) != crc) break;
    Frame frame;
    frame.seq = static_cast<std::int64_t>(get_le(payload, 0, 8));
    frame.at_ms = static_cast<std::int64_t>(get_le(payload, 8, 8));
    frame.body_json = payload.substr(kFramePayloadHeaderBytes);
    frame.end_offset = offset + kFrameHeaderBytes + length;
    // Within a segment seqs are consecutive; anything else was not written by an append.
    if (frame.seq < 1 || (!frames.empty() && frame.seq != frames.back().seq + 1)) break;
    offset = frame.end_offset;
    frames.push_back(frame);
  }
  return frames;
}

Result<SegmentWriter> SegmentWriter::create(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot create segment", path, errno);
  return SegmentWriter(fd, path);
}

SegmentWriter::SegmentWriter(SegmentWriter&& other) noexcept
    : fd_(other.fd_), path_(std::move(other.path_)), size_bytes_(other.size_bytes_) {
  other.fd_ = -1;
}

SegmentWriter& SegmentWriter::operator=(SegmentWriter&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    size_bytes_ = other.size_bytes_;
    other.fd_ = -1;
  }
  return *this;
}

SegmentWriter::~SegmentWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Status SegmentWriter::append(std::string_view frame) {
  std::size_t written = 0;
  while (written < frame.size()) {
    const ssize_t n = ::write(fd_, frame.data() + written, frame.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error_number = n < 0 ? errno : ENOSPC;
      // Leave no partial frame behind for the next append to follow.
      if (::ftruncate(fd_, static_cast<off_t>(size_bytes_)) != 0)
        return io_error("cannot undo a partial write to", path_, errno);
      return io_error("cannot append to", path_, error_number);
    }
    written += static_cast<std::size_t>(n);
  }
  size_bytes_ += frame.size();
  return {};
}

Status SegmentWriter::sync() {
  if (::fdatasync(fd_) != 0) return io_error("cannot sync", path_, errno);
  return {};
}

}  // namespace canopy::outbox
