// The field data area on its own, with a manual clock: records are stored
// once however often a batch arrives, a batch is stored whole or not at all,
// alerts open, update, clear and are acknowledged, and reads filter and
// order as docs/field.md says. No HTTP, no fleet.
#include "server/field_data/field_data.h"

#include <gtest/gtest.h>

#include "common/time.h"
#include "test_support.h"

namespace canopy::server {
namespace {

using api::Stream;

api::DeviceRecord reading(std::int64_t seq, const std::string& sensor, double value, std::int64_t at_ms) {
  return {Stream::kReadings, seq, at_ms,
          api::Reading{sensor, "soil_moisture", "m3/m3", value, "valid", ""}.to_json()};
}

api::DeviceRecord alert(std::int64_t seq, bool raised, const std::string& severity = "warning",
                        const std::string& zone = "zone-1") {
  return {Stream::kAlerts, seq, 1000 * seq,
          api::AlertEvent{zone, "water-stressed", "", raised, severity, 3, "dry"}.to_json()};
}

api::DeviceRecord actuation(std::int64_t seq, const std::string& zone, bool open) {
  return {Stream::kActuations, seq, 1000 * seq, api::ActuationEvent{zone, open, "deficit", 0.12}.to_json()};
}

class FieldDataTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  void reopen(FieldDataOptions options = {}) {
    store_.reset();
    auto db = Database::open_in(dir_.path());
    ASSERT_TRUE(db.ok()) << db.error().message;
    auto store = FieldData::open(std::move(db).value(), clock_, options);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
  }

  api::RecordAck store(const std::string& device, std::vector<api::DeviceRecord> records) {
    auto ack = store_->store(device, api::RecordBatch{std::move(records)});
    EXPECT_TRUE(ack.ok()) << ack.error().message;
    return ack.ok() ? *ack : api::RecordAck{};
  }

  std::vector<api::StoredReading> readings(const std::string& device, const RecordQuery& query = {}) {
    auto rows = store_->records<api::Reading>(device, query);
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    return rows.ok() ? *rows : std::vector<api::StoredReading>{};
  }

  std::vector<api::Alert> alerts(const AlertQuery& query = {}) {
    auto rows = store_->alerts(query);
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    return rows.ok() ? *rows : std::vector<api::Alert>{};
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<FieldData> store_;
};

TEST_F(FieldDataTest, ABatchSentTwiceIsStoredOnce) {
  const std::vector<api::DeviceRecord> batch = {
      reading(1, "soil-1", 0.20, 1000), reading(2, "soil-1", 0.21, 2000), actuation(1, "zone-1", true)};
  api::RecordAck first = store("dev-a", batch);
  EXPECT_EQ(first.acked.at(Stream::kReadings), 2);
  EXPECT_EQ(first.acked.at(Stream::kActuations), 1);
  clock_.advance_ms(60'000);
  api::RecordAck again = store("dev-a", batch);
  EXPECT_EQ(again.acked, first.acked) << "records stored before count as stored";

  auto rows = readings("dev-a");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].seq, 2) << "newest first";
  EXPECT_DOUBLE_EQ(rows[0].body.value.value_or(0), 0.21);
  EXPECT_EQ(rows[0].received_at, format_utc(clock_.wall_ms() - 60'000)) << "the first arrival is kept";
  EXPECT_TRUE(readings("dev-b").empty()) << "sequence numbers are per device";

  store("dev-b", {reading(1, "soil-1", 0.30, 1000)});
  EXPECT_EQ(readings("dev-b").size(), 1u);
  EXPECT_EQ(readings("dev-a").size(), 2u);
}

TEST_F(FieldDataTest, ABatchThatFailsStoresNothing) {
  // A raise whose body does not parse (the route would have refused it):
  // the store fails in the middle of the batch's transaction.
  api::DeviceRecord broken = alert(2, true);
  broken.body["severity"] = "apocalyptic";
  auto refused =
      store_->store("dev-a", api::RecordBatch{{reading(1, "soil-1", 0.2, 1000), alert(1, true), broken}});
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(readings("dev-a").empty());
  EXPECT_TRUE(alerts().empty()) << "the alert raised earlier in the batch is rolled back too";
}

TEST_F(FieldDataTest, AlertsOpenUpdateClearAndAreAcknowledged) {
  store("dev-a", {alert(1, true, "warning")});
  auto open = alerts();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].state, api::AlertState::kOpen);
  EXPECT_EQ(open[0].device_id, "dev-a");
  EXPECT_EQ(open[0].raised_at_ms, 1000);

  store("dev-a", {alert(2, true, "critical")});
  auto raised_again = alerts();
  ASSERT_EQ(raised_again.size(), 1u) << "a raise of an open alert updates it";
  EXPECT_EQ(raised_again[0].severity, "critical");

