// People's accounts on their own: users, Argon2id passwords, sessions that
// expire on the clock, and the role table every route is checked against.
// No HTTP.
#include "server/auth/accounts.h"

#include <gtest/gtest.h>

#include "common/hash.h"
#include "test_support.h"

namespace canopy::server {
namespace {

constexpr std::int64_t kT0 = 1'780'000'000'000;
constexpr std::int64_t kHour = 3'600'000;

class AccountsTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  void reopen() {
    accounts_.reset();
    auto db = Database::open_in(dir_.path());
    ASSERT_TRUE(db.ok()) << db.error().message;
    auto accounts = Accounts::open(std::move(db).value(), clock_);
    ASSERT_TRUE(accounts.ok()) << accounts.error().message;
    accounts_ = std::move(accounts).value();
  }

  testing::TempDir dir_;
  ManualClock clock_{kT0};
  std::unique_ptr<Accounts> accounts_;
};

TEST(RoleTest, ALabelerLabelsAndDoesNothingElse) {
  const std::vector<Role> roles = {Role::kReader, Role::kLabeler, Role::kPublisher, Role::kOperator,
                                   Role::kAdmin};
  // allowed[have][needed], in the order of `roles`.
  const bool allowed[5][5] = {
      {true, false, false, false, false},  // reader
      {false, true, false, false, false},  // labeler
      {true, true, true, false, false},    // publisher
      {true, true, true, true, false},     // operator
      {true, true, true, true, true},      // admin
  };
  for (std::size_t have = 0; have < roles.size(); ++have)
    for (std::size_t needed = 0; needed < roles.size(); ++needed)
      EXPECT_EQ(role_allows(roles[have], roles[needed]), allowed[have][needed])
          << role_name(roles[have]) << " on a route that needs " << role_name(roles[needed]);
  EXPECT_EQ(parse_role("labeler"), Role::kLabeler);
  EXPECT_EQ(role_name(Role::kLabeler), "labeler");
}

TEST(RoleTest, RolesAreReadAndWrittenByName) {
  for (Role role : kRoles) EXPECT_EQ(parse_role(role_name(role)), role) << role_name(role);
  EXPECT_EQ(parse_role("operator"), Role::kOperator);
  EXPECT_EQ(parse_role("Admin"), std::nullopt);
  EXPECT_EQ(parse_role("3"), std::nullopt) << "no role is stored by number";
  EXPECT_EQ(role_choices(), "reader, labeler, publisher, operator or admin");
}

TEST_F(AccountsTest, AnOperatorAccountKeepsItsRole) {
  ASSERT_TRUE(accounts_->add_user("olga", Role::kOperator, "correct horse").ok());
  auto session = accounts_->sign_in("olga", "correct horse");
  ASSERT_TRUE(session.ok()) << session.error().message;
  EXPECT_EQ(session->session.role, Role::kOperator);
  auto users = accounts_->list_users();
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->size(), 1u);
  EXPECT_EQ((*users)[0].role, Role::kOperator);
}

TEST_F(AccountsTest, APersonSignsInWithTheirPasswordAndTheSessionExpires) {
  ASSERT_TRUE(accounts_->add_user("ana", Role::kLabeler, "correct horse").ok());
  auto session = accounts_->sign_in("ana", "correct horse");
  ASSERT_TRUE(session.ok()) << session.error().message;
  EXPECT_EQ(session->token.size(), 64u);
  EXPECT_EQ(session->session.csrf_token.size(), 64u);
  EXPECT_NE(session->token, session->session.csrf_token);

  auto found = accounts_->session(session->token);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->user, "ana");
  EXPECT_EQ(found->role, Role::kLabeler);

  reopen();  // sessions survive a restart of the server
  ASSERT_TRUE(accounts_->session(session->token));
  clock_.advance_ms(12 * kHour);
  EXPECT_FALSE(accounts_->session(session->token)) << "a session ends 12 hours after sign-in";
}

TEST_F(AccountsTest, AWrongPasswordAndAnUnknownUserGetTheSameAnswer) {
  ASSERT_TRUE(accounts_->add_user("ana", Role::kLabeler, "correct horse").ok());
  auto wrong = accounts_->sign_in("ana", "wrong horse");
  auto unknown = accounts_->sign_in("bob", "correct horse");
  ASSERT_FALSE(wrong.ok());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(wrong.error().message, unknown.error().message);
  EXPECT_FALSE(accounts_->sign_in("ana; DROP TABLE users", "x").ok());
  EXPECT_FALSE(accounts_->session(""));
  EXPECT_FALSE(accounts_->session("not-a-token"));
}

TEST_F(AccountsTest, PasswordsAreStoredOnlyAsArgon2idHashes) {
  ASSERT_TRUE(accounts_->add_user("ana", Role::kAdmin, "correct horse").ok());
  auto db = Database::open_in(dir_.path());
  ASSERT_TRUE(db.ok());
  auto select = db->prepare("SELECT password_hash FROM users WHERE name = 'ana'");
  ASSERT_TRUE(select.ok());
  ASSERT_TRUE(select->step().value());
  const std::string stored = select->column_text(0);
  EXPECT_EQ(stored.rfind("$argon2id$", 0), 0u) << stored;
  EXPECT_EQ(stored.find("correct horse"), std::string::npos);
}

TEST_F(AccountsTest, BadNamesAndPasswordsAreRefusedAndNamesAreUnique) {
  EXPECT_EQ(accounts_->add_user("", Role::kReader, "long enough").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(accounts_->add_user("a/b", Role::kReader, "long enough").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(accounts_->add_user(std::string(65, 'a'), Role::kReader, "long enough").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(accounts_->add_user("ana", Role::kReader, "short").error().code, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(accounts_->add_user("ana", Role::kReader, "long enough").ok());
  EXPECT_EQ(accounts_->add_user("ana", Role::kAdmin, "long enough").error().code, ErrorCode::kAlreadyExists);
  auto users = accounts_->list_users();
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->size(), 1u);
  EXPECT_EQ((*users)[0].role, Role::kReader) << "the second add changed nothing";
}

TEST_F(AccountsTest, RemovingAUserOrChangingTheirRoleEndsTheirSessions) {
  ASSERT_TRUE(accounts_->add_user("ana", Role::kAdmin, "correct horse").ok());
  ASSERT_TRUE(accounts_->add_user("bob", Role::kLabeler, "battery staple").ok());
  auto ana = accounts_->sign_in("ana", "correct horse");
  auto bob = accounts_->sign_in("bob", "battery staple");
  ASSERT_TRUE(ana.ok() && bob.ok());

  ASSERT_TRUE(accounts_->update_user("ana", Role::kReader, std::nullopt).ok());
  EXPECT_FALSE(accounts_->session(ana->token)) << "a demoted admin's session is not still an admin's";
  auto again = accounts_->sign_in("ana", "correct horse");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->session.role, Role::kReader);

  ASSERT_TRUE(accounts_->remove_user("bob").ok());
  EXPECT_FALSE(accounts_->session(bob->token));
  EXPECT_FALSE(accounts_->sign_in("bob", "battery staple").ok());
  EXPECT_EQ(accounts_->remove_user("bob").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(accounts_->update_user("bob", Role::kAdmin, std::nullopt).error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(accounts_->sign_out(again->token).ok());
  EXPECT_FALSE(accounts_->session(again->token));
}

}  // namespace
}  // namespace canopy::server
