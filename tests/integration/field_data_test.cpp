// The records devices send, against the real server: a device enrolled as
// the agent enrolls posts batches with curl and its device token; the same
// batch twice is stored once, a bad or cut-off batch stores nothing, and
// the canopy CLI shows what was stored and acknowledges alerts. An operator
// sets a device's field configuration with the CLI; the device's next poll
// carries the newest version. Samples in a batch go to the sample store,
// and come back through its routes and `canopy samples`.
#include <opencv2/imgproc.hpp>

#include "api/samples.h"
#include "common/hash.h"
#include "common/keys.h"
#include "fleet_fixture.h"
#include "vision/image_codec.h"

namespace canopy::testing {
namespace {

class FieldDataTest : public FleetFixture {
 protected:
  // POSTs `body` to /api/v1/device/records with `token` as the bearer, through curl.
  HttpResult post_records(const std::string& token, const std::string& body) {
    const fs::path file = work_ / "batch.json";
    write_bytes(file, body);
    return curl("-X POST -H 'Authorization: Bearer " + token +
                    "' -H 'Content-Type: application/json' --data-binary @" + file.string(),
                "/api/v1/device/records");
  }

  static Json record(const std::string& stream, int seq, const Json& body) {
    return {{"stream", stream}, {"seq", seq}, {"at_ms", 1'767'225'600'000 + 60'000 * seq}, {"body", body}};
  }
  static Json reading(int seq, const std::string& sensor, double value) {
    return record("readings", seq,
                  {{"sensor", sensor}, {"kind", "soil_moisture"}, {"unit", "m3/m3"}, {"value", value}});
  }
  static Json alert(int seq, bool raised) {
    return record("alerts", seq,
                  {{"zone", "zone-1"},
                   {"condition", "water-stressed"},
                   {"raised", raised},
                   {"severity", "warning"},
                   {"plants", 4},
                   {"message", "4 plants water-stressed in zone-1"}});
  }
  // One record of every stream an operator reads, and a frame.
  static Json field_batch() {
    return {{"records",
             {reading(1, "soil-1", 0.21), reading(2, "soil-2", 0.34), alert(1, true),
              record("actuations", 1,
                     {{"zone", "zone-1"}, {"open", true}, {"reason", "deficit 12 mm"}, {"theta", 0.21}}),
              record("plants", 1,
                     {{"camera", "cam-1"},
                      {"zone", "zone-1"},
                      {"plant_id", 7},
                      {"cx", 0.4},
                      {"cy", 0.6},
                      {"from", "healthy"},
                      {"to", "water-stressed"}}),
              record("telemetry", 1,
                     {{"period_s", 60},
                      {"values", {{"cpu_percent", 12.5}, {"inference_ms", 41.0}}},
                      {"confidence_histogram", {0, 0, 0, 0, 1, 2, 3, 4, 5, 6}}}),
              record("images", 1,
                     {{"camera", "cam-1"},
                      {"reason", "alert"},
                      {"width", 2},
                      {"height", 2},
                      {"jpeg", "/9j/4AAQ"}})}}};
  }

  static Json json_of(const HttpResult& result) {
    auto json = parse_json(result.body);
    return json.ok() ? *json : Json();
  }

  Json readings(const SimDevice& device) {
    return body_of(admin("GET", "/api/v1/devices/" + device.id + "/readings"));
  }

  // A new API key of the reader role, made with the CLI.
  std::string reader_key() {
    auto created = cli("keys create --role reader --name viewer");
    EXPECT_EQ(created.exit_code, 0) << created.output;
    const auto start = created.output.find("cnp_");
    if (start == std::string::npos) return "";
    return created.output.substr(start, created.output.find('\n', start) - start);
  }

  // PUTs `text` as the field configuration of `device_id` with `key`, through
  // curl, as a form would send it (the content type does not matter).
  HttpResult put_field_config(const std::string& key, const std::string& device_id, const std::string& text) {
    const fs::path file = work_ / "field-config.yaml";
    write_bytes(file, text);
    return curl("-X PUT -H 'X-API-KEY: " + key + "' --data-binary @" + file.string(),
                "/api/v1/devices/" + device_id + "/field-config");
  }
};

TEST_F(FieldDataTest, ABatchIsStoredOnceAndABadOneNotAtAll) {
  SimDevice device = enroll("cam", enrollment_token("north-field"));
  const std::string batch = field_batch().dump();
  auto first = post_records(device.token, batch);
  ASSERT_EQ(first.status, 200) << first.body;
  const Json expected = {
      {"acked",
       {{"alerts", 1}, {"actuations", 1}, {"readings", 2}, {"plants", 1}, {"telemetry", 1}, {"images", 1}}}};
  EXPECT_EQ(json_of(first), expected);
  auto again = post_records(device.token, batch);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json_of(again), expected) << "what was stored before counts as stored";
  EXPECT_EQ(readings(device)["readings"].size(), 2u);
  auto alerts = body_of(admin("GET", "/api/v1/alerts?device=" + device.id));
  EXPECT_EQ(alerts["alerts"].size(), 1u) << alerts.dump();

  // One bad record refuses the batch, the good record before it included.
  Json bad_value = reading(4, "soil-1", 0.3);
  bad_value["body"].erase("value");
  auto refused =
      post_records(device.token, Json{{"records", {reading(3, "soil-1", 0.25), bad_value}}}.dump());
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("records[1]"), std::string::npos) << "the message names the record\n"
                                                                << refused.body;
  auto cut_off = post_records(device.token, batch.substr(0, batch.size() / 2));
  EXPECT_EQ(cut_off.status, 400) << cut_off.body;
  EXPECT_EQ(readings(device)["readings"].size(), 2u) << "nothing of a refused batch is stored";

