// The uploader: against a real cpp-httplib server on a loopback port that
// stores records by (stream, seq) as the server route does and now and then
// fails with 500 or drops the connection after storing; and against an
// in-process sink for the drain order and refused batches. Time is a
// ManualClock that moves when the uploader sleeps.
#include "outbox/uploader.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "agent/device_record_sink.h"
#include "outbox_fixtures.h"
#include "test_support.h"

namespace canopy::outbox {
namespace {

using api::Stream;
using canopy::testing::TempDir;
using namespace canopy::outbox::testing;

constexpr const char* kToken = "device-token-1";

// POST /api/v1/device/records as the server answers it, with faults: every
// `fail_every`th request answers 500 before storing anything, every
// `drop_every`th stores the batch and then drops the connection instead of
// answering.
class RecordServer {
 public:
  RecordServer(Clock& clock, int fail_every, int drop_every)
      : clock_(clock), fail_every_(fail_every), drop_every_(drop_every) {
    server_.Post("/api/v1/device/records",
                 [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~RecordServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  struct Arrival {
    std::int64_t at_ms;  // the test clock's monotonic time
    std::size_t body_bytes;
  };

  std::mutex mutex;
  std::map<Stream, std::vector<api::DeviceRecord>> stored;                  // guarded by mutex
  std::vector<Arrival> arrivals;                                            // guarded by mutex
  int duplicates = 0, gaps = 0, failed = 0, dropped = 0, unauthorized = 0;  // guarded by mutex

  std::size_t stored_count() {
    std::lock_guard lock(mutex);
    std::size_t count = 0;
    for (const auto& [stream, records] : stored) count += records.size();
    return count;
  }

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mutex);
    arrivals.push_back({clock_.monotonic_ms(), req.body.size()});
    const int request = static_cast<int>(arrivals.size());
    if (req.get_header_value("Authorization") != std::string("Bearer ") + kToken) {
      ++unauthorized;
      res.status = 401;
      return;
    }
    if (fail_every_ > 0 && request % fail_every_ == 0) {
      ++failed;
      res.status = 500;
      res.set_content(R"({"error":{"code":"internal","message":"injected"}})", "application/json");
      return;
    }
    auto json = parse_json(req.body);
    auto batch = json.ok() ? api::RecordBatch::from_json(*json) : Result<api::RecordBatch>(json.error());
    if (!batch.ok()) {
      res.status = 400;
      res.set_content(
          Json{{"error", {{"code", "invalid_argument"}, {"message", batch.error().message}}}}.dump(),
          "application/json");
      return;
    }
    api::RecordAck ack;
    for (const api::DeviceRecord& record : batch->records) {
      auto& records = stored[record.stream];
      const std::int64_t last = records.empty() ? 0 : records.back().seq;
      if (record.seq <= last) {
        ++duplicates;
      } else {
        if (record.seq != last + 1) ++gaps;
        records.push_back(record);
      }
      ack.acked[record.stream] = records.back().seq;
    }
    if (drop_every_ > 0 && request % drop_every_ == 0) {
      // Stored, but the answer never arrives: the device must send it again.
      ++dropped;
      res.set_content_provider(64, "application/json",
                               [](size_t, size_t, httplib::DataSink&) { return false; });
      return;
    }
    res.set_content(ack.to_json().dump(), "application/json");
  }

  Clock& clock_;
  const int fail_every_, drop_every_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

agent::DeviceClient device_client(const std::string& url) {
  HttpOptions options;
  options.max_attempts = 1;  // the uploader retries, on its clock
  options.connect_timeout_ms = 2000;
  options.request_timeout_ms = 10'000;
  agent::DeviceClient client(url, options);
  client.set_device_token(kToken);
  return client;
}

// Appends `count` records spread over the streams; returns them by stream.
std::map<Stream, std::vector<Json>> append_mixed(Outbox& outbox, int first, int count) {
  std::map<Stream, std::vector<Json>> appended;
  for (int i = first; i < first + count; ++i) {
    const Stream stream = api::kStreams[static_cast<std::size_t>(i * 7) % api::kStreams.size()];
    Json body = body_for(stream, i);
    auto seq = outbox.append(stream, i, body);
    EXPECT_TRUE(seq.ok()) << seq.error().message;
    appended[stream].push_back(std::move(body));
  }
  return appended;
}

TEST(UploaderTest, DeliversEachRecordOnceAndInOrderThroughFailuresAndDroppedAnswers) {
  TempDir dir;
  ManualClock clock(1'767'225'600'000, /*advance_on_sleep=*/true);
  RecordServer server(clock, /*fail_every=*/4, /*drop_every=*/5);
  auto outbox = Outbox::open(dir.path());
  ASSERT_TRUE(outbox.ok()) << outbox.error().message;
  auto expected = append_mixed(**outbox, 0, 200);

  agent::DeviceClient client = device_client(server.url());
  agent::DeviceRecordSink sink(client);
  UploaderOptions options;
  options.batch_records = 15;
  options.backoff_initial_ms = 100;
  options.backoff_max_ms = 2000;
  options.idle_wait_ms = 200;
  Uploader uploader(**outbox, sink, clock, options);
  std::atomic<bool> stop{false};
  std::thread uploading([&] { uploader.run(stop); });
  // The field loop goes on appending while the uploader drains.
  for (auto& [stream, bodies] : append_mixed(**outbox, 200, 150))
    expected[stream].insert(expected[stream].end(), bodies.begin(), bodies.end());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while ((server.stored_count() < 350 || (*outbox)->pending_records() > 0) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop = true;
  uploading.join();

  std::lock_guard lock(server.mutex);
  EXPECT_GT(server.failed, 0);
  EXPECT_GT(server.dropped, 0);
  EXPECT_EQ(server.gaps, 0);
  EXPECT_EQ(server.unauthorized, 0);
  EXPECT_GT(server.duplicates, 0) << "a dropped answer makes the batch come again";
  EXPECT_LE(server.duplicates, server.dropped * static_cast<int>(options.batch_records));
  for (Stream stream : api::kStreams) {
    const auto& records = server.stored[stream];
    ASSERT_EQ(records.size(), expected[stream].size()) << api::stream_name(stream);
    for (std::size_t i = 0; i < records.size(); ++i) {
      EXPECT_EQ(records[i].seq, static_cast<std::int64_t>(i + 1));
      EXPECT_EQ(records[i].body, expected[stream][i]) << api::stream_name(stream) << " " << i + 1;
    }
  }
  EXPECT_EQ((*outbox)->pending_records(), 0);
  EXPECT_EQ((*outbox)->stats().total_bytes, 0u) << "acknowledged segments are deleted";
  const UploaderStats stats = uploader.stats();
  EXPECT_EQ(stats.records_acknowledged, 350);
  EXPECT_EQ(stats.failures, server.failed + server.dropped);
}

TEST(UploaderTest, KeepsToTheBandwidthCapOnTheClock) {
  TempDir dir;
  ManualClock clock(1'767'225'600'000, /*advance_on_sleep=*/true);
  RecordServer server(clock, /*fail_every=*/0, /*drop_every=*/0);
  auto outbox = Outbox::open(dir.path());
  ASSERT_TRUE(outbox.ok());
  for (int i = 0; i < 120; ++i) ASSERT_TRUE((*outbox)->append(Stream::kImages, i, image_body(i, 900)).ok());

  agent::DeviceClient client = device_client(server.url());
  agent::DeviceRecordSink sink(client);
  UploaderOptions options;
  options.bandwidth_bytes_per_s = 8'000;
  options.burst_bytes = 4'000;
  options.batch_bytes = 4'000;  // within the burst, so the bound below is exact
  Uploader uploader(**outbox, sink, clock, options);
  const std::int64_t start_ms = clock.monotonic_ms();
  for (int i = 0; i < 1000 && (*outbox)->pending_records() > 0; ++i) ASSERT_TRUE(uploader.upload_once().ok());
  ASSERT_EQ((*outbox)->pending_records(), 0);
  const std::int64_t elapsed_ms = clock.monotonic_ms() - start_ms;

  std::lock_guard lock(server.mutex);
  // At every arrival, what came so far is within burst + rate × time.
  std::int64_t received = 0;
  for (const auto& arrival : server.arrivals) {
    received += static_cast<std::int64_t>(arrival.body_bytes);
    EXPECT_LE(received,
              options.burst_bytes + options.bandwidth_bytes_per_s * (arrival.at_ms - start_ms) / 1000);
  }
  EXPECT_EQ(received, uploader.stats().bytes_sent);
  // ... and the cap is used, not undercut: the whole upload takes about its size over the rate.
  const std::int64_t ideal_ms = (received - options.burst_bytes) * 1000 / options.bandwidth_bytes_per_s;
  EXPECT_GE(elapsed_ms, ideal_ms);
  EXPECT_LE(elapsed_ms, ideal_ms * 11 / 10 + 1000);
  EXPECT_GT(uploader.stats().throttled_ms, 0);
}

TEST(UploaderTest, ABadTokenIsAnErrorAndNothingIsAcknowledged) {
  TempDir dir;
  ManualClock clock;
  RecordServer server(clock, 0, 0);
  auto outbox = Outbox::open(dir.path());
  ASSERT_TRUE(outbox.ok());
  append_mixed(**outbox, 0, 5);
  agent::DeviceClient client = device_client(server.url());
  client.set_device_token("wrong");
  agent::DeviceRecordSink sink(client);
  Uploader uploader(**outbox, sink, clock);
  Status uploaded = uploader.upload_once();
  ASSERT_FALSE(uploaded.ok());
  EXPECT_EQ(uploaded.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ((*outbox)->pending_records(), 5);
}

// A sink in the process: records the order batches arrive in, acknowledges
// everything, and refuses (400) any batch holding a record it was told is bad.
class RecordingSink final : public RecordSink {
 public:
  Result<api::RecordAck> send(const api::RecordBatch& batch) override {
    for (const auto& record : batch.records)
      if (bad.count({record.stream, record.seq}))
        return make_error(ErrorCode::kInvalidArgument, "records[0]: bad record");
    api::RecordAck ack;
    for (const auto& record : batch.records) {
      order.emplace_back(record.stream, record.seq);
      ack.acked[record.stream] = record.seq;
    }
    return ack;
  }
  std::set<std::pair<Stream, std::int64_t>> bad;
  std::vector<std::pair<Stream, std::int64_t>> order;
};

TEST(UploaderTest, AfterAnOutageDrainsInPriorityOrderOldestFirst) {
  TempDir dir;
  ManualClock clock(1'767'225'600'000, true);
  auto outbox = Outbox::open(dir.path());
  ASSERT_TRUE(outbox.ok());
  append_mixed(**outbox, 0, 300);  // three days offline, every stream interleaved
  RecordingSink sink;
  UploaderOptions options;
  options.batch_records = 7;
  Uploader uploader(**outbox, sink, clock, options);
  while ((*outbox)->pending_records() > 0) ASSERT_TRUE(uploader.upload_once().ok());
  ASSERT_EQ(sink.order.size(), 300u);
  EXPECT_TRUE(std::is_sorted(sink.order.begin(), sink.order.end())) << "by stream priority, then seq";
}

TEST(UploaderTest, ARefusedBatchIsRetriedRecordByRecordAndOnlyTheBadOneIsDropped) {
  TempDir dir;
  ManualClock clock(1'767'225'600'000, true);
  auto outbox = Outbox::open(dir.path());
  ASSERT_TRUE(outbox.ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*outbox)->append(Stream::kReadings, i, reading_body(i)).ok());
  RecordingSink sink;
  sink.bad.insert({Stream::kReadings, 6});
  UploaderOptions options;
  options.batch_records = 8;
  Uploader uploader(**outbox, sink, clock, options);
  for (int i = 0; i < 50 && (*outbox)->pending_records() > 0; ++i) ASSERT_TRUE(uploader.upload_once().ok());
  EXPECT_EQ((*outbox)->pending_records(), 0);
  std::vector<std::pair<Stream, std::int64_t>> expected;
  for (int seq = 1; seq <= 20; ++seq)
    if (seq != 6) expected.emplace_back(Stream::kReadings, seq);
  EXPECT_EQ(sink.order, expected);
  EXPECT_EQ(uploader.stats().rejected_records, 1);
}

}  // namespace
}  // namespace canopy::outbox
