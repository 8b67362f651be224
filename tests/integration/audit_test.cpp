// The audit log (docs/dashboard.md, "Audit log") on a real server: changes by
// API keys and by people signed in to the pages are recorded with who made
// them; reads, refusals and devices' own requests are not; entries page
// newest first, filter by who, and survive kill -9 of the server.
#include <string>

#include "fleet_fixture.h"

namespace canopy::testing {
namespace {

class AuditTest : public FleetFixture {
 protected:
  Json entries(const std::string& query = "") {
    auto response = admin("GET", "/api/v1/audit" + query);
    EXPECT_EQ(response.status, 200) << response.body;
    return body_of(response)["entries"];
  }
};

TEST_F(AuditTest, ChangesAreRecordedWithWhoMadeThemAndNothingElseIs) {
  // An admin key makes a reader key and a user.
  Json reader = body_of(admin("POST", "/api/v1/keys", {{"name", "dashboards"}, {"role", "reader"}}));
  ASSERT_EQ(
      admin("POST", "/api/v1/users", {{"name", "olga"}, {"role", "operator"}, {"password", "correct horse"}})
          .status,
      201);
  // The person signs in (no entry: signing in changes nothing of the fleet) and makes an enrollment token.
  HttpResponse signed_in =
      call("POST", "/api/v1/session", {{"user", "olga"}, {"password", "correct horse"}}, {});
  ASSERT_EQ(signed_in.status, 201) << signed_in.body;
  const std::string cookie = signed_in.header("set-cookie");
  const std::vector<std::string> session = {"Cookie: " + cookie.substr(0, cookie.find(';')),
                                            "X-CSRF-Token: " + body_of(signed_in).value("csrf_token", "")};
  HttpResponse made = call("POST", "/api/v1/enrollment-tokens", {{"group", "north"}}, session);
  ASSERT_EQ(made.status, 201) << made.body;
  // Not recorded: a read, a refused change, a device's enrollment and report.
  const std::vector<std::string> reader_key = {"X-API-KEY: " + reader.value("key", "")};
  ASSERT_EQ(call("GET", "/api/v1/devices", {}, reader_key).status, 200);
  ASSERT_EQ(call("POST", "/api/v1/enrollment-tokens", {{"group", "x"}}, reader_key).status, 403);
  SimDevice device = enroll("cam", body_of(made).value("token", ""));
  ASSERT_EQ(report(device, 0, "idle", 0, 0, 0).status, 200);

  Json log = entries();
  ASSERT_EQ(log.size(), 3u) << log.dump(2);
  EXPECT_EQ(log[0]["actor"], "olga");
  EXPECT_EQ(log[0]["actor_id"], "user:olga");
  EXPECT_EQ(log[0]["role"], "operator");
  EXPECT_EQ(log[0]["method"], "POST");
  EXPECT_EQ(log[0]["path"], "/api/v1/enrollment-tokens");
  EXPECT_EQ(log[0]["status"], 201);
  EXPECT_EQ(log[1]["path"], "/api/v1/users");
  EXPECT_EQ(log[2]["path"], "/api/v1/keys");
  EXPECT_EQ(log[2]["role"], "admin");
  EXPECT_GT(log[0]["id"].get<int>(), log[1]["id"].get<int>()) << "newest first";

  // Filtered by who, and paged.
  EXPECT_EQ(entries("?actor=olga").size(), 1u);
  Json older = entries("?limit=1&before=" + std::to_string(log[0]["id"].get<int>()));
  ASSERT_EQ(older.size(), 1u);
  EXPECT_EQ(older[0]["id"], log[1]["id"]);
  EXPECT_EQ(admin("GET", "/api/v1/audit?limit=0").status, 400);
  EXPECT_EQ(call("GET", "/api/v1/audit", {}, reader_key).status, 403) << "only admins read it";
}

TEST_F(AuditTest, AnEntryAnsweredIsKeptThroughKillNine) {
  ASSERT_EQ(admin("POST", "/api/v1/keys", {{"name", "ci"}, {"role", "publisher"}}).status, 201);
  // The entry is committed before the answer is sent, so a crash right after loses nothing.
  server_->kill_hard();
  server_->start();
  Json log = entries();
  ASSERT_EQ(log.size(), 1u) << log.dump(2);
  EXPECT_EQ(log[0]["path"], "/api/v1/keys");
}

}  // namespace
}  // namespace canopy::testing
