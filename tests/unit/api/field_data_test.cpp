// What operators read of the field's records: a stored record is its body
// with the envelope, in one flat JSON form both ways; alerts round-trip and
// refuse a state they do not know.
#include "api/field_data.h"

#include <gtest/gtest.h>

namespace canopy::api {
namespace {

TEST(FieldDataTest, AStoredRecordIsItsBodyWithTheEnvelope) {
  StoredActuation stored{7, 1'767'225'600'000, "2026-01-01T00:00:05Z",
                         ActuationEvent{"zone-1", true, "deficit", 0.18}};
  const Json json = stored.to_json();
  EXPECT_EQ(json["zone"], "zone-1");
  EXPECT_EQ(json["seq"], 7);
  auto back = StoredActuation::from_json(json);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->to_json(), json);

  Json no_seq = json;
  no_seq.erase("seq");
  EXPECT_FALSE(StoredActuation::from_json(no_seq).ok());
  Json bad_body = json;
  bad_body.erase("zone");
  auto refused = StoredActuation::from_json(bad_body);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("zone"), std::string::npos) << refused.error().message;
}

TEST(FieldDataTest, EachStoredStreamHasItsOwnPath) {
  EXPECT_EQ(record_kind<Reading>().stream, Stream::kReadings);
  EXPECT_EQ(record_kind<Reading>().subject, "sensor");
  EXPECT_EQ(record_kind<ActuationEvent>().path, "irrigation");
  EXPECT_EQ(record_kind<Telemetry>().subject, "");
  EXPECT_EQ(record_kind<PlantChangeEvent>().stream, Stream::kPlants);
}

TEST(FieldDataTest, AnAlertRoundTripsAndItsStateIsChecked) {
  Alert alert;
  alert.id = 3;
  alert.device_id = "3f2a";
  alert.zone = "zone-1";
  alert.condition = "diseased";
  alert.severity = "critical";
  alert.plants = 2;
  alert.state = AlertState::kCleared;
  alert.raised_at_ms = 1000;
  alert.cleared_at_ms = 2000;
  alert.acked_by = "night-shift";
  alert.acked_at = "2026-01-01T00:10:00Z";
  auto back = Alert::from_json(alert.to_json());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->to_json(), alert.to_json());

  Json open = alert.to_json();
  open["cleared_at_ms"] = nullptr;
  open["state"] = "open";
  auto still_open = Alert::from_json(open);
  ASSERT_TRUE(still_open.ok()) << still_open.error().message;
  EXPECT_FALSE(still_open->cleared_at_ms);

  open["state"] = "forgotten";
  auto refused = Alert::from_json(open);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("'forgotten' must be open, acked or cleared"), std::string::npos)
      << refused.error().message;
  for (AlertState state : {AlertState::kOpen, AlertState::kAcked, AlertState::kCleared})
    EXPECT_EQ(parse_alert_state(alert_state_name(state)), state);
}

}  // namespace
}  // namespace canopy::api