  auto wrong_token = post_records(device.token + "x", batch);
  EXPECT_EQ(wrong_token.status, 401) << wrong_token.body;
  auto api_key = post_records(ServerProcess::kAdminKey, batch);
  EXPECT_EQ(api_key.status, 401) << "API keys are refused on device routes\n" << api_key.body;
  auto too_large = post_records(device.token, std::string(17u << 20, ' '));
  EXPECT_EQ(too_large.status, 413) << too_large.body;

  EXPECT_EQ(admin("GET", "/api/v1/devices/0000000000000000/readings").status, 404);
  EXPECT_EQ(admin("GET", "/api/v1/devices/" + device.id + "/readings?limit=1001").status, 400);
  EXPECT_EQ(admin("GET", "/api/v1/alerts?state=forgotten").status, 400);
  auto one = body_of(admin("GET", "/api/v1/devices/" + device.id + "/readings?sensor=soil-2&limit=1"));
  ASSERT_EQ(one["readings"].size(), 1u) << one.dump();
  EXPECT_EQ(one["readings"][0]["value"], 0.34);

  ASSERT_EQ(admin("POST", "/api/v1/devices/" + device.id + "/revoke").status, 200);
  EXPECT_EQ(post_records(device.token, batch).status, 401) << "a revoked device sends nothing more";
}

TEST_F(FieldDataTest, TheCliShowsFieldDataAndAcknowledgesAlerts) {
  SimDevice device = enroll("cam", enrollment_token("north-field"));
  ASSERT_EQ(post_records(device.token, field_batch().dump()).status, 200);

  auto shown = cli("device readings " + device.id + " --sensor soil-1 --limit 5");
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_NE(shown.output.find("soil-1"), std::string::npos) << shown.output;
  EXPECT_NE(shown.output.find("0.21"), std::string::npos) << shown.output;
  EXPECT_EQ(shown.output.find("soil-2"), std::string::npos) << shown.output;
  auto telemetry = cli("device telemetry " + device.id + " --limit 1");
  ASSERT_EQ(telemetry.exit_code, 0) << telemetry.output;
  EXPECT_NE(telemetry.output.find("cpu_percent=12.5"), std::string::npos) << telemetry.output;
  auto irrigation = cli("device irrigation " + device.id + " --zone zone-1");
  ASSERT_EQ(irrigation.exit_code, 0) << irrigation.output;
  EXPECT_NE(irrigation.output.find("deficit 12 mm"), std::string::npos) << irrigation.output;
  auto plants = cli("--json device plants " + device.id);
  ASSERT_EQ(plants.exit_code, 0) << plants.output;
  EXPECT_NE(plants.output.find("\"plant_id\": 7"), std::string::npos) << plants.output;
  auto unknown = cli("device readings 0000000000000000");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("no device"), std::string::npos) << unknown.output;

