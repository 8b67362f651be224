// The auth area on its own: API keys, roles, revocation, the first start's
// admin key, and keys kept across a restart. No HTTP.
#include <gtest/gtest.h>

#include "common/hash.h"
#include "common/keys.h"
#include "common/time.h"
#include "server/auth/api_keys.h"
#include "test_support.h"

namespace canopy::server {
namespace {

class ApiKeysTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(init_crypto().ok()); }

  std::unique_ptr<ApiKeys> open() {
    auto db = Database::open_in(dir_.path());
    EXPECT_TRUE(db.ok()) << db.error().message;
    auto keys = ApiKeys::open(std::move(db).value(), clock_);
    EXPECT_TRUE(keys.ok()) << keys.error().message;
    return keys.ok() ? std::move(keys).value() : nullptr;
  }

  testing::TempDir dir_;
  ManualClock clock_;
};

TEST_F(ApiKeysTest, AKeyAuthorizesUpToItsRole) {
  auto keys = open();
  auto created = keys->create(Role::kPublisher, "ci");
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->secret.rfind("cnp_" + created->record.id + "_", 0), 0u);
  EXPECT_EQ(created->record.created_at, format_utc(clock_.wall_ms()));

  auto as_reader = keys->authorize(created->secret, Role::kReader);
  ASSERT_TRUE(as_reader.ok());
  EXPECT_EQ(as_reader->id, created->record.id);
  EXPECT_TRUE(keys->authorize(created->secret, Role::kPublisher).ok());
  auto as_admin = keys->authorize(created->secret, Role::kAdmin);
  ASSERT_FALSE(as_admin.ok());
  EXPECT_EQ(as_admin.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(as_admin.error().message.find("the key has publisher"), std::string::npos);

  for (const std::string& wrong : {std::string(), created->secret + "x", std::string(300, 'k')}) {
    auto refused = keys->authorize(wrong, Role::kReader);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ErrorCode::kUnauthenticated);
  }
}

TEST_F(ApiKeysTest, ARevokedKeyStopsWorkingAtOnce) {
  auto keys = open();
  auto kept = keys->create(Role::kReader, "kept");
  auto revoked = keys->create(Role::kAdmin, "revoked");
  ASSERT_TRUE(kept.ok() && revoked.ok());
  ASSERT_TRUE(keys->revoke(revoked->record.id).ok());
  EXPECT_FALSE(keys->authenticate(revoked->secret));
  EXPECT_TRUE(keys->authenticate(kept->secret));
  auto again = keys->revoke(revoked->record.id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);

  auto listed = keys->list();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  for (const auto& record : *listed)
    EXPECT_EQ(record.revoked, record.id == revoked->record.id) << record.name;
}

TEST_F(ApiKeysTest, AKeyWithALifetimeStopsWorkingWhenItEndsAlsoAfterARestart) {
  const std::int64_t created_ms = clock_.wall_ms();
  std::string secret, forever;
  {
    auto keys = open();
    auto expiring = keys->create(Role::kPublisher, "ci", 3600);
    auto lasting = keys->create(Role::kReader, "dashboard");
    ASSERT_TRUE(expiring.ok() && lasting.ok());
    EXPECT_EQ(expiring->record.expires_ms, created_ms + 3'600'000);
    EXPECT_EQ(lasting->record.expires_ms, 0);
    secret = expiring->secret;
    forever = lasting->secret;
    clock_.advance_ms(3'599'999);
    EXPECT_TRUE(keys->authorize(secret, Role::kPublisher).ok()) << "a millisecond before its end";
    EXPECT_FALSE(keys->expired(expiring->record));
    for (std::int64_t bad : {std::int64_t(-1), kMaxKeyLifetimeS + 1}) {
      auto refused = keys->create(Role::kReader, "bad", bad);
      ASSERT_FALSE(refused.ok());
      EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
    }
  }
  clock_.advance_ms(1);
  auto keys = open();
  auto refused = keys->authorize(secret, Role::kReader);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnauthenticated) << "expired, the same answer as unknown";
  EXPECT_TRUE(keys->authorize(forever, Role::kReader).ok());
  auto listed = keys->list();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  for (const auto& record : *listed) EXPECT_EQ(keys->expired(record), record.name == "ci") << record.name;
}

TEST_F(ApiKeysTest, KeysAndRevocationsSurviveARestart) {
  std::string kept_secret, revoked_secret;
  {
    auto keys = open();
    auto kept = keys->create(Role::kAdmin, "kept");
    auto revoked = keys->create(Role::kAdmin, "revoked");
    ASSERT_TRUE(kept.ok() && revoked.ok());
    ASSERT_TRUE(keys->revoke(revoked->record.id).ok());
    kept_secret = kept->secret;
    revoked_secret = revoked->secret;
  }
  auto keys = open();
  auto kept = keys->authenticate(kept_secret);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->name, "kept");
  EXPECT_EQ(kept->role, Role::kAdmin);
  EXPECT_FALSE(keys->authenticate(revoked_secret));
}

TEST_F(ApiKeysTest, RowsOfEarlierVersionsKeepTheirRolesBesideOperatorKeys) {
  open();  // the tables
  {
    auto db = Database::open_in(dir_.path());
    ASSERT_TRUE(db.ok());
    for (const char* role : {"reader", "labeler", "publisher", "admin"})
      ASSERT_TRUE(db->run("INSERT INTO api_keys(id, name, role, key_hash, created_at) VALUES(?,?,?,?,?)",
                          {std::string(role), std::string(role), std::string(role),
                           sha256_hex(std::string("old-") + role), std::string("2025-01-01T00:00:00Z")})
                      .ok());
  }
  auto keys = open();
  auto made = keys->create(Role::kOperator, "night-shift");
  ASSERT_TRUE(made.ok());
  for (const char* role : {"reader", "labeler", "publisher", "admin"}) {
    auto key = keys->authenticate(std::string("old-") + role);
    ASSERT_TRUE(key) << role;
    EXPECT_EQ(role_name(key->role), role);
  }
  auto reopened = open();
  auto operator_key = reopened->authenticate(made->secret);
  ASSERT_TRUE(operator_key);
  EXPECT_EQ(operator_key->role, Role::kOperator);
  EXPECT_TRUE(reopened->authorize(made->secret, Role::kPublisher).ok());
  auto refused = reopened->authorize(made->secret, Role::kAdmin);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "this needs the admin role; the key has operator");
}

TEST_F(ApiKeysTest, TheFirstStartCreatesOneAdminKeyUnlessOneIsGiven) {
  auto keys = open();
  auto first = keys->bootstrap_admin("");
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->record.role, Role::kAdmin);
  EXPECT_TRUE(keys->authorize((*first)->secret, Role::kAdmin).ok());
  auto second = keys->bootstrap_admin("");
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->has_value()) << "a store with keys gets no new bootstrap key";

  const std::string given = "admin-key-from-the-environment";
  auto ensured = keys->bootstrap_admin(given);
  ASSERT_TRUE(ensured.ok());
  EXPECT_FALSE(ensured->has_value()) << "a given key is registered, not shown";
  EXPECT_TRUE(keys->authorize(given, Role::kAdmin).ok());
  ASSERT_TRUE(keys->bootstrap_admin(given).ok()) << "registering it again is harmless";
  EXPECT_EQ(*keys->count(), 2);

  auto too_short = keys->bootstrap_admin("short");
  ASSERT_FALSE(too_short.ok());
  EXPECT_EQ(too_short.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace canopy::server