  clock_.advance_ms(5000);
  auto acked = store_->ack_alert(open[0].id, "operator");
  ASSERT_TRUE(acked.ok()) << acked.error().message;
  EXPECT_EQ(acked->state, api::AlertState::kAcked);
  EXPECT_EQ(acked->acked_by, "operator");
  EXPECT_EQ(acked->acked_at, format_utc(clock_.wall_ms()));
  auto acked_again = store_->ack_alert(open[0].id, "someone-else");
  ASSERT_TRUE(acked_again.ok());
  EXPECT_EQ(acked_again->acked_by, "operator") << "the first acknowledgement stands";

  store("dev-a", {alert(3, false)});
  auto cleared = alerts();
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].state, api::AlertState::kCleared);
  EXPECT_EQ(cleared[0].cleared_at_ms, 3000);
  EXPECT_EQ(cleared[0].acked_by, "operator");
  auto too_late = store_->ack_alert(open[0].id, "operator");
  ASSERT_FALSE(too_late.ok());
  EXPECT_EQ(too_late.error().code, ErrorCode::kConflict);
  auto unknown = store_->ack_alert(99, "operator");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);

  store("dev-a", {alert(4, true)});
  EXPECT_EQ(alerts().size(), 2u) << "a raise after a clear is a new alert";
  EXPECT_EQ(alerts({"", api::AlertState::kOpen}).size(), 1u);
  EXPECT_EQ(alerts({"", api::AlertState::kCleared}).size(), 1u);
  EXPECT_TRUE(alerts({"dev-b", std::nullopt}).empty());
}

TEST_F(FieldDataTest, AlertsApplyInTheDevicesOrderWhateverTheBatchOrder) {
  store("dev-a", {alert(2, false), alert(1, true), alert(3, true, "warning", "zone-2")});
  auto rows = alerts();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].zone, "zone-2") << "newest first";
  EXPECT_EQ(rows[0].state, api::AlertState::kOpen);
  EXPECT_EQ(rows[1].state, api::AlertState::kCleared) << "raised by seq 1, cleared by seq 2";
  store("dev-a", {alert(1, true)});
  EXPECT_EQ(alerts({"", api::AlertState::kOpen}).size(), 1u) << "a raise sent again does not reopen it";
}

TEST_F(FieldDataTest, ReadsFilterBySubjectTimeAndLimit) {
  store("dev-a",
        {reading(1, "soil-1", 0.1, 1000), reading(2, "soil-2", 0.2, 2000), reading(3, "soil-1", 0.3, 3000),
         actuation(1, "zone-1", true), actuation(2, "zone-2", true), actuation(3, "zone-1", false)});
  EXPECT_EQ(readings("dev-a", {"soil-1"}).size(), 2u);
  EXPECT_EQ(readings("dev-a", {"", 2000}).size(), 2u);
  auto newest = readings("dev-a", {"", 0, 1});
  ASSERT_EQ(newest.size(), 1u);
  EXPECT_EQ(newest[0].seq, 3);
  auto zone = store_->records<api::ActuationEvent>("dev-a", {"zone-1"});
  ASSERT_TRUE(zone.ok());
  ASSERT_EQ(zone->size(), 2u);
  EXPECT_FALSE((*zone)[0].body.open);
  EXPECT_TRUE((*zone)[1].body.open);
}

TEST_F(FieldDataTest, OnlyTheNewestReadingsAreKeptPerDevice) {
  reopen({.max_readings = 2, .max_telemetry = 0, .max_images = 0});
  store("dev-a", {reading(1, "soil-1", 0.1, 1000), reading(2, "soil-1", 0.2, 2000),
                  reading(3, "soil-1", 0.3, 3000), actuation(1, "zone-1", true)});
  store("dev-b", {reading(1, "soil-1", 0.1, 1000)});
  auto kept = readings("dev-a");
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[1].seq, 2);
  api::RecordAck resent = store("dev-a", {reading(1, "soil-1", 0.1, 1000), actuation(2, "zone-1", false)});
  EXPECT_EQ(resent.acked.at(Stream::kReadings), 1) << "a record from below the window counts as stored";
  EXPECT_EQ(readings("dev-a").size(), 2u) << "and is not kept";
  EXPECT_EQ(readings("dev-b").size(), 1u) << "the window is per device";
  auto valves = store_->records<api::ActuationEvent>("dev-a", {});
  ASSERT_TRUE(valves.ok());
  EXPECT_EQ(valves->size(), 2u) << "irrigation history is kept whole";
}

TEST_F(FieldDataTest, RecordsAndAlertsSurviveAReopen) {
  store("dev-a", {reading(1, "soil-1", 0.1, 1000), alert(1, true)});
  reopen();
  EXPECT_EQ(readings("dev-a").size(), 1u);
  EXPECT_EQ(alerts().size(), 1u);
  store("dev-a", {reading(1, "soil-1", 0.1, 1000), alert(1, true)});
  EXPECT_EQ(readings("dev-a").size(), 1u);
  EXPECT_EQ(alerts().size(), 1u);
}

}  // namespace
}  // namespace canopy::server