  auto listed = cli("--json alerts list --device " + device.id + " --state open");
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  auto alerts = parse_json(listed.output.substr(listed.output.find('{')));
  ASSERT_TRUE(alerts.ok()) << listed.output;
  ASSERT_EQ((*alerts)["alerts"].size(), 1u) << listed.output;
  const std::string id = std::to_string((*alerts)["alerts"][0].value("id", 0));

  const std::string reader = reader_key();
  ASSERT_FALSE(reader.empty());
  auto as_reader = call("POST", "/api/v1/alerts/" + id + "/ack", Json::object(), {"X-API-KEY: " + reader});
  EXPECT_EQ(as_reader.status, 403) << "a reader reads alerts but does not acknowledge them\n"
                                   << as_reader.body;

  auto acked = cli("alerts ack " + id);
  ASSERT_EQ(acked.exit_code, 0) << acked.output;
  EXPECT_NE(acked.output.find("alert " + id + " is acked by"), std::string::npos) << acked.output;
  auto table = cli("alerts list --state acked");
  EXPECT_NE(table.output.find("water-stressed"), std::string::npos) << table.output;
  EXPECT_EQ(cli("alerts list --state open").output.find("water-stressed"), std::string::npos);

  ASSERT_EQ(post_records(device.token, Json{{"records", {alert(2, false)}}}.dump()).status, 200);
  EXPECT_NE(cli("alerts list --state cleared").output.find("water-stressed"), std::string::npos);
  auto too_late = cli("alerts ack " + id);
  EXPECT_NE(too_late.exit_code, 0);
  EXPECT_NE(too_late.output.find("is cleared"), std::string::npos) << too_late.output;
}

TEST_F(FieldDataTest, AnOperatorSetsADevicesFieldConfigurationAndTheDeviceGetsTheNewest) {
  SimDevice device = enroll("cam", enrollment_token("north-field"));
  const std::string first = "zones:\n  - name: north\n    soil: loam\n";
  const std::string second = "zones:\n  - name: north\n    soil: clay   # r\xc3\xa9vis\xc3\xa9\n";
  write_bytes(work_ / "first.yaml", first);
  write_bytes(work_ / "second.yaml", second);
  auto none = cli("device field-config show " + device.id);
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.output.find("no field configuration"), std::string::npos) << none.output;
  auto before = device_call(device, "GET", "/api/v1/device/desired");
  ASSERT_EQ(before.status, 200);
  EXPECT_FALSE(body_of(before).contains("field_config")) << before.body;

  auto set_first = cli("device field-config set " + device.id + " " + (work_ / "first.yaml").string());
  ASSERT_EQ(set_first.exit_code, 0) << set_first.output;
  EXPECT_NE(set_first.output.find("field configuration version 1 set for device " + device.id),
            std::string::npos)
      << set_first.output;
  auto set_second = cli("device field-config set " + device.id + " " + (work_ / "second.yaml").string());
  ASSERT_EQ(set_second.exit_code, 0) << set_second.output;
  EXPECT_NE(set_second.output.find("field configuration version 2 set for device " + device.id),
            std::string::npos)
      << set_second.output;

  auto shown = cli("device field-config show " + device.id);
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_NE(shown.output.find(second), std::string::npos) << shown.output;
  auto shown_first = cli("device field-config show " + device.id + " --version 1");
  ASSERT_EQ(shown_first.exit_code, 0) << shown_first.output;
  EXPECT_NE(shown_first.output.find(first), std::string::npos) << shown_first.output;
  auto record = cli("--json device field-config show " + device.id);
  ASSERT_EQ(record.exit_code, 0) << record.output;
  auto json = parse_json(record.output.substr(record.output.find('{')));
  ASSERT_TRUE(json.ok()) << record.output;
  EXPECT_EQ((*json)["version"], 2);
  EXPECT_EQ((*json)["sha256"], sha256_hex(second));
  EXPECT_EQ((*json)["text"], second);
  EXPECT_FALSE((*json).value("set_by", "").empty()) << record.output;
  EXPECT_NE(cli("device field-config show " + device.id + " --version 3").exit_code, 0);

