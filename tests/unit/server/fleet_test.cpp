// The fleet area on its own, with a model catalog of the test's making and a
// manual clock: enrollment tokens expire and canary soaks end when the clock
// is moved, not after sleeping; the delete guard keeps what devices run; the
// fleet comes back from its tables. No HTTP, no registry.
#include "server/fleet/fleet.h"

#include <gtest/gtest.h>

#include <map>

#include "common/hash.h"
#include "common/keys.h"
#include "common/time.h"
#include "test_support.h"

namespace canopy::server {
namespace {

// A catalog of a few versions of one model, and the fleet's delete guard.
class FakeCatalog final : public ModelCatalog {
 public:
  void add(const std::string& model, std::int64_t version) {
    packages_[{model, version}] =
        PackageRef{{model, version}, sha256_hex(model + std::to_string(version)), 1000};
  }
  Result<PackageRef> resolve(const api::ModelSelector& selector) override {
    if (selector.is_alias()) return make_error(ErrorCode::kNotFound, "no alias " + selector.reference);
    return find(ModelRef{selector.name, std::stoll(selector.reference)});
  }
  Result<PackageRef> find(const ModelRef& version) override {
    auto it = packages_.find({version.name, version.version});
    if (it == packages_.end()) return make_error(ErrorCode::kNotFound, "no such version");
    return it->second;
  }
  void set_delete_guard(DeleteGuard guard) override { guard_ = std::move(guard); }

  // What the registry does before deleting a version.
  Status remove(const ModelRef& version) {
    if (guard_) CANOPY_TRY(guard_(version));
    packages_.erase({version.name, version.version});
    return {};
  }
  bool guarded() const { return static_cast<bool>(guard_); }

 private:
  std::map<std::pair<std::string, std::int64_t>, PackageRef> packages_;
  DeleteGuard guard_;
};

struct TestDevice {
  KeyPair key = KeyPair::generate();
  std::string name;
  std::string id;
};

class FleetAreaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(init_crypto().ok());
    catalog_.add("crop", 1);
    catalog_.add("crop", 2);
    reopen();
  }

  void reopen() {
    fleet_.reset();
    auto db = Database::open_in(dir_.path());
    ASSERT_TRUE(db.ok()) << db.error().message;
    auto fleet = Fleet::open(std::move(db).value(), catalog_, FleetOptions{}, clock_);
    ASSERT_TRUE(fleet.ok()) << fleet.error().message;
    fleet_ = std::move(fleet).value();
  }

  std::string token(const std::string& group, int expires_in_s = 3600, int uses = 100) {
    auto created = fleet_->create_enrollment_token({group, false, expires_in_s, uses}, "admin");
    EXPECT_TRUE(created.ok()) << created.error().message;
    return created.ok() ? created->secret : "";
  }

  // Enrolls as docs/fleet.md says: signed by the device key, at the clock's time.
  Result<api::Enrollment> try_enroll(TestDevice& device, const std::string& token) {
    const std::string text = device.key.public_key.to_text();
    api::EnrollRequest request;
    request.enrollment_token = token;
    request.public_key = text.substr(0, text.size() - 1);
    request.name = device.name;
    request.timestamp = format_utc(clock_.wall_ms());
    request.signature = base64_encode(sign_detached(device.key, request.signed_text()));
    auto enrolled = fleet_->enroll(request);
    if (enrolled.ok()) device.id = enrolled->device_id;
    return enrolled;
  }

  // A deployment of crop version `version` to group `group`.
  Result<api::DeploymentStatus> deploy(std::int64_t version, const std::string& group,
                                       const Json& strategy = nullptr) {
    auto request = api::DeploymentRequest::from_json(
        {{"model", "crop"}, {"version", version}, {"target", {{"group", group}}}, {"strategy", strategy}});
    EXPECT_TRUE(request.ok()) << request.error().message;
    return fleet_->create_deployment(*request, "publisher");
  }

  TestDevice enroll(const std::string& name, const std::string& token) {
    TestDevice device{KeyPair::generate(), name, ""};
    auto enrolled = try_enroll(device, token);
    EXPECT_TRUE(enrolled.ok()) << enrolled.error().message;
    return device;
  }

