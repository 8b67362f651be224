// kill -9 at random instants: a child process appends to an outbox in a
// loop, acknowledging now and then as an uploader would, and reports on a
// pipe every seq append returned and every acknowledgement that returned.
// The parent kills it with SIGKILL, reopens the outbox and checks that
// every reported record is pending or acknowledged, that seqs never repeat
// across rounds, and that the cap holds.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <set>
#include <sstream>

#include "outbox/outbox.h"
#include "outbox_fixtures.h"
#include "test_support.h"

namespace canopy::outbox {
namespace {

using api::Stream;
using canopy::testing::TempDir;
using namespace canopy::outbox::testing;

OutboxOptions crash_options() {
  OutboxOptions options;
  options.max_bytes = 48'000;
  options.segment_bytes = 2'000;
  return options;
}

void write_line(int fd, const std::string& line) {
  std::size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd, line.data() + written, line.size() - written);
    if (n <= 0) ::_exit(3);
    written += static_cast<std::size_t>(n);
  }
}

// The child: appends and acknowledges until it is killed. Never returns.
[[noreturn]] void append_until_killed(const fs::path& dir, int report_fd, unsigned seed) {
  auto outbox = Outbox::open(dir, crash_options());
  if (!outbox.ok()) ::_exit(2);
  std::mt19937 random(seed);
  for (int i = 0;; ++i) {
    const int pick = static_cast<int>(random() % 100);
    const Stream stream = pick < 10   ? Stream::kAlerts
                          : pick < 15 ? Stream::kActuations
                          : pick < 55 ? Stream::kReadings
                          : pick < 75 ? Stream::kTelemetry
                                      : Stream::kImages;
    const Json body = stream == Stream::kImages ? image_body(i, 300 + random() % 1200) : body_for(stream, i);
    auto seq = (*outbox)->append(stream, i, body);
    if (seq.ok())
      write_line(report_fd,
                 "A " + std::to_string(static_cast<int>(stream)) + " " + std::to_string(*seq) + "\n");
    if (i % 40 == 39) {  // an upload: part of what is pending, acknowledged
      auto batch = (*outbox)->next_batch(25, SIZE_MAX);
      if (!batch.ok()) ::_exit(4);
      api::RecordAck ack;
      for (const auto& record : batch->records) ack.acked[record.stream] = record.seq;
      if (!(*outbox)->acknowledge(ack).ok()) ::_exit(5);
    }
  }
}

struct Reported {
  std::map<Stream, std::vector<std::int64_t>> appended;  // in the order append returned them
};

void parse_reports(const std::string& text, Reported& reported) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (lines.eof()) break;  // a line cut by the kill has no newline: nothing was reported yet
    std::istringstream fields(line);
    char kind = 0;
    int stream = 0;
    std::int64_t seq = 0;
    fields >> kind >> stream >> seq;
    if (kind == 'A') reported.appended[static_cast<Stream>(stream)].push_back(seq);
  }
}

// Reads what the child reports until `deadline_ms` has passed, then kills it.
std::string run_child_and_kill(int read_fd, pid_t child, int run_ms) {
  std::string text;
  char buffer[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd waiting{read_fd, POLLIN, 0};
    if (::poll(&waiting, 1, 5) > 0) {
      const ssize_t n = ::read(read_fd, buffer, sizeof buffer);
      if (n > 0) text.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the child ended by itself: " << status;
  // What it wrote before it died is still in the pipe.
  ssize_t n = 0;
  while ((n = ::read(read_fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(n));
  return text;
}

TEST(OutboxCrashTest, KillNineAtRandomInstantsLosesNoAppendedRecord) {
  TempDir dir;
  std::mt19937 random(20260101);
  Reported reported;
  int rounds_with_records = 0;
  for (int round = 0; round < 8; ++round) {
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(pipe_fds[0]);
      append_until_killed(dir.path(), pipe_fds[1], static_cast<unsigned>(round));
    }
    ::close(pipe_fds[1]);
    ::fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    const std::string text = run_child_and_kill(pipe_fds[0], child, 100 + static_cast<int>(random() % 400));
    ::close(pipe_fds[0]);
    Reported this_round;
    parse_reports(text, this_round);
    if (!this_round.appended.empty()) ++rounds_with_records;
    for (auto& [stream, seqs] : this_round.appended)
      reported.appended[stream].insert(reported.appended[stream].end(), seqs.begin(), seqs.end());

    ASSERT_LE(segment_bytes_on_disk(dir.path()), crash_options().max_bytes) << "round " << round;
    auto outbox = Outbox::open(dir.path(), crash_options());
    ASSERT_TRUE(outbox.ok()) << outbox.error().message;
    ASSERT_LE(segment_bytes_on_disk(dir.path()), crash_options().max_bytes);
    auto batch = (*outbox)->next_batch(SIZE_MAX, SIZE_MAX);
    ASSERT_TRUE(batch.ok()) << batch.error().message;
    std::map<Stream, std::set<std::int64_t>> pending;
    std::map<Stream, std::int64_t> last_pending;
    for (const auto& record : batch->records) {
      EXPECT_GT(record.seq, last_pending[record.stream]) << "pending seqs in order, each once";
      last_pending[record.stream] = record.seq;
      pending[record.stream].insert(record.seq);
    }
    const OutboxStats stats = (*outbox)->stats();
    for (const auto& [stream, seqs] : reported.appended) {
      const StreamStats& stream_stats = stats.streams.at(stream);
      for (std::size_t i = 0; i < seqs.size(); ++i) {
        if (i > 0) {
          ASSERT_GT(seqs[i], seqs[i - 1]) << api::stream_name(stream) << ": a seq was given twice";
        }
        const std::int64_t seq = seqs[i];
        if (seq <= stream_stats.acked_seq || pending[stream].count(seq)) continue;
        // Only an evictable stream may lose a record, and only to eviction, which takes the oldest.
        EXPECT_TRUE(api::may_evict(stream) && (pending[stream].empty() || seq < *pending[stream].begin()))
            << api::stream_name(stream) << " " << seq << " lost";
      }
      if (!api::may_evict(stream) && !seqs.empty()) {
        EXPECT_GE(stream_stats.last_seq, seqs.back()) << api::stream_name(stream);
      }
    }
    // Closing releases the directory for the next child.
  }
  EXPECT_GE(rounds_with_records, 6);
  EXPECT_GT(reported.appended[Stream::kAlerts].size(), 20u);
}

}  // namespace
}  // namespace canopy::outbox
