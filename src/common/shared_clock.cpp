#include "common/shared_clock.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "common/files.h"

namespace canopy {

namespace {

constexpr char kMagic[8] = {'C', 'N', 'P', 'Y', 'C', 'L', 'K', '\0'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kVersionAt = 8;
constexpr std::size_t kSizeAt = 12;
constexpr std::size_t kWallAt = 16;
constexpr std::size_t kMonotonicAt = 24;
constexpr std::size_t kSpeedAt = 32;
constexpr std::size_t kFileSize = 40;

static_assert(std::atomic_ref<std::int64_t>::is_always_lock_free,
              "another process reads the clock: its fields need lock-free atomics");
static_assert(kWallAt % std::atomic_ref<std::int64_t>::required_alignment == 0 &&
              kSpeedAt % std::atomic_ref<std::uint64_t>::required_alignment == 0);

// A writer moves the clock in steps about a millisecond of real time apart:
// napping for much less than that only spins.
constexpr std::chrono::microseconds kShortestNap{200};
// The longest nap: a paused clock that starts again, a new speed and a stop
// request are all seen within it.
constexpr std::chrono::microseconds kLongestNap{50'000};

std::string error_text() { return std::strerror(errno); }

}  // namespace

// One mapping of a clock file; unmapped when it goes away.
class ClockMapping {
 public:
  ClockMapping(void* data, std::size_t size) : data_(static_cast<unsigned char*>(data)), size_(size) {}
  ~ClockMapping() { ::munmap(data_, size_); }
  ClockMapping(const ClockMapping&) = delete;
  ClockMapping& operator=(const ClockMapping&) = delete;

  // A reader's mapping is read-only: readers only ever load through these.
  std::atomic_ref<std::int64_t> int64_at(std::size_t offset) const {
    return std::atomic_ref<std::int64_t>(*reinterpret_cast<std::int64_t*>(data_ + offset));
  }
  std::atomic_ref<std::uint64_t> bits_at(std::size_t offset) const {
    return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(data_ + offset));
  }
  double speed() const { return std::bit_cast<double>(bits_at(kSpeedAt).load()); }
  const unsigned char* bytes() const { return data_; }

 private:
  unsigned char* data_;
  std::size_t size_;
};

namespace {

// Maps the open `fd` of `file`, which must be kFileSize long.
Result<std::unique_ptr<ClockMapping>> map_clock(int fd, const std::filesystem::path& file, bool writable) {
  void* data = ::mmap(nullptr, kFileSize, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED)
    return make_error(writable ? ErrorCode::kIo : ErrorCode::kInvalidArgument,
                      "cannot map the clock file " + file.string() + ": " + error_text());
  return std::make_unique<ClockMapping>(data, kFileSize);
}

}  // namespace

Result<std::unique_ptr<SharedFileClock>> SharedFileClock::open(const std::filesystem::path& file) {
  const auto refused = [&file](const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument,
                      file.string() + " " + why + ": not a clock file made by 'canopy sim'");
  };
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(ErrorCode::kInvalidArgument, "cannot open the clock file " + file.string() + ": " +
                                                       error_text());
  struct stat status {};
  const bool sized = ::fstat(fd, &status) == 0;
  if (!sized || !S_ISREG(status.st_mode) || static_cast<std::size_t>(status.st_size) != kFileSize) {
    ::close(fd);
    return refused(!sized || !S_ISREG(status.st_mode)
                       ? std::string("is not a regular file")
                       : "is " + std::to_string(status.st_size) + " bytes, a clock file is " +
                             std::to_string(kFileSize));
  }
  auto mapped = map_clock(fd, file, /*writable=*/false);
  ::close(fd);  // the mapping keeps the file
  if (!mapped.ok()) return mapped.error();
  const unsigned char* bytes = (*mapped)->bytes();
  if (std::memcmp(bytes, kMagic, sizeof kMagic) != 0) return refused("has no clock header");
  std::uint32_t version = 0, size = 0;
  std::memcpy(&version, bytes + kVersionAt, sizeof version);
  std::memcpy(&size, bytes + kSizeAt, sizeof size);
  if (version != kVersion || size != kFileSize)
    return make_error(ErrorCode::kInvalidArgument,
                      file.string() + " is a clock file of layout version " + std::to_string(version) +
                          "; this program reads version " + std::to_string(kVersion) +
                          ": use a canopy sim and canopy-agent of the same release");
  return std::unique_ptr<SharedFileClock>(new SharedFileClock(std::move(*mapped)));
}

SharedFileClock::SharedFileClock(std::unique_ptr<ClockMapping> mapping) : mapping_(std::move(mapping)) {}
SharedFileClock::~SharedFileClock() = default;

std::int64_t SharedFileClock::wall_ms() const { return mapping_->int64_at(kWallAt).load(); }
std::int64_t SharedFileClock::monotonic_ms() const { return mapping_->int64_at(kMonotonicAt).load(); }
double SharedFileClock::speed() const { return mapping_->speed(); }

void SharedFileClock::sleep_for_ms(std::int64_t duration_ms) {
  if (duration_ms > 0) wait_until(monotonic_ms() + duration_ms, nullptr);
}

void SharedFileClock::sleep_for_ms_unless(std::int64_t duration_ms, const std::atomic<bool>& stop) {
  if (duration_ms > 0) wait_until(monotonic_ms() + duration_ms, &stop);
}

void SharedFileClock::wait_until(std::int64_t deadline_ms, const std::atomic<bool>* stop) const {
  while (stop == nullptr || !stop->load()) {
    const std::int64_t left_ms = deadline_ms - monotonic_ms();
    if (left_ms <= 0) return;
    const double speed = mapping_->speed();
    // The real time the rest of the wait takes at this speed (a paused clock: the longest nap).
    const double real_us = speed > 0 ? static_cast<double>(left_ms) * 1000.0 / speed
                                     : static_cast<double>(kLongestNap.count());
    const auto nap = std::chrono::microseconds(static_cast<std::int64_t>(std::clamp(
        real_us, static_cast<double>(kShortestNap.count()), static_cast<double>(kLongestNap.count()))));
    std::this_thread::sleep_for(nap);
  }
}

Result<std::unique_ptr<SharedClockWriter>> SharedClockWriter::create(const std::filesystem::path& file,
                                                                     std::int64_t wall_ms, double speed) {
  std::string content(kFileSize, '\0');
  const std::int64_t monotonic_ms = 0;
  const std::uint64_t speed_bits = std::bit_cast<std::uint64_t>(speed);
  std::memcpy(content.data(), kMagic, sizeof kMagic);
  std::memcpy(content.data() + kVersionAt, &kVersion, sizeof kVersion);
  const std::uint32_t size = kFileSize;
  std::memcpy(content.data() + kSizeAt, &size, sizeof size);
  std::memcpy(content.data() + kWallAt, &wall_ms, sizeof wall_ms);
  std::memcpy(content.data() + kMonotonicAt, &monotonic_ms, sizeof monotonic_ms);
  std::memcpy(content.data() + kSpeedAt, &speed_bits, sizeof speed_bits);
  // Readers never see a half-made file: it appears whole under its name.
  CANOPY_TRY(replace_file_atomic(file, content));
  const int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::kIo, "cannot open the clock file " + file.string() + ": " + error_text());
  auto mapped = map_clock(fd, file, /*writable=*/true);
  ::close(fd);
  if (!mapped.ok()) return mapped.error();
  return std::unique_ptr<SharedClockWriter>(new SharedClockWriter(std::move(*mapped)));
}

SharedClockWriter::SharedClockWriter(std::unique_ptr<ClockMapping> mapping) : mapping_(std::move(mapping)) {}
SharedClockWriter::~SharedClockWriter() = default;

void SharedClockWriter::advance_ms(std::int64_t duration_ms) {
  if (duration_ms <= 0) return;
  mapping_->int64_at(kMonotonicAt).fetch_add(duration_ms);
  mapping_->int64_at(kWallAt).fetch_add(duration_ms);
}

void SharedClockWriter::set_speed(double speed) {
  mapping_->bits_at(kSpeedAt).store(std::bit_cast<std::uint64_t>(speed));
}

std::int64_t SharedClockWriter::wall_ms() const { return mapping_->int64_at(kWallAt).load(); }
std::int64_t SharedClockWriter::monotonic_ms() const { return mapping_->int64_at(kMonotonicAt).load(); }

}  // namespace canopy