  // The device's poll, with its token, as the agent makes it.
  auto desired = curl(
      "-H 'Authorization: Bearer " + device.token + "' -H 'If-None-Match: " + before.header("etag") + "'",
      "/api/v1/device/desired");
  ASSERT_EQ(desired.status, 200) << "the configuration changed the body and its ETag\n" << desired.body;
  const Json config = json_of(desired)["field_config"];
  EXPECT_EQ(config["version"], 2) << desired.body;
  EXPECT_EQ(config["text"], second) << desired.body;

  auto too_large = put_field_config(ServerProcess::kAdminKey, device.id, std::string((64 << 10) + 1, '#'));
  EXPECT_EQ(too_large.status, 413) << too_large.body;
  auto empty = put_field_config(ServerProcess::kAdminKey, device.id, "");
  EXPECT_EQ(empty.status, 400) << empty.body;
  auto binary = put_field_config(ServerProcess::kAdminKey, device.id, std::string("zones: []\0\x01\x02", 13));
  EXPECT_EQ(binary.status, 400) << "a body that is not text is refused\n" << binary.body;
  auto not_utf8 = put_field_config(ServerProcess::kAdminKey, device.id, "zones: \xff\n");
  EXPECT_EQ(not_utf8.status, 400) << not_utf8.body;
  auto unknown = put_field_config(ServerProcess::kAdminKey, "0000000000000000", first);
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  const std::string reader = reader_key();
  ASSERT_FALSE(reader.empty());
  auto as_reader = put_field_config(reader, device.id, first);
  EXPECT_EQ(as_reader.status, 403) << "setting a configuration takes the publisher role\n" << as_reader.body;
  auto read_as_reader =
      curl("-H 'X-API-KEY: " + reader + "'", "/api/v1/devices/" + device.id + "/field-config");
  EXPECT_EQ(read_as_reader.status, 200) << read_as_reader.body;
  EXPECT_EQ(json_of(read_as_reader)["version"], 2) << "nothing refused became a version";
}

// A sample as a device's field loop makes it, with a JPEG of `shade`.
Json sample_record(const std::string& device_id, int seq, int shade, const std::string& strategy) {
  cv::Mat image(48, 64, CV_8UC3, cv::Scalar(40, shade, 60));
  cv::circle(image, {32, 24}, 10, cv::Scalar(30, 200, 40), cv::FILLED);
  api::Sample sample;
  sample.camera = "row-1";
  sample.captured_ms = 1'767'225'600'000 + 60'000 * seq;
  sample.id = api::sample_id(device_id, sample.camera, sample.captured_ms);
  sample.field = "north";
  sample.model = "detector:2";
  sample.predictions = {{"diseased", 0.31, 0.1, 0.1, 0.4, 0.4}};
  sample.shadow_predictions = std::vector<api::SampleBox>{{"healthy", 0.8, 0.1, 0.1, 0.4, 0.4}};
  sample.shadow_model = "detector:1";
  sample.sensors = {{"soil-north", 0.22}};
  sample.reasons = {{strategy, 1.0, ""}};
  sample.width = 64;
  sample.height = 48;
  sample.jpeg_base64 = base64_encode(vision::encode_image(image, vision::ImageFormat::kJpeg, 85).value());
  return {{"stream", "samples"}, {"seq", seq}, {"at_ms", sample.captured_ms}, {"body", sample.to_json()}};
}

