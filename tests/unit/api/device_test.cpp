// The device-facing wire types: every body round-trips through its one JSON
// form, and a body that gets a field wrong is refused with the field named.
#include "api/device.h"

#include <gtest/gtest.h>

namespace canopy::api {
namespace {

Json desired_body() {
  return {{"device_id", "3f2a"},
          {"status", "active"},
          {"poll_interval_s", 15},
          {"deployment", {{"id", 7}, {"action", "install"}}},
          {"model",
           {{"name", "crop-detector"},
            {"version", 4},
            {"sha256", std::string(64, 'a')},
            {"size", 1234},
            {"url", "/api/v1/device/packages/crop-detector/4"}}}};
}

TEST(DesiredStateTest, IsCheckedBeforeADeviceUsesIt) {
  auto desired = DesiredState::from_json(desired_body());
  ASSERT_TRUE(desired.ok()) << desired.error().message;
  EXPECT_EQ(desired->poll_interval_s, 15);
  ASSERT_TRUE(desired->assignment);
  EXPECT_EQ(desired->assignment->deployment_id, 7);
  EXPECT_EQ(desired->assignment->package.model.label(), "crop-detector:4");
  EXPECT_EQ(desired->to_json(), desired_body()) << "one JSON form, both ways";

  Json nothing = {
      {"status", "pending"}, {"poll_interval_s", 30}, {"deployment", nullptr}, {"model", nullptr}};
  auto idle = DesiredState::from_json(nothing);
  ASSERT_TRUE(idle.ok());
  EXPECT_FALSE(idle->assignment);
  EXPECT_EQ(idle->status, DeviceStatus::kPending);

  Json traversal = desired_body();
  traversal["model"]["sha256"] = "../../identity";  // names a file on disk
  EXPECT_FALSE(DesiredState::from_json(traversal).ok());
  Json elsewhere = desired_body();
  elsewhere["model"]["url"] = "http://attacker.example/model.zip";
  EXPECT_FALSE(DesiredState::from_json(elsewhere).ok());
  Json unknown = desired_body();
  unknown["deployment"]["action"] = "format-disk";
  EXPECT_FALSE(DesiredState::from_json(unknown).ok());
  Json incomplete = desired_body();
  incomplete["model"].erase("size");
  EXPECT_FALSE(DesiredState::from_json(incomplete).ok());
  Json strange = desired_body();
  strange["status"] = "dormant";
  auto refused = DesiredState::from_json(strange);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("'status'"), std::string::npos) << refused.error().message;
}

TEST(EnrollRequestTest, SignsWhatItSendsAndBoundsEveryField) {
  EnrollRequest request;
  request.enrollment_token = "cet_abc_def";
  request.public_key = "canopy-ed25519-public AAAA";
  request.name = "field-7";
  request.tags = {{"crop", "maize"}};
  request.timestamp = "2026-12-03T08:00:00Z";
  request.signature = "c2ln";
  EXPECT_EQ(request.signed_text(),
            "canopy-enroll\ncet_abc_def\ncanopy-ed25519-public AAAA\nfield-7\n2026-12-03T08:00:00Z");
  auto back = EnrollRequest::from_json(request.to_json());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->to_json(), request.to_json());

  Json long_name = request.to_json();
  long_name["name"] = std::string(129, 'x');
  auto refused = EnrollRequest::from_json(long_name);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "request body: field 'name' is longer than 128 characters");
  Json bad_tags = request.to_json();
  bad_tags["tags"] = {{"crop", 5}};
  EXPECT_FALSE(EnrollRequest::from_json(bad_tags).ok());
  Json missing = request.to_json();
  missing.erase("signature");
  EXPECT_FALSE(EnrollRequest::from_json(missing).ok());
}

TEST(StatusReportTest, RoundTripsAndRefusesUnknownStatesAndWrongModels) {
  StatusReport report;
  report.deployment_id = 3;
  report.state = ReportState::kHealthChecking;
  report.progress = 0.5;
  report.model = ModelRef{"crop", 4};
  report.current = ModelRef{"crop", 3};
  report.error = "";
  report.health = "ok";
  auto back = StatusReport::from_json(report.to_json());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->to_json(), report.to_json());
  EXPECT_EQ(report.to_json()["state"], "health-checking");
  EXPECT_TRUE(report.to_json()["previous"].is_null());

  for (ReportState state :
       {ReportState::kIdle, ReportState::kDownloading, ReportState::kVerifying, ReportState::kInstalling,
        ReportState::kHealthChecking, ReportState::kSuccess, ReportState::kFailed, ReportState::kRolledBack})
    EXPECT_EQ(parse_report_state(report_state_name(state)), state);

  Json dancing = report.to_json();
  dancing["state"] = "dancing";
  auto refused = StatusReport::from_json(dancing);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("state 'dancing' must be one of"), std::string::npos);
  Json bad_model = report.to_json();
  bad_model["current"] = {{"name", "crop"}, {"version", 0}};
  refused = StatusReport::from_json(bad_model);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("'current'"), std::string::npos) << refused.error().message;
  Json too_far = report.to_json();
  too_far["progress"] = 1.5;
  EXPECT_FALSE(StatusReport::from_json(too_far).ok());
  Json long_error = report.to_json();
  long_error["error"] = std::string(1025, 'e');
  EXPECT_FALSE(StatusReport::from_json(long_error).ok());
}

