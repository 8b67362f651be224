// The field loop's records: every body round-trips through its one JSON
// form, and a batch with one bad record is refused whole, naming the record
// and the field.
#include "api/device_data.h"

#include <gtest/gtest.h>

namespace canopy::api {
namespace {

DeviceRecord reading_record(std::int64_t seq, std::optional<double> value) {
  Reading reading;
  reading.sensor = "soil-a";
  reading.kind = "soil_moisture";
  reading.unit = "m3/m3";
  reading.value = value;
  if (!value) {
    reading.status = "stale";
    reading.reason = "no reading for 600 s";
  }
  return {Stream::kReadings, seq, 1'700'000'000'000 + seq, reading.to_json()};
}

TEST(DeviceDataTest, EveryStreamHasOneNameBothWays) {
  for (Stream stream : kStreams) EXPECT_EQ(parse_stream(stream_name(stream)), stream);
  EXPECT_FALSE(parse_stream("logs"));
  EXPECT_FALSE(may_evict(Stream::kAlerts));
  EXPECT_FALSE(may_evict(Stream::kActuations));
  EXPECT_TRUE(may_evict(Stream::kImages));
}

TEST(DeviceDataTest, ABatchRoundTrips) {
  RecordBatch batch;
  batch.records.push_back(reading_record(1, 0.21));
  batch.records.push_back(reading_record(2, std::nullopt));
  AlertEvent alert;
  alert.zone = "north";
  alert.condition = "diseased";
  alert.severity = "critical";
  alert.plants = 2;
  batch.records.push_back({Stream::kAlerts, 1, 5, alert.to_json()});
  Telemetry telemetry;
  telemetry.period_s = 60;
  telemetry.values["inference_ms"] = 12.5;
  telemetry.confidence_histogram[9] = 4;
  batch.records.push_back({Stream::kTelemetry, 1, 6, telemetry.to_json()});

  auto parsed = RecordBatch::from_json(batch.to_json());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  ASSERT_EQ(parsed->records.size(), 4u);
  EXPECT_EQ(parsed->to_json(), batch.to_json());
  auto back = Reading::from_json(parsed->records[1].body);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->value);
  EXPECT_EQ(back->status, "stale");

  RecordAck ack;
  ack.acked[Stream::kReadings] = 2;
  ack.acked[Stream::kAlerts] = 1;
  auto ack_back = RecordAck::from_json(ack.to_json());
  ASSERT_TRUE(ack_back.ok());
  EXPECT_EQ(ack_back->acked, ack.acked);
}

TEST(DeviceDataTest, OneBadRecordRefusesTheBatchNamingIt) {
  RecordBatch batch;
  batch.records.push_back(reading_record(1, 0.2));
  DeviceRecord valid_without_value = reading_record(2, std::nullopt);
  valid_without_value.body["status"] = "valid";
  batch.records.push_back(valid_without_value);
  auto refused = RecordBatch::from_json(batch.to_json());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("records[1]"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("value"), std::string::npos) << refused.error().message;

  auto expect_refused = [](Json record, const std::string& says) {
    auto parsed = DeviceRecord::from_json(record);
    ASSERT_FALSE(parsed.ok()) << record.dump();
    EXPECT_NE(parsed.error().message.find(says), std::string::npos) << parsed.error().message;
  };
  Json good = reading_record(3, 0.3).to_json();
  Json bad = good;
  bad["stream"] = "logs";
  expect_refused(bad, "stream");
  bad = good;
  bad["seq"] = 0;
  expect_refused(bad, "seq");
  bad = good;
  bad["body"]["value"] = "wet";
  expect_refused(bad, "value");
  bad = good;
  bad["stream"] = "alerts";  // a reading's body is not an alert
  expect_refused(bad, "condition");
  Json alert = {{"stream", "alerts"},
                {"seq", 1},
                {"at_ms", 1},
                {"body", {{"condition", "sensor"}, {"raised", true}, {"severity", "warning"}}}};
  expect_refused(alert, "subject");
  Json image = {{"stream", "images"},
                {"seq", 1},
                {"at_ms", 1},
                {"body", {{"camera", "c"}, {"width", 100000}, {"height", 1}, {"jpeg", "AAAA"}}}};
  expect_refused(image, "width");

  Json too_many = {{"records", Json::array()}};
  for (std::size_t i = 0; i <= kMaxRecordsPerBatch; ++i) too_many["records"].push_back(good);
  EXPECT_FALSE(RecordBatch::from_json(too_many).ok());
}

}  // namespace
}  // namespace canopy::api
