// The outbox on a real directory: sequence numbers across reopen,
// acknowledgement, the cap and the eviction order, refusal, torn tails.
#include "outbox/outbox.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "outbox_fixtures.h"
#include "test_support.h"

namespace canopy::outbox {
namespace {

using api::Stream;
using canopy::testing::TempDir;
using namespace canopy::outbox::testing;

std::unique_ptr<Outbox> open_outbox(const fs::path& dir, OutboxOptions options = {}) {
  auto outbox = Outbox::open(dir, options);
  EXPECT_TRUE(outbox.ok()) << outbox.error().message;
  return outbox.ok() ? std::move(*outbox) : nullptr;
}

std::int64_t append_ok(Outbox& outbox, Stream stream, int i) {
  auto seq = outbox.append(stream, 1'000 + i, body_for(stream, i));
  EXPECT_TRUE(seq.ok()) << seq.error().message;
  return seq.ok() ? *seq : -1;
}

std::vector<std::pair<Stream, std::int64_t>> pending_keys(Outbox& outbox) {
  auto batch = outbox.next_batch(SIZE_MAX, SIZE_MAX);
  EXPECT_TRUE(batch.ok()) << batch.error().message;
  std::vector<std::pair<Stream, std::int64_t>> keys;
  if (batch.ok())
    for (const auto& record : batch->records) keys.emplace_back(record.stream, record.seq);
  return keys;
}

TEST(OutboxTest, SequencesGrowPerStreamAndSurviveReopen) {
  TempDir dir;
  {
    auto outbox = open_outbox(dir.path());
    EXPECT_EQ(append_ok(*outbox, Stream::kReadings, 0), 1);
    EXPECT_EQ(append_ok(*outbox, Stream::kReadings, 1), 2);
    EXPECT_EQ(append_ok(*outbox, Stream::kAlerts, 0), 1);
    EXPECT_EQ(append_ok(*outbox, Stream::kReadings, 2), 3);
  }
  auto outbox = open_outbox(dir.path());
  EXPECT_EQ(append_ok(*outbox, Stream::kReadings, 3), 4);
  EXPECT_EQ(append_ok(*outbox, Stream::kAlerts, 1), 2);
  EXPECT_EQ(append_ok(*outbox, Stream::kImages, 0), 1);
}

TEST(OutboxTest, AcknowledgedRecordsNeverComeBackAndTheRestDoInOrder) {
  TempDir dir;
  OutboxOptions options;
  options.segment_bytes = 400;  // a few records per segment
  {
    auto outbox = open_outbox(dir.path(), options);
    for (int i = 0; i < 10; ++i) append_ok(*outbox, Stream::kReadings, i);
    for (int i = 0; i < 5; ++i) append_ok(*outbox, Stream::kAlerts, i);
    auto all = pending_keys(*outbox);
    ASSERT_EQ(all.size(), 15u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(all[i], std::make_pair(Stream::kAlerts, std::int64_t{i + 1}));
    for (int i = 0; i < 10; ++i)
      EXPECT_EQ(all[5 + i], std::make_pair(Stream::kReadings, std::int64_t{i + 1}));

    const std::size_t segments_before = segment_count(dir.path(), Stream::kReadings);
    ASSERT_GT(segments_before, 2u);
    api::RecordAck ack;
    ack.acked[Stream::kReadings] = 6;
    ack.acked[Stream::kAlerts] = 5;
    auto acknowledged = outbox->acknowledge(ack);
    ASSERT_TRUE(acknowledged.ok());
    EXPECT_EQ(*acknowledged, 11);
    EXPECT_EQ(*outbox->acknowledge(ack), 0) << "the same answer twice acknowledges nothing more";
    EXPECT_LT(segment_count(dir.path(), Stream::kReadings), segments_before);
    EXPECT_EQ(segment_count(dir.path(), Stream::kAlerts), 0u);
  }
  auto outbox = open_outbox(dir.path(), options);
  std::vector<std::pair<Stream, std::int64_t>> expected;
  for (int seq = 7; seq <= 10; ++seq) expected.emplace_back(Stream::kReadings, seq);
  EXPECT_EQ(pending_keys(*outbox), expected);
  EXPECT_EQ(outbox->stats().streams.at(Stream::kReadings).pending_records, 4);
  // The bodies come back as they went in.
  auto batch = outbox->next_batch(1, SIZE_MAX);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->records.size(), 1u);
  EXPECT_EQ(batch->records[0].body, reading_body(6));
  EXPECT_EQ(batch->records[0].at_ms, 1'006);
  EXPECT_EQ(append_ok(*outbox, Stream::kAlerts, 9), 6) << "the alerts' seq survives with no segment left";
}

TEST(OutboxTest, BatchesStopAtTheirLimitsButHoldAtLeastOneRecord) {
  TempDir dir;
  auto outbox = open_outbox(dir.path());
  for (int i = 0; i < 5; ++i) append_ok(*outbox, Stream::kImages, i);
  append_ok(*outbox, Stream::kAlerts, 0);
  auto one = outbox->next_batch(10, 10);  // 10 bytes: smaller than any record
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->records.size(), 1u);
  EXPECT_EQ(one->records[0].stream, Stream::kAlerts);
  auto three = outbox->next_batch(3, SIZE_MAX);
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three->records.size(), 3u);
  const std::size_t image_bytes =
      api::DeviceRecord{Stream::kImages, 1, 1000, image_body(0)}.to_json().dump().size();
  auto two_images = outbox->next_batch(100, 2 * image_bytes);
  ASSERT_TRUE(two_images.ok());
  EXPECT_EQ(two_images->records.size(), 2u) << "the alert and one image fit, a second image does not";
}

TEST(OutboxTest, SeqFloorSurvivesWhenEverySegmentWasEvicted) {
  TempDir dir;
  OutboxOptions options;
  options.max_bytes = 4000;
  options.segment_bytes = 1000;
  {
    auto outbox = open_outbox(dir.path(), options);
    for (int i = 0; i < 3; ++i) append_ok(*outbox, Stream::kImages, i);
    // Alerts take all the room: every image segment goes.
    int alerts = 0;
    while (outbox->stats().streams.at(Stream::kImages).bytes > 0)
      append_ok(*outbox, Stream::kAlerts, alerts++);
    EXPECT_EQ(segment_count(dir.path(), Stream::kImages), 0u);
    EXPECT_EQ(outbox->stats().streams.at(Stream::kImages).evicted_records, 3);
    api::RecordAck ack;
    ack.acked[Stream::kAlerts] = alerts;
    ASSERT_TRUE(outbox->acknowledge(ack).ok());
  }
  auto outbox = open_outbox(dir.path(), options);
  EXPECT_EQ(append_ok(*outbox, Stream::kImages, 3), 4);
}

// A long mixed load with a small cap: after every append the segment files
// on disk stay within the cap and match what the outbox counts; alerts and
// actuations are never evicted. Readings, the highest evictable stream, may
// evict every stream below them, so those fill the outbox in the end and a
// lower stream's record finds no room of its own: refused, never a reading.
TEST(OutboxTest, CapIsNeverExceededUnderALongMixedLoad) {
  TempDir dir;
  OutboxOptions options;
  options.max_bytes = 60'000;
  options.segment_bytes = 2'000;
  auto outbox = open_outbox(dir.path(), options);
  std::mt19937 random(7);
  std::map<Stream, std::vector<std::int64_t>> kept_seqs;
  std::map<Stream, std::int64_t> refused;
  for (int i = 0; i < 3000; ++i) {
    const int pick = static_cast<int>(random() % 100);
    const Stream stream = pick < 3    ? Stream::kAlerts
                          : pick < 5  ? Stream::kActuations
                          : pick < 45 ? Stream::kReadings
                          : pick < 60 ? Stream::kPlants
                          : pick < 80 ? Stream::kTelemetry
                                      : Stream::kImages;
    const Json body = stream == Stream::kImages ? image_body(i, 200 + random() % 1500) : body_for(stream, i);
    auto seq = outbox->append(stream, i, body);
    if (seq.ok() && !api::may_evict(stream)) kept_seqs[stream].push_back(*seq);
    if (!seq.ok()) {
      EXPECT_EQ(seq.error().code, ErrorCode::kTooLarge) << seq.error().message;
      ++refused[stream];
    }
    const std::uint64_t on_disk = segment_bytes_on_disk(dir.path());
    ASSERT_LE(on_disk, options.max_bytes) << "after append " << i;
    ASSERT_EQ(on_disk, outbox->stats().total_bytes) << "after append " << i;
    if (i % 500 == 499) {  // the uploader catches up now and then with part of it
      api::RecordAck ack;
      ack.acked[Stream::kReadings] = outbox->stats().streams.at(Stream::kReadings).last_seq - 10;
      ASSERT_TRUE(outbox->acknowledge(ack).ok());
    }
  }
  const OutboxStats stats = outbox->stats();
  for (Stream stream : api::kStreams) {
    EXPECT_EQ(stats.streams.at(stream).refused_records, refused[stream]);
    if (stream <= Stream::kReadings) {
      EXPECT_EQ(refused[stream], 0) << api::stream_name(stream);
    }
  }
  EXPECT_GT(stats.streams.at(Stream::kImages).evicted_segments, 0);
  for (Stream stream : {Stream::kAlerts, Stream::kActuations}) {
    EXPECT_EQ(stats.streams.at(stream).evicted_records, 0);
    std::vector<std::int64_t> pending;
    for (const auto& [s, seq] : pending_keys(*outbox))
      if (s == stream) pending.push_back(seq);
    EXPECT_EQ(pending, kept_seqs[stream]) << api::stream_name(stream);
  }
}

// Fills the outbox with every evictable stream, then appends alerts: the
// streams give way images first, then telemetry, plants and readings, each
// only once every stream below it is gone.
TEST(OutboxTest, EvictsImagesFirstThenTelemetryThenPlantsThenReadings) {
  TempDir dir;
  OutboxOptions options;
  options.max_bytes = 20'000;
  options.segment_bytes = 800;
  auto outbox = open_outbox(dir.path(), options);
  const std::vector<Stream> eviction_order = {Stream::kImages, Stream::kTelemetry, Stream::kPlants,
                                              Stream::kReadings};
  for (int i = 0; i < 12; ++i)
    for (Stream stream : eviction_order) append_ok(*outbox, stream, i);
  ASSERT_EQ(outbox->stats().streams.at(Stream::kImages).evicted_segments, 0) << "the fill must fit";

  for (int i = 0; outbox->stats().streams.at(Stream::kReadings).bytes > 0; ++i) {
    ASSERT_LT(i, 2000);
    append_ok(*outbox, Stream::kAlerts, i);
    const OutboxStats stats = outbox->stats();
    for (std::size_t s = 0; s < eviction_order.size(); ++s) {
      if (stats.streams.at(eviction_order[s]).evicted_segments == 0) continue;
      for (std::size_t lower = 0; lower < s; ++lower)
        EXPECT_EQ(stats.streams.at(eviction_order[lower]).bytes, 0u)
            << api::stream_name(eviction_order[s]) << " evicted while "
            << api::stream_name(eviction_order[lower]) << " still holds records";
    }
  }
  for (Stream stream : eviction_order) EXPECT_GT(outbox->stats().streams.at(stream).evicted_records, 0);
}

TEST(OutboxTest, ALowerPriorityRecordNeverEvictsAHigherOne) {
  TempDir dir;
  OutboxOptions options;
  options.max_bytes = 6'000;
  options.segment_bytes = 1'000;
  auto outbox = open_outbox(dir.path(), options);
  while (outbox->stats().total_bytes + 200 < options.max_bytes) append_ok(*outbox, Stream::kReadings, 1);
  const std::int64_t readings = outbox->stats().streams.at(Stream::kReadings).pending_records;
  auto image = outbox->append(Stream::kImages, 0, image_body(0, 1000));
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.error().code, ErrorCode::kTooLarge);
  EXPECT_EQ(outbox->stats().streams.at(Stream::kImages).refused_records, 1);
  EXPECT_EQ(outbox->stats().streams.at(Stream::kReadings).pending_records, readings);
}

TEST(OutboxTest, RefusesOnceOnlyAlertsFillItAndCountsTheRefusals) {
  TempDir dir;
  OutboxOptions options;
  options.max_bytes = 5'000;
  options.segment_bytes = 1'000;
  auto outbox = open_outbox(dir.path(), options);
  for (int i = 0; i < 3; ++i) append_ok(*outbox, Stream::kTelemetry, i);
  std::int64_t last_alert = 0;
  Result<std::int64_t> appended = std::int64_t{0};
  for (int i = 0; appended.ok(); ++i) {
    ASSERT_LT(i, 1000);
    appended = outbox->append(Stream::kAlerts, i, alert_body(i));
    if (appended.ok()) last_alert = *appended;
  }
  EXPECT_EQ(appended.error().code, ErrorCode::kTooLarge);
  EXPECT_NE(appended.error().message.find("outbox is full"), std::string::npos) << appended.error().message;
  auto reading = outbox->append(Stream::kReadings, 0, reading_body(0));
  ASSERT_FALSE(reading.ok());
  auto huge = outbox->append(Stream::kAlerts, 0, image_body(0, 10'000));  // larger than the whole outbox
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.error().message.find("larger than the outbox"), std::string::npos) << huge.error().message;

  const OutboxStats stats = outbox->stats();
  EXPECT_EQ(stats.streams.at(Stream::kAlerts).refused_records, 2);
  EXPECT_EQ(stats.streams.at(Stream::kReadings).refused_records, 1);
  EXPECT_EQ(stats.streams.at(Stream::kTelemetry).bytes, 0u);
  EXPECT_EQ(stats.streams.at(Stream::kAlerts).pending_records, last_alert);
  EXPECT_LE(segment_bytes_on_disk(dir.path()), options.max_bytes);
  // Room again once the server has them; refused records took no seq.
  api::RecordAck ack;
  ack.acked[Stream::kAlerts] = last_alert;
  ASSERT_TRUE(outbox->acknowledge(ack).ok());
  EXPECT_EQ(append_ok(*outbox, Stream::kAlerts, 0), last_alert + 1);
}

TEST(OutboxTest, ATornTailIsCutOffAndLaterAppendsWork) {
  TempDir dir;
  fs::path segment;
  {
    auto outbox = open_outbox(dir.path());
    for (int i = 0; i < 5; ++i) append_ok(*outbox, Stream::kReadings, i);
    ASSERT_EQ(segment_count(dir.path(), Stream::kReadings), 1u);
    segment = fs::directory_iterator(dir / "readings")->path();
  }
  // The last record half-written, as a kill in the middle of write() leaves it.
  const std::uintmax_t whole = fs::file_size(segment);
  fs::resize_file(segment, whole - 7);
  {
    auto outbox = open_outbox(dir.path());
    EXPECT_EQ(outbox->stats().streams.at(Stream::kReadings).pending_records, 4);
    EXPECT_LT(fs::file_size(segment), whole - 7) << "the partial frame is truncated away";
    // Its seq was never sent (a batch makes its records durable first), so it is free again.
    EXPECT_EQ(append_ok(*outbox, Stream::kReadings, 5), 5);
    EXPECT_EQ(append_ok(*outbox, Stream::kReadings, 6), 6);
  }
  // Garbage after the last whole record: a torn header of a frame that never made it.
  const std::uintmax_t before_garbage = fs::file_size(segment);
  {
    std::ofstream out(segment, std::ios::binary | std::ios::app);
    out << canopy::testing::random_bytes(37, 9);
  }
  auto outbox = open_outbox(dir.path());
  EXPECT_EQ(fs::file_size(segment), before_garbage);
  EXPECT_EQ(append_ok(*outbox, Stream::kReadings, 7), 7);
  std::vector<std::pair<Stream, std::int64_t>> expected;
  for (int seq = 1; seq <= 7; ++seq) expected.emplace_back(Stream::kReadings, seq);
  EXPECT_EQ(pending_keys(*outbox), expected);
}

TEST(OutboxTest, ACorruptRecordEndsItsSegmentButNotTheOthers) {
  TempDir dir;
  OutboxOptions options;
  options.segment_bytes = 300;
  {
    auto outbox = open_outbox(dir.path(), options);
    for (int i = 0; i < 12; ++i) append_ok(*outbox, Stream::kReadings, i);
  }
  std::vector<fs::path> segments;
  for (const auto& entry : fs::directory_iterator(dir / "readings")) segments.push_back(entry.path());
  std::sort(segments.begin(), segments.end());
  ASSERT_GE(segments.size(), 3u);
  // Flip a byte inside the first segment's payload: its CRC no longer matches.
  std::string bytes = canopy::testing::read_bytes(segments[0]);
  bytes[12] = static_cast<char>(bytes[12] ^ 0x40);
  canopy::testing::write_bytes(segments[0], bytes);

  auto outbox = open_outbox(dir.path(), options);
  auto keys = pending_keys(*outbox);
  ASSERT_FALSE(keys.empty());
  EXPECT_GT(keys.front().second, 1) << "the corrupt record is not delivered";
  EXPECT_EQ(keys.back().second, 12);
  EXPECT_EQ(append_ok(*outbox, Stream::kReadings, 12), 13);
}

TEST(OutboxTest, OneProcessAtATimeAndASmallerCapEvictsAtOpen) {
  TempDir dir;
  {
    auto outbox = open_outbox(dir.path());
    auto second = Outbox::open(dir.path());
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, ErrorCode::kConflict);
    for (int i = 0; i < 40; ++i) append_ok(*outbox, Stream::kImages, i);
  }
  OutboxOptions small;
  small.max_bytes = 5'000;
  auto outbox = open_outbox(dir.path(), small);
  EXPECT_LE(segment_bytes_on_disk(dir.path()), small.max_bytes);
}

}  // namespace
}  // namespace canopy::outbox