TEST(ModelSelectorTest, ReadsTheThreeFormsPeopleWrite) {
  auto latest = ModelSelector::parse("crop");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->reference, "latest");
  auto version = ModelSelector::parse("crop:4");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->reference, "4");
  EXPECT_EQ(version->text(), "crop:4");
  auto alias = ModelSelector::parse("crop@production");
  ASSERT_TRUE(alias.ok());
  EXPECT_TRUE(alias->is_alias());
  EXPECT_EQ(alias->text(), "crop@production");
  for (const char* bad : {"", ":4", "crop@", "crop:", "@production"})
    EXPECT_FALSE(ModelSelector::parse(bad).ok()) << bad;
}

TEST(DesiredStateTest, CarriesTheFieldConfigurationAnOperatorSet) {
  Json body = desired_body();
  body["field_config"] = {{"version", 3}, {"text", "cameras: []\n"}};
  auto desired = DesiredState::from_json(body);
  ASSERT_TRUE(desired.ok()) << desired.error().message;
  ASSERT_TRUE(desired->field_config);
  EXPECT_EQ(desired->field_config->version, 3);
  EXPECT_EQ(desired->field_config->text, "cameras: []\n");
  EXPECT_EQ(desired->to_json(), body);
  Json idle = {
      {"status", "active"}, {"model", nullptr}, {"field_config", {{"version", 1}, {"text", "zones: []"}}}};
  auto without_model = DesiredState::from_json(idle);
  ASSERT_TRUE(without_model.ok());
  EXPECT_TRUE(without_model->field_config) << "a configuration without a model to install";
  body["field_config"]["version"] = 0;
  EXPECT_FALSE(DesiredState::from_json(body).ok());
  body["field_config"] = {{"version", 4}, {"text", std::string(kMaxFieldConfigBytes + 1, '#')}};
  EXPECT_FALSE(DesiredState::from_json(body).ok()) << "too large";
  EXPECT_FALSE(desired_body().contains("field_config")) << "absent unless set";
}

TEST(FieldConfigTextTest, TakesBoundedUtf8TextOnly) {
  EXPECT_TRUE(
      check_field_config_text("zones:\n  - name: north  # \xc3\xa9t\xc3\xa9, \xf0\x9f\x8c\xb1\n").ok());
  EXPECT_TRUE(check_field_config_text(std::string(kMaxFieldConfigBytes, '#')).ok());
  EXPECT_EQ(check_field_config_text(std::string(kMaxFieldConfigBytes + 1, '#')).error().code,
            ErrorCode::kTooLarge);
  EXPECT_EQ(check_field_config_text("").error().code, ErrorCode::kInvalidArgument);
  auto nul = check_field_config_text(std::string("zones: []\0", 10));
  ASSERT_FALSE(nul.ok());
  EXPECT_NE(nul.error().message.find("byte 9 is NUL"), std::string::npos) << nul.error().message;
  // A lone continuation byte, a cut-off sequence, an overlong '/', a
  // surrogate and a code point above U+10FFFF.
  for (const char* bad : {"a\x80", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff"}) {
    auto refused = check_field_config_text(bad);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.error().message.find("UTF-8"), std::string::npos) << refused.error().message;
  }
}

TEST(FieldConfigRecordTest, ReadsWhatItWrites) {
  FieldConfigRecord record{"3f2a", 2, std::string(64, 'a'), "ops", "2026-12-03T09:00:00Z", "zones: []\n"};
  auto read = FieldConfigRecord::from_json(record.to_json());
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->to_json(), record.to_json());
  EXPECT_EQ(record.to_json()["device"], "3f2a");
  record.text.reset();
  EXPECT_FALSE(record.to_json().contains("text")) << "the answer to a set has no text";
}

}  // namespace
}  // namespace canopy::api