TEST_F(FieldDataTest, SamplesGoToTheSampleStoreAndComeBackThroughTheCli) {
  SimDevice device = enroll("cam", enrollment_token("north-field"));
  const Json shadow_telemetry = record("telemetry", 1,
                                       {{"period_s", 60},
                                        {"values", {{"shadow.frames", 12.0}, {"shadow.agreement", 0.75}}},
                                        {"confidence_histogram", {0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}});
  const Json batch = {{"records",
                       {sample_record(device.id, 1, 100, "model_disagreement"),
                        sample_record(device.id, 2, 150, "uncertainty"), shadow_telemetry}}};
  auto stored = post_records(device.token, batch.dump());
  ASSERT_EQ(stored.status, 200) << stored.body;
  EXPECT_EQ(json_of(stored)["acked"]["samples"], 2);
  EXPECT_EQ(post_records(device.token, batch.dump()).status, 200) << "resent: stored once";

  // A bad sample refuses its batch: a cut JPEG, an id naming another device.
  Json cut = sample_record(device.id, 3, 90, "novelty");
  const std::string jpeg = base64_decode(cut["body"]["jpeg"].get<std::string>()).value();
  cut["body"]["jpeg"] = base64_encode(jpeg.substr(0, jpeg.size() / 2));
  auto refused = post_records(device.token, Json{{"records", {reading(9, "soil-1", 0.3), cut}}}.dump());
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("truncated"), std::string::npos) << refused.body;
  auto foreign = post_records(
      device.token, Json{{"records", {sample_record("0000000000000000", 4, 90, "novelty")}}}.dump());
  EXPECT_EQ(foreign.status, 400) << foreign.body;
  EXPECT_EQ(readings(device)["readings"].size(), 0u) << "nothing of a refused batch is stored";

  auto listed = cli("--json samples list --device " + device.id);
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  auto rows = parse_json(listed.output.substr(listed.output.find('{')));
  ASSERT_TRUE(rows.ok()) << listed.output;
  ASSERT_EQ((*rows)["samples"].size(), 2u) << listed.output;
  for (const auto& [flags, expected] : {std::pair{"--since 2026-01-01T00:02:00Z", 2},
                                        std::pair{"--until 2026-01-01T00:02:00Z", 1}}) {
    auto timed = cli(std::string("--json samples list ") + flags);
    ASSERT_EQ(timed.exit_code, 0) << timed.output;
    auto timed_rows = parse_json(timed.output.substr(timed.output.find('{')));
    ASSERT_TRUE(timed_rows.ok()) << timed.output;
    ASSERT_EQ((*timed_rows)["samples"].size(), 1u) << flags << "\n" << timed.output;
    EXPECT_EQ((*timed_rows)["samples"][0]["captured_ms"], 1'767'225'600'000 + 60'000 * expected) << flags;
  }
  EXPECT_NE(cli("samples list --since yesterday").exit_code, 0);
  auto disagreeing = cli("samples list --strategy model_disagreement");
  ASSERT_EQ(disagreeing.exit_code, 0) << disagreeing.output;
  const std::string first_id = api::sample_id(device.id, "row-1", 1'767'225'600'000 + 60'000);
  EXPECT_NE(disagreeing.output.find(first_id), std::string::npos) << disagreeing.output;
  EXPECT_EQ(disagreeing.output.find(api::sample_id(device.id, "row-1", 1'767'225'600'000 + 120'000)),
            std::string::npos)
      << disagreeing.output;

  auto shown = cli("samples show " + first_id);
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_NE(shown.output.find("model_disagreement"), std::string::npos) << shown.output;
  EXPECT_NE(shown.output.find("detector:1 found 1 boxes"), std::string::npos) << shown.output;

  const fs::path pulled = work_ / "pulled";
  auto pull = cli("samples pull --device " + device.id + " --out " + pulled.string());
  ASSERT_EQ(pull.exit_code, 0) << pull.output;
  const std::string stem = device.id + "-row-1-" + std::to_string(1'767'225'600'000 + 60'000);
  EXPECT_EQ(read_bytes(pulled / (stem + ".jpg")),
            base64_decode(batch["records"][0]["body"]["jpeg"].get<std::string>()).value())
      << "the image comes back byte for byte";
  EXPECT_TRUE(fs::exists(pulled / (stem + ".json")));
  auto thumbnail = curl("-H 'X-API-KEY: " + std::string(ServerProcess::kAdminKey) + "'",
                        "/api/v1/samples/" + first_id + "/thumbnail");
  EXPECT_EQ(thumbnail.status, 200);

  auto stats = cli("samples stats");
  ASSERT_EQ(stats.exit_code, 0) << stats.output;
  EXPECT_NE(stats.output.find("2 samples"), std::string::npos) << stats.output;
  EXPECT_NE(stats.output.find("75.0%"), std::string::npos) << "the device's shadow agreement\n"
                                                           << stats.output;
  EXPECT_EQ(admin("GET", "/api/v1/samples?colour=red").status, 400);
  EXPECT_EQ(admin("GET", "/api/v1/samples/" + device.id + "/row-1/5").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/samples", nullptr, {}).status, 401) << "an API key is needed";
}

}  // namespace
}  // namespace canopy::testing