  // The model the device is told to run (0 for none).
  std::int64_t desired_version(const TestDevice& device) {
    auto answer = fleet_->desired(device.id);
    EXPECT_TRUE(answer.ok());
    auto desired = api::DesiredState::from_json(Json::parse(answer->body));
    EXPECT_TRUE(desired.ok()) << desired.error().message;
    return desired->assignment ? desired->assignment->package.model.version : 0;
  }

  Status report_success(const TestDevice& device, std::int64_t deployment, std::int64_t version) {
    api::StatusReport report;
    report.deployment_id = deployment;
    report.state = ReportState::kSuccess;
    report.model = report.current = ModelRef{"crop", version};
    return fleet_->report(device.id, report);
  }

  testing::TempDir dir_;
  ManualClock clock_;
  FakeCatalog catalog_;
  std::unique_ptr<Fleet> fleet_;
};

TEST_F(FleetAreaTest, AnEnrollmentTokenExpiresWhenTheClockPassesItsLifetime) {
  const std::string secret = token("north", 60);
  clock_.advance_ms(59'000);
  TestDevice early{KeyPair::generate(), "early", ""};
  ASSERT_TRUE(try_enroll(early, secret).ok()) << "one second before expiry the token works";

  clock_.advance_ms(1'000);
  TestDevice late{KeyPair::generate(), "late", ""};
  auto refused = try_enroll(late, secret);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(refused.error().message.find("expired"), std::string::npos) << refused.error().message;
  EXPECT_EQ(fleet_->query_devices({}).total, 1u);
}

TEST_F(FleetAreaTest, ADeviceHeardFromIsSeenAndSavedLikeAPoll) {
  TestDevice device = enroll("cam", token("north"));
  clock_.advance_ms(3'600'000);
  fleet_->mark_seen(device.id);
  fleet_->mark_seen("no-such-device");
  auto shown = fleet_->show_device(device.id);
  ASSERT_TRUE(shown.ok()) << shown.error().message;
  EXPECT_EQ(shown->last_seen, format_utc(clock_.wall_ms()));
  reopen();
  EXPECT_EQ(fleet_->show_device(device.id)->last_seen, format_utc(clock_.wall_ms()))
      << "written in the batch a poll's last_seen goes in";
}

TEST_F(FleetAreaTest, ACanarySoakEndsWhenTheClockMovesOn) {
  const std::string secret = token("north");
  std::vector<TestDevice> devices;
  for (int i = 0; i < 4; ++i) {
    devices.push_back(enroll("field-" + std::to_string(i), secret));
    clock_.advance_ms(1'000);  // enrollment order is by enrolled_at, in seconds
  }
  auto created =
      deploy(2, "north", {{"canary", {{"count", 1}, {"soak_s", 600}}}, {"waves", {{{"percent", 100}}}}});
  ASSERT_TRUE(created.ok()) << created.error().message;
  const std::int64_t id = created->id;
  EXPECT_EQ(created->stage_name, "canary");
  EXPECT_EQ(created->admitted, 1u);
  // Devices join in enrollment order: the first one is the canary.
  EXPECT_EQ(desired_version(devices[0]), 2);
  EXPECT_EQ(desired_version(devices[3]), 0);

  ASSERT_TRUE(report_success(devices[0], id, 2).ok());
  clock_.advance_ms(599'000);
  EXPECT_EQ(fleet_->deployment_status(id)->stage_name, "canary") << "the soak has a second to go";
  EXPECT_EQ(desired_version(devices[3]), 0);

  clock_.advance_ms(1'000);
  auto status = fleet_->deployment_status(id);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->stage_name, "wave 1");
  EXPECT_EQ(status->admitted, 4u);
  EXPECT_EQ(status->stage_started_at, format_utc(clock_.wall_ms())) << "the wave starts when the soak ends";
  EXPECT_EQ(desired_version(devices[3]), 2);
}

TEST_F(FleetAreaTest, TheDeleteGuardKeepsVersionsTheFleetStillUses) {
  ASSERT_TRUE(catalog_.guarded());
  TestDevice device = enroll("field-0", token("north"));
  auto created = deploy(2, "north");
  ASSERT_TRUE(created.ok()) << created.error().message;
  Status refused = catalog_.remove({"crop", 2});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find("deployment"), std::string::npos) << refused.error().message;
  EXPECT_TRUE(catalog_.remove({"crop", 1}).ok()) << "nothing uses version 1";

  auto missing = deploy(1, "north");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(fleet_->list_deployments().size(), 1u);

  fleet_.reset();
  EXPECT_FALSE(catalog_.guarded()) << "a closed fleet no longer guards deletes";
}

TEST_F(FleetAreaTest, DevicesAndDeploymentsComeBackFromTheirTables) {
  TestDevice device = enroll("field-0", token("north"));
  auto created = deploy(2, "north");
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(report_success(device, created->id, 2).ok());
  reopen();
  auto shown = fleet_->show_device(device.id);
  ASSERT_TRUE(shown.ok()) << shown.error().message;
  EXPECT_EQ(shown->name, "field-0");
  EXPECT_EQ(shown->current, (ModelRef{"crop", 2}));
  EXPECT_EQ(shown->state, ReportState::kSuccess);
  ASSERT_TRUE(shown->reports.has_value());
  ASSERT_EQ(shown->reports->size(), 1u);
  EXPECT_EQ((*shown->reports)[0].report.state, ReportState::kSuccess);
  auto status = fleet_->deployment_status(created->id);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, DeploymentState::kCompleted);
  EXPECT_EQ(desired_version(device), 2);
}

TEST_F(FleetAreaTest, FieldConfigurationVersionsGrowAndTheDesiredStateCarriesTheNewest) {
  TestDevice device = enroll("field-0", token("north"));
  TestDevice other = enroll("field-1", token("north"));
  auto before = fleet_->desired(device.id);
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(api::DesiredState::from_json(Json::parse(before->body))->field_config) << "none set";
  EXPECT_EQ(fleet_->field_config(device.id, std::nullopt).error().code, ErrorCode::kNotFound);

  auto first = fleet_->set_field_config(device.id, "zones: []\n", "ops");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->version, 1);
  EXPECT_EQ(first->sha256, sha256_hex("zones: []\n"));
  EXPECT_EQ(first->set_by, "ops");
  EXPECT_EQ(first->set_at, format_utc(clock_.wall_ms()));
  clock_.advance_ms(60'000);
  auto second = fleet_->set_field_config(device.id, "cameras: []\n", "ops");
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->version, 2);
  auto again = fleet_->set_field_config(device.id, "cameras: []\n", "someone retrying");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->version, 2) << "the newest text again is no new version";
  EXPECT_EQ(again->set_by, "ops");
  auto elsewhere = fleet_->set_field_config(other.id, "sensors: []\n", "ops");
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_EQ(elsewhere->version, 1) << "versions count per device";

  auto answer = fleet_->desired(device.id);
  ASSERT_TRUE(answer.ok());
  EXPECT_NE(answer->etag, before->etag) << "the body changed, so the ETag does";
  auto desired = api::DesiredState::from_json(Json::parse(answer->body));
  ASSERT_TRUE(desired.ok() && desired->field_config) << answer->body;
  EXPECT_EQ(desired->field_config->version, 2);
  EXPECT_EQ(desired->field_config->text, "cameras: []\n");
  EXPECT_EQ(fleet_->desired(device.id)->etag, answer->etag) << "the same body, the same ETag";

  EXPECT_EQ(fleet_->set_field_config("no-such-device", "zones: []\n", "ops").error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(fleet_->set_field_config(device.id, "", "ops").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(fleet_->set_field_config(device.id, "zones: \xff\n", "ops").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(fleet_->set_field_config(device.id, std::string(api::kMaxFieldConfigBytes + 1, '#'), "ops")
                .error()
                .code,
            ErrorCode::kTooLarge);
  EXPECT_EQ(fleet_->field_config("no-such-device", std::nullopt).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(fleet_->field_config(device.id, 3).error().code, ErrorCode::kNotFound);

  reopen();
  auto newest = fleet_->field_config(device.id, std::nullopt);
  ASSERT_TRUE(newest.ok()) << newest.error().message;
  EXPECT_EQ(newest->version, 2);
  EXPECT_EQ(newest->text, "cameras: []\n");
  auto old = fleet_->field_config(device.id, 1);
  ASSERT_TRUE(old.ok()) << old.error().message;
  EXPECT_EQ(old->text, "zones: []\n");
  EXPECT_EQ(old->sha256, first->sha256);
  EXPECT_EQ(old->set_at, first->set_at);
  EXPECT_EQ(fleet_->desired(device.id)->body, answer->body) << "the newest comes back from the table";
  auto third = fleet_->set_field_config(device.id, "zones: []\n", "ops");
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->version, 3) << "after a reopen the versions go on growing";

  ASSERT_TRUE(fleet_->set_device_status(other.id, DeviceStatus::kRevoked).ok());
  auto revoked = fleet_->set_field_config(other.id, "zones: []\n", "ops");
  ASSERT_FALSE(revoked.ok());
  EXPECT_EQ(revoked.error().code, ErrorCode::kConflict) << revoked.error().message;
  EXPECT_EQ(fleet_->field_config(other.id, std::nullopt)->version, 1) << "nothing stored";
}

TEST_F(FleetAreaTest, OnlyAnActiveDeviceIsSentItsFieldConfiguration) {
  auto manual = fleet_->create_enrollment_token({"north", true, 3600, 10}, "admin");
  ASSERT_TRUE(manual.ok());
  TestDevice device = enroll("field-0", manual->secret);
  ASSERT_TRUE(fleet_->set_field_config(device.id, "zones: []\n", "ops").ok());
  auto pending = api::DesiredState::from_json(Json::parse(fleet_->desired(device.id)->body));
  EXPECT_FALSE(pending->field_config) << "a pending device gets an empty desired state";
  ASSERT_TRUE(fleet_->set_device_status(device.id, DeviceStatus::kActive).ok());
  auto active = api::DesiredState::from_json(Json::parse(fleet_->desired(device.id)->body));
  ASSERT_TRUE(active->field_config);
  EXPECT_EQ(active->field_config->version, 1);
}

TEST_F(FleetAreaTest, ATargetThatMatchesNoDeviceIsRefusedUnlessAllowed) {
  enroll("field-0", token("north"));
  auto refused = deploy(2, "nroth");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("group nroth"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("matches no enrolled device"), std::string::npos);
  EXPECT_TRUE(fleet_->list_deployments().empty());

  auto request = api::DeploymentRequest::from_json(
      {{"model", "crop"}, {"version", 2}, {"target", {{"group", "south"}}}, {"allow_empty", true}});
  ASSERT_TRUE(request.ok());
  auto waiting = fleet_->create_deployment(*request, "publisher");
  ASSERT_TRUE(waiting.ok()) << waiting.error().message;
  TestDevice late = enroll("field-1", token("south"));
  EXPECT_EQ(desired_version(late), 2) << "a device enrolling later joins the waiting deployment";
}

TEST_F(FleetAreaTest, ACompletedDeploymentHasNoCurrentStage) {
  TestDevice a = enroll("field-0", token("north"));
  auto created = deploy(2, "north", {{"canary", {{"count", 1}}}, {"waves", {{{"percent", 100}}}}});
  ASSERT_TRUE(created.ok()) << created.error().message;
  ASSERT_TRUE(report_success(a, created->id, 2).ok());
  auto status = fleet_->deployment_status(created->id);
  ASSERT_TRUE(status.ok() && status->detail);
  EXPECT_EQ(status->state, DeploymentState::kCompleted);
  for (const auto& stage : status->detail->stages)
    EXPECT_EQ(stage.status, api::StageStatus::kDone) << stage.name;
}

TEST_F(FleetAreaTest, ARollbackSaysWhichDevicesCanGoBackAndWhyOthersCannot) {
  const std::string secret = token("north");
  TestDevice upgraded = enroll("had-v1", secret), fresh = enroll("had-nothing", secret),
             failing = enroll("failed", secret);
  auto created = deploy(2, "north");
  ASSERT_TRUE(created.ok()) << created.error().message;
  api::StatusReport from_v1;
  from_v1.deployment_id = created->id;
  from_v1.state = ReportState::kSuccess;
  from_v1.model = from_v1.current = ModelRef{"crop", 2};
  from_v1.previous = ModelRef{"crop", 1};
  ASSERT_TRUE(fleet_->report(upgraded.id, from_v1).ok());
  ASSERT_TRUE(report_success(fresh, created->id, 2).ok());
  api::StatusReport failed;
  failed.deployment_id = created->id;
  failed.state = ReportState::kFailed;
  failed.error = "health check failed";
  ASSERT_TRUE(fleet_->report(failing.id, failed).ok());

  auto rolled = fleet_->control_deployment(created->id, "rollback", "operator");
  ASSERT_TRUE(rolled.ok()) << rolled.error().message;
  ASSERT_TRUE(rolled->rollback.has_value());
  EXPECT_EQ(rolled->rollback->returning, 1u);
  EXPECT_EQ(rolled->rollback->no_previous, 1u);
  EXPECT_EQ(rolled->rollback->not_installed, 1u);
  EXPECT_EQ(rolled->reason, "rolled back by operator");
  EXPECT_EQ(desired_version(upgraded), 1);
}

TEST_F(FleetAreaTest, DeploymentCountsTellRollbacksByThresholdFromRollbacksByAPerson) {
  const std::string secret = token("north");
  TestDevice a = enroll("a", secret), b = enroll("b", secret);
  TestDevice c = enroll("c", token("south"));
  // The threshold: one failure of two admitted devices is over 0.1.
  auto by_threshold = deploy(2, "north", {{"min_failures", 1}, {"max_failure_ratio", 0.1}});
  ASSERT_TRUE(by_threshold.ok()) << by_threshold.error().message;
  api::StatusReport failed;
  failed.deployment_id = by_threshold->id;
  failed.state = ReportState::kFailed;
  ASSERT_TRUE(fleet_->report(a.id, failed).ok());
  auto by_person = deploy(2, "south");
  ASSERT_TRUE(by_person.ok()) << by_person.error().message;
  ASSERT_TRUE(fleet_->control_deployment(by_person->id, "rollback", "ops").ok());
  ASSERT_TRUE(deploy(1, "south").ok());
  // Rolled-back reports: one the server ordered, one a device's own fallback.
  api::StatusReport returned;
  returned.deployment_id = by_threshold->id;
  returned.state = ReportState::kRolledBack;
  ASSERT_TRUE(fleet_->report(b.id, returned).ok());
  api::StatusReport fell_back;
  fell_back.state = ReportState::kRolledBack;
  fell_back.error = "crop@2 failed its health check";
  ASSERT_TRUE(fleet_->report(c.id, fell_back).ok());
  ASSERT_TRUE(fleet_->report(c.id, fell_back).ok());

  Fleet::DeploymentCounts counts = fleet_->deployment_counts();
  EXPECT_EQ(counts.by_state, (std::map<DeploymentState, std::int64_t>{{DeploymentState::kRolledBack, 2},
                                                                      {DeploymentState::kRunning, 1}}));
  EXPECT_EQ(counts.rolled_back_by_failures, 1);
  EXPECT_EQ(counts.rolled_back_by_operator, 1);
  EXPECT_EQ(counts.device_rollbacks_ordered, 1);
  EXPECT_EQ(counts.device_fallbacks, 2);

  // Deployments are stored, so their counts survive a restart; the reports
  // counted are the ones since the start.
  reopen();
  counts = fleet_->deployment_counts();
  EXPECT_EQ(counts.rolled_back_by_failures, 1);
  EXPECT_EQ(counts.rolled_back_by_operator, 1);
  EXPECT_EQ(counts.device_rollbacks_ordered, 0);
  EXPECT_EQ(counts.device_fallbacks, 0);
}

}  // namespace
}  // namespace canopy::server
