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
    packages_[{model, version}] = PackageRef{{model, version}, "sha-" + std::to_string(version), 1000};
  }
  Result<PackageRef> resolve(const std::string& model, const std::string& reference) override {
    if (reference.empty() || reference.front() == '@')
      return make_error(ErrorCode::kNotFound, "no alias " + reference);
    return find(ModelVersion{model, std::stoll(reference)});
  }
  Result<PackageRef> find(const ModelVersion& version) override {
    auto it = packages_.find({version.name, version.version});
    if (it == packages_.end()) return make_error(ErrorCode::kNotFound, "no such version");
    return it->second;
  }
  void set_delete_guard(DeleteGuard guard) override { guard_ = std::move(guard); }

  // What the registry does before deleting a version.
  Status remove(const ModelVersion& version) {
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
    auto created = fleet_->create_enrollment_token(
        {{"group", group}, {"expires_in_s", expires_in_s}, {"max_uses", uses}}, "admin");
    EXPECT_TRUE(created.ok()) << created.error().message;
    return created.ok() ? created->secret : "";
  }

  // Enrolls as docs/fleet.md says: signed by the device key, at the clock's time.
  Result<Json> try_enroll(TestDevice& device, const std::string& token) {
    const std::string text = device.key.public_key.to_text();
    const std::string public_key = text.substr(0, text.size() - 1);
    const std::string timestamp = format_utc(clock_.wall_ms());
    const std::string signed_text =
        "canopy-enroll\n" + token + "\n" + public_key + "\n" + device.name + "\n" + timestamp;
    auto enrolled = fleet_->enroll({{"enrollment_token", token},
                                    {"public_key", public_key},
                                    {"name", device.name},
                                    {"timestamp", timestamp},
                                    {"signature", base64_encode(sign_detached(device.key, signed_text))}});
    if (enrolled.ok()) device.id = enrolled->value("device_id", "");
    return enrolled;
  }

  TestDevice enroll(const std::string& name, const std::string& token) {
    TestDevice device{KeyPair::generate(), name, ""};
    auto enrolled = try_enroll(device, token);
    EXPECT_TRUE(enrolled.ok()) << enrolled.error().message;
    return device;
  }

  // The model the device is told to run (0 for none).
  std::int64_t desired_version(const TestDevice& device) {
    auto desired = fleet_->desired(device.id);
    EXPECT_TRUE(desired.ok());
    Json body = Json::parse(desired->body);
    return body["model"].is_null() ? 0 : body["model"]["version"].get<std::int64_t>();
  }

  Status report_success(const TestDevice& device, std::int64_t deployment, std::int64_t version) {
    return fleet_->report(device.id, {{"deployment_id", deployment},
                                      {"state", "success"},
                                      {"model", {{"name", "crop"}, {"version", version}}},
                                      {"current", {{"name", "crop"}, {"version", version}}},
                                      {"previous", nullptr}});
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
  EXPECT_EQ(fleet_->list_devices("", "", "")["devices"].size(), 1u);
}

TEST_F(FleetAreaTest, ACanarySoakEndsWhenTheClockMovesOn) {
  const std::string secret = token("north");
  std::vector<TestDevice> devices;
  for (int i = 0; i < 4; ++i) {
    devices.push_back(enroll("field-" + std::to_string(i), secret));
    clock_.advance_ms(1'000);  // enrollment order is by enrolled_at, in seconds
  }
  auto created = fleet_->create_deployment(
      {{"model", "crop"},
       {"version", 2},
       {"target", {{"group", "north"}}},
       {"strategy", {{"canary", {{"count", 1}, {"soak_s", 600}}}, {"waves", {{{"percent", 100}}}}}}},
      "publisher");
  ASSERT_TRUE(created.ok()) << created.error().message;
  const std::int64_t id = (*created)["id"];
  EXPECT_EQ((*created)["stage_name"], "canary");
  EXPECT_EQ((*created)["admitted"], 1);
  // Devices join in enrollment order: the first one is the canary.
  EXPECT_EQ(desired_version(devices[0]), 2);
  EXPECT_EQ(desired_version(devices[3]), 0);

  ASSERT_TRUE(report_success(devices[0], id, 2).ok());
  clock_.advance_ms(599'000);
  EXPECT_EQ((*fleet_->deployment_status(id))["stage_name"], "canary") << "the soak has a second to go";
  EXPECT_EQ(desired_version(devices[3]), 0);

  clock_.advance_ms(1'000);
  auto status = fleet_->deployment_status(id);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ((*status)["stage_name"], "wave 1");
  EXPECT_EQ((*status)["admitted"], 4);
  EXPECT_EQ((*status)["stage_started_at"], format_utc(clock_.wall_ms()))
      << "the wave starts when the soak ends";
  EXPECT_EQ(desired_version(devices[3]), 2);
}

TEST_F(FleetAreaTest, TheDeleteGuardKeepsVersionsTheFleetStillUses) {
  ASSERT_TRUE(catalog_.guarded());
  TestDevice device = enroll("field-0", token("north"));
  auto created =
      fleet_->create_deployment({{"model", "crop"}, {"version", 2}, {"target", {{"group", "north"}}}}, "p");
  ASSERT_TRUE(created.ok()) << created.error().message;
  Status refused = catalog_.remove({"crop", 2});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find("deployment"), std::string::npos) << refused.error().message;
  EXPECT_TRUE(catalog_.remove({"crop", 1}).ok()) << "nothing uses version 1";

  auto missing =
      fleet_->create_deployment({{"model", "crop"}, {"version", 1}, {"target", {{"group", "north"}}}}, "p");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(fleet_->list_deployments()["deployments"].size(), 1u);

  fleet_.reset();
  EXPECT_FALSE(catalog_.guarded()) << "a closed fleet no longer guards deletes";
}

TEST_F(FleetAreaTest, DevicesAndDeploymentsComeBackFromTheirTables) {
  TestDevice device = enroll("field-0", token("north"));
  auto created =
      fleet_->create_deployment({{"model", "crop"}, {"version", 2}, {"target", {{"group", "north"}}}}, "p");
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(report_success(device, (*created)["id"], 2).ok());
  reopen();
  auto shown = fleet_->show_device(device.id);
  ASSERT_TRUE(shown.ok()) << shown.error().message;
  EXPECT_EQ((*shown)["name"], "field-0");
  EXPECT_EQ((*shown)["current"]["version"], 2);
  EXPECT_EQ((*shown)["reports"].size(), 1u);
  auto status = fleet_->deployment_status((*created)["id"]);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ((*status)["state"], "completed");
  EXPECT_EQ(desired_version(device), 2);
}

}  // namespace
}  // namespace canopy::server
