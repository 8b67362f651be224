// The clock file of common/shared_clock.h: a writer and readers in one
// process and in another (a forked child that sleeps on it), and the files
// a reader must refuse.
#include "common/shared_clock.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include "common/files.h"
#include "test_support.h"

namespace canopy {
namespace {

constexpr std::int64_t kStartMs = 1'772'323'200'000;  // 2026-03-01T00:00:00Z
constexpr std::int64_t kMinuteMs = 60'000;

TEST(SharedClock, ReadersSeeWhatTheWriterWrites) {
  testing::TempDir dir;
  auto writer = SharedClockWriter::create(dir / "clock", kStartMs, 1000);
  ASSERT_TRUE(writer.ok()) << writer.error().message;
  auto reader = SharedFileClock::open(dir / "clock");
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  auto second_reader = SharedFileClock::open(dir / "clock");
  ASSERT_TRUE(second_reader.ok());
  EXPECT_EQ((*reader)->wall_ms(), kStartMs);
  EXPECT_EQ((*reader)->monotonic_ms(), 0);
  EXPECT_EQ((*reader)->speed(), 1000);

  (*writer)->advance_ms(3 * 24 * 60 * kMinuteMs);  // three days, at once
  (*writer)->advance_ms(-5);                      // time never goes back
  (*writer)->set_speed(0.5);
  for (auto* clock : {reader->get(), second_reader->get()}) {
    EXPECT_EQ(clock->wall_ms(), kStartMs + 3 * 24 * 60 * kMinuteMs);
    EXPECT_EQ(clock->monotonic_ms(), 3 * 24 * 60 * kMinuteMs);
    EXPECT_EQ(clock->speed(), 0.5);
  }
  EXPECT_EQ((*writer)->wall_ms(), kStartMs + 3 * 24 * 60 * kMinuteMs);

  // A reader that outlives the writer keeps the last time.
  writer->reset();
  EXPECT_EQ((*reader)->monotonic_ms(), 3 * 24 * 60 * kMinuteMs);
}

// A file that `open` must refuse, and a word of the reason it must give.
void expect_refused(const fs::path& file, const std::string& reason) {
  auto opened = SharedFileClock::open(file);
  ASSERT_FALSE(opened.ok()) << file;
  EXPECT_EQ(opened.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(opened.error().message.find(file.string()), std::string::npos) << opened.error().message;
  EXPECT_NE(opened.error().message.find(reason), std::string::npos) << opened.error().message;
}

TEST(SharedClock, ReaderRefusesWhatIsNotAClockFileOfItsLayout) {
  testing::TempDir dir;
  ASSERT_TRUE(SharedClockWriter::create(dir / "clock", kStartMs, 1).ok());
  const std::string good = *read_file(dir / "clock");
  ASSERT_EQ(good.size(), 40u);

  expect_refused(dir / "missing", "No such file");
  expect_refused(dir.path(), "not a regular file");
  ASSERT_TRUE(write_file_atomic(dir / "empty", "").ok());
  expect_refused(dir / "empty", "is 0 bytes");
  ASSERT_TRUE(write_file_atomic(dir / "longer", good + "x").ok());
  expect_refused(dir / "longer", "is 41 bytes");
  ASSERT_TRUE(write_file_atomic(dir / "zeros", std::string(40, '\0')).ok());
  expect_refused(dir / "zeros", "no clock header");
  std::string other_version = good;
  other_version[8] = 2;
  ASSERT_TRUE(write_file_atomic(dir / "version-2", other_version).ok());
  expect_refused(dir / "version-2", "layout version 2");
}

// Reads one number from `fd`, waiting for it at most 10 s of real time.
std::optional<std::int64_t> read_number(int fd) {
  pollfd ready{fd, POLLIN, 0};
  if (::poll(&ready, 1, 10'000) != 1) return std::nullopt;
  std::int64_t value = 0;
  if (::read(fd, &value, sizeof value) != static_cast<ssize_t>(sizeof value)) return std::nullopt;
  return value;
}

TEST(SharedClock, ASleeperInAnotherProcessWakesWhenTheWriterMovesTimePastItsDeadline) {
  testing::TempDir dir;
  // The speed the loop below moves time at, roughly: a minute per millisecond.
  auto writer = SharedClockWriter::create(dir / "clock", kStartMs, 60'000);
  ASSERT_TRUE(writer.ok());
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child maps the file itself and sleeps an hour of virtual time on it.
    auto clock = SharedFileClock::open(dir / "clock");
    if (!clock.ok()) ::_exit(10);
    const std::int64_t asleep_at = (*clock)->monotonic_ms();
    if (::write(pipe_fds[1], &asleep_at, sizeof asleep_at) != sizeof asleep_at) ::_exit(11);
    (*clock)->sleep_for_ms(60 * kMinuteMs);
    const std::int64_t woke_at = (*clock)->monotonic_ms();
    const std::int64_t wall_at = (*clock)->wall_ms();
    if (::write(pipe_fds[1], &woke_at, sizeof woke_at) != sizeof woke_at) ::_exit(12);
    if (::write(pipe_fds[1], &wall_at, sizeof wall_at) != sizeof wall_at) ::_exit(13);
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  const std::optional<std::int64_t> asleep_at = read_number(pipe_fds[0]);
  ASSERT_TRUE(asleep_at.has_value());
  // Time moves a virtual minute at a time until the child says it woke;
  // where it woke shows it slept the whole hour. (How soon after the
  // deadline it woke depends on the scheduler; sim's VirtualTime test
  // measures it.)
  std::int64_t advanced_ms = 0;
  pollfd woke{pipe_fds[0], POLLIN, 0};
  while (::poll(&woke, 1, 1) == 0 && advanced_ms < 24 * 60 * kMinuteMs) {
    (*writer)->advance_ms(kMinuteMs);
    advanced_ms += kMinuteMs;
  }
  const std::optional<std::int64_t> woke_at = read_number(pipe_fds[0]);
  const std::optional<std::int64_t> wall_at = read_number(pipe_fds[0]);
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_TRUE(woke_at.has_value() && wall_at.has_value());
  EXPECT_GE(*woke_at - *asleep_at, 60 * kMinuteMs);
  EXPECT_LE(*woke_at, advanced_ms);
  EXPECT_EQ(*wall_at - kStartMs, *woke_at) << "wall and monotonic time move together";
}

TEST(SharedClock, AStopEndsASleepOnAPausedClock) {
  testing::TempDir dir;
  auto writer = SharedClockWriter::create(dir / "clock", kStartMs, 0);  // paused: time does not move
  ASSERT_TRUE(writer.ok());
  auto clock = SharedFileClock::open(dir / "clock");
  ASSERT_TRUE(clock.ok());
  std::atomic<bool> stop{false};
  std::atomic<bool> sleeping{false};
  std::thread sleeper([&] {
    sleeping = true;
    (*clock)->sleep_for_ms_unless(60 * kMinuteMs, stop);
  });
  while (!sleeping) std::this_thread::yield();
  const auto stopped_at = std::chrono::steady_clock::now();
  stop = true;
  sleeper.join();
  const auto noticed = std::chrono::steady_clock::now() - stopped_at;
  EXPECT_EQ((*clock)->monotonic_ms(), 0);
  EXPECT_LT(noticed, std::chrono::seconds(1)) << "a nap is at most 50 ms";
}

}  // namespace
}  // namespace canopy
