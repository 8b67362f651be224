// Per-area schema migrations: each area moves through its own numbered steps,
// independently of the others; a newer schema is refused; a failed step
// leaves nothing behind; a database from before per-area versions is adopted.
#include <gtest/gtest.h>

#include "server/storage/migrations.h"
#include "server/storage/sqlite.h"
#include "test_support.h"

namespace canopy::server {
namespace {

class MigrationsTest : public ::testing::Test {
 protected:
  Database open() {
    auto db = Database::open_in(dir_.path());
    EXPECT_TRUE(db.ok()) << db.error().message;
    return std::move(db).value();
  }

  static std::int64_t version_of(Database& db, const std::string& area) {
    auto version = schema_version(db, area);
    EXPECT_TRUE(version.ok()) << version.error().message;
    return version.ok() ? *version : -1;
  }

  static std::int64_t count_rows(Database& db, const std::string& sql) {
    auto stmt = db.prepare(sql);
    EXPECT_TRUE(stmt.ok()) << stmt.error().message;
    auto row = stmt->step();
    EXPECT_TRUE(row.ok() && *row);
    return stmt->column_int(0);
  }

  static bool has_table(Database& db, const std::string& table) {
    return count_rows(
               db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '" + table + "'") > 0;
  }

  testing::TempDir dir_;
};

TEST_F(MigrationsTest, AreasMoveThroughTheirOwnStepsIndependently) {
  Database db = open();
  AreaSchema notes{"notes", {"CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"}};
  AreaSchema tags{"tags", {"CREATE TABLE tags (name TEXT PRIMARY KEY)", "INSERT INTO tags VALUES ('first')"}};
  ASSERT_TRUE(migrate(db, notes).ok());
  ASSERT_TRUE(migrate(db, tags).ok());
  EXPECT_EQ(version_of(db, "notes"), 1);
  EXPECT_EQ(version_of(db, "tags"), 2);

  notes.steps.push_back("INSERT INTO notes(text) VALUES ('added by step 2')");
  ASSERT_TRUE(migrate(db, notes).ok());
  ASSERT_TRUE(migrate(db, notes).ok()) << "migrating again is a no-op";
  ASSERT_TRUE(migrate(db, tags).ok());
  EXPECT_EQ(version_of(db, "notes"), 2);
  EXPECT_EQ(version_of(db, "tags"), 2) << "a step of one area leaves the other's version alone";
  EXPECT_EQ(count_rows(db, "SELECT COUNT(*) FROM notes"), 1) << "each step runs once";
  EXPECT_EQ(count_rows(db, "SELECT COUNT(*) FROM tags"), 1);
  EXPECT_EQ(count_rows(db, "PRAGMA user_version"), kLayoutVersion);
}

TEST_F(MigrationsTest, AnAreaNewerThanThisServerIsRefusedUntouched) {
  Database db = open();
  ASSERT_TRUE(
      migrate(db, {"notes", {"CREATE TABLE notes (id INTEGER)", "CREATE TABLE notes_2 (id INTEGER)"}}).ok());
  Status older = migrate(db, {"notes", {"CREATE TABLE notes (id INTEGER)"}});
  ASSERT_FALSE(older.ok());
  EXPECT_EQ(older.error().code, ErrorCode::kConflict);
  EXPECT_NE(older.error().message.find("notes schema version 2"), std::string::npos) << older.error().message;
  EXPECT_NE(older.error().message.find("run a newer canopy server"), std::string::npos);
  EXPECT_EQ(version_of(db, "notes"), 2);
}

TEST_F(MigrationsTest, ALayoutNewerThanThisServerIsRefused) {
  Database db = open();
  ASSERT_TRUE(db.exec("PRAGMA user_version = " + std::to_string(kLayoutVersion + 1)).ok());
  Status refused = migrate(db, {"notes", {"CREATE TABLE notes (id INTEGER)"}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_FALSE(has_table(db, "notes"));
}

TEST_F(MigrationsTest, AFailedStepLeavesNothingBehind) {
  Database db = open();
  Status failed = migrate(db, {"notes", {"CREATE TABLE notes (id INTEGER)", "CREATE TABLE broken ("}});
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("notes schema step 2"), std::string::npos) << failed.error().message;
  EXPECT_FALSE(has_table(db, "notes")) << "step 1 rolled back with step 2";
  EXPECT_EQ(version_of(db, "notes"), 0);
}

TEST_F(MigrationsTest, ADatabaseFromBeforePerAreaVersionsIsAdoptedInPlace) {
  {
    // The layout of servers that kept one version for everything.
    Database legacy = open();
    ASSERT_TRUE(legacy
                    .exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"
                          "INSERT INTO notes(text) VALUES ('kept');"
                          "PRAGMA user_version = 3;")
                    .ok());
  }
  Database db = open();
  ASSERT_TRUE(migrate(db, {"notes",
                           {"CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"}})
                  .ok());
  EXPECT_EQ(count_rows(db, "SELECT COUNT(*) FROM notes"), 1);
  EXPECT_EQ(version_of(db, "notes"), 1);
  EXPECT_EQ(count_rows(db, "PRAGMA user_version"), kLayoutVersion);
}

}  // namespace
}  // namespace canopy::server
