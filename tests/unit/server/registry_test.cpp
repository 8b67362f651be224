// The registry area on its own: publishing, numbering and deduplication,
// references and aliases, the delete guard, the run lineage query, and that
// it migrates only its own tables. No HTTP.
#include "server/registry/registry.h"

#include <gtest/gtest.h>

#include "common/hash.h"
#include "common/time.h"
#include "fault_env.h"
#include "server/storage/migrations.h"
#include "test_support.h"

namespace canopy::server {
namespace {

class RegistryAreaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(init_crypto().ok());
    publisher_ = KeyPair::generate();
    RegistryOptions options;
    options.trusted_publishers = {publisher_.public_key};
    auto db = Database::open_in(dir_ / "data");
    auto blobs = BlobStore::open(dir_ / "data");
    ASSERT_TRUE(db.ok() && blobs.ok());
    auto registry =
        Registry::open(std::move(db).value(), std::move(blobs).value(), options, KeyPair::generate(), clock_);
    ASSERT_TRUE(registry.ok()) << registry.error().message;
    registry_ = std::move(registry).value();
  }

  // A signed package of `name` whose model file holds `model_bytes`, with
  // lineage.pipeline_run set when `run_id` is given.
  std::string package(const std::string& name, const std::string& model_bytes,
                      const std::string& run_id = "") {
    fs::path dir = dir_ / ("pkg-" + name);
    fs::remove_all(dir);
    testing::write_bytes(dir_ / "model.onnx", model_bytes);
    package::InitOptions init;
    init.directory = dir;
    init.model = dir_ / "model.onnx";
    init.name = name;
    init.labels = {"healthy", "diseased"};
    EXPECT_TRUE(package::init_package(init).ok());
    if (!run_id.empty()) {
      Json manifest = Json::parse(testing::read_bytes(dir / "canopy.json"));
      manifest["lineage"]["pipeline_run"] = run_id;
      testing::write_bytes(dir / "canopy.json", manifest.dump(2));
    }
    auto created = package::create_package(dir, dir_ / "package.zip", publisher_);
    EXPECT_TRUE(created.ok()) << created.error().message;
    return testing::read_bytes(dir_ / "package.zip");
  }

  // Publishes with key-1, as pipeline run `publishing_run` when given.
  Result<PublishResult> publish(const std::string& bytes, const std::string& publishing_run = "") {
    auto temp = TempFile::create(registry_->tmp_dir(), "upload-");
    EXPECT_TRUE(temp.ok());
    EXPECT_TRUE(temp->write(bytes).ok());
    return registry_->publish(std::move(temp).value(), sha256_hex(bytes), std::nullopt,
                              Publisher{"key-1", publishing_run});
  }

  std::int64_t publish_version(const std::string& bytes) {
    auto published = publish(bytes);
    EXPECT_TRUE(published.ok()) << published.error().message;
    return published.ok() ? published->version.version : 0;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  KeyPair publisher_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(RegistryAreaTest, VersionsAreNumberedAndIdenticalUploadsDeduplicated) {
  const std::string first = package("crop", testing::random_bytes(2000, 1));
  auto published = publish(first);
  ASSERT_TRUE(published.ok()) << published.error().message;
  EXPECT_TRUE(published->created);
  EXPECT_EQ(published->version.version, 1);
  EXPECT_EQ(published->version.created_at, format_utc(clock_.wall_ms()));
  EXPECT_EQ(published->version.uploaded_by, "key-1");
  EXPECT_TRUE(fs::exists(registry_->blob_path(published->version.blob_sha256)));

  auto again = publish(first);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->version.version, 1);

  clock_.advance_ms(60'000);
  EXPECT_EQ(publish_version(package("crop", testing::random_bytes(2000, 2))), 2);
  auto models = registry_->list_models("", "");
  ASSERT_TRUE(models.ok());
  ASSERT_EQ(models->size(), 1u);
  EXPECT_EQ((*models)[0].version_count, 2);
  EXPECT_EQ((*models)[0].latest_version, 2);
  EXPECT_EQ((*models)[0].updated_at, format_utc(clock_.wall_ms()));
}

TEST_F(RegistryAreaTest, ReferencesResolveToNumbersLatestAndAliases) {
  ASSERT_EQ(publish_version(package("crop", testing::random_bytes(1000, 1))), 1);
  ASSERT_EQ(publish_version(package("crop", testing::random_bytes(1000, 2))), 2);
  ASSERT_TRUE(registry_->set_alias("crop", "production", 1, "key-1").ok());
  EXPECT_EQ(registry_->resolve("crop", "@production")->version, 1);
  EXPECT_EQ(registry_->resolve("crop", "latest")->version, 2);
  EXPECT_EQ(registry_->resolve("crop", "2")->version, 2);
  EXPECT_EQ(registry_->resolve("crop", "0").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(registry_->resolve("crop", "@staging").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(registry_->resolve("wheat", "latest").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(registry_->set_alias("crop", "7", 1, "key-1").error().code, ErrorCode::kInvalidArgument);

  ASSERT_TRUE(registry_->set_alias("crop", "production", 2, "key-2").ok());
  ASSERT_TRUE(registry_->remove_alias("crop", "production", "key-3").ok());
  auto history = registry_->alias_history("crop", "production");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].version, 1);
  EXPECT_EQ((*history)[1].version, 2);
  EXPECT_FALSE((*history)[2].version) << "the removal is recorded too";
  EXPECT_EQ((*history)[2].changed_by, "key-3");
}

TEST_F(RegistryAreaTest, DeletesAskTheGuardAndAliasesHoldVersions) {
  ASSERT_EQ(publish_version(package("crop", testing::random_bytes(1000, 1))), 1);
  ASSERT_EQ(publish_version(package("crop", testing::random_bytes(1000, 2))), 2);
  const std::string blob = registry_->get_version("crop", 2)->blob_sha256;
  std::vector<std::pair<std::string, std::int64_t>> asked;
  registry_->set_delete_guard([&asked](const std::string& model, std::int64_t version) -> Status {
    asked.emplace_back(model, version);
    return make_error(ErrorCode::kConflict, "version " + std::to_string(version) + " is on a device");
  });
  Status refused = registry_->delete_version("crop", 2);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0], std::make_pair(std::string("crop"), std::int64_t{2}));
  EXPECT_TRUE(registry_->get_version("crop", 2).ok());

  registry_->set_delete_guard(nullptr);
  ASSERT_TRUE(registry_->set_alias("crop", "production", 1, "key-1").ok());
  EXPECT_EQ(registry_->delete_version("crop", 1).error().code, ErrorCode::kConflict)
      << "an alias holds version 1";
  ASSERT_TRUE(registry_->delete_version("crop", 2).ok());
  EXPECT_EQ(registry_->get_version("crop", 2).error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(fs::exists(registry_->blob_path(blob))) << "no version names the blob any more";
  EXPECT_EQ(publish_version(package("crop", testing::random_bytes(1000, 3))), 3)
      << "numbers are never reused";
}

TEST_F(RegistryAreaTest, VersionsOfARunAreFoundByTheirLineage) {
  ASSERT_EQ(publish_version(package("crop", testing::random_bytes(1000, 1), "run-7")), 1);
  ASSERT_EQ(publish_version(package("crop", testing::random_bytes(1000, 2), "run-8")), 2);
  ASSERT_EQ(publish_version(package("weeds", testing::random_bytes(1000, 3), "run-7")), 1);
  ASSERT_TRUE(registry_->set_alias("weeds", "production", 1, "key-1").ok());
  auto outputs = registry_->versions_of_run("run-7");
  ASSERT_TRUE(outputs.ok()) << outputs.error().message;
  ASSERT_EQ(outputs->size(), 2u);
  EXPECT_EQ((*outputs)[0].model, "crop");
  EXPECT_EQ((*outputs)[0].version, 1);
  EXPECT_EQ((*outputs)[1].model, "weeds");
  EXPECT_EQ((*outputs)[1].aliases, std::vector<std::string>{"production"});
  EXPECT_TRUE(registry_->versions_of_run("run-9")->empty());
}

// A pipeline whose package step came from the cache uploads a manifest an
// earlier run built; the run that publishes it is the one its lineage names.
TEST_F(RegistryAreaTest, ThePublishingRunIsTheOneTheLineageNames) {
  auto published = publish(package("crop", testing::random_bytes(1000, 4), "run-1"), "run-2");
  ASSERT_TRUE(published.ok()) << published.error().message;
  EXPECT_EQ(published->version.summary["lineage"]["pipeline_run"], "run-2");
  EXPECT_EQ(published->version.summary["lineage"]["built_by_run"], "run-1");
  ASSERT_EQ(registry_->versions_of_run("run-2")->size(), 1u);
  EXPECT_TRUE(registry_->versions_of_run("run-1")->empty());

  // Published by the run that built it: nothing to add.
  published = publish(package("crop", testing::random_bytes(1000, 5), "run-3"), "run-3");
  ASSERT_TRUE(published.ok()) << published.error().message;
  EXPECT_EQ(published->version.summary["lineage"]["pipeline_run"], "run-3");
  EXPECT_FALSE(published->version.summary["lineage"].contains("built_by_run"));
}

TEST_F(RegistryAreaTest, OnlyTheRegistrysOwnTablesAreMigrated) {
  auto db = Database::open_in(dir_ / "data");
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*schema_version(*db, "registry"), 1);
  EXPECT_EQ(*schema_version(*db, "fleet"), 0);
  EXPECT_EQ(*schema_version(*db, "auth"), 0);
  auto stmt = db->prepare(
      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('devices', 'api_keys', 'runs')");
  ASSERT_TRUE(stmt.ok());
  ASSERT_TRUE(*stmt->step());
  EXPECT_EQ(stmt->column_int(0), 0) << "other areas' tables are theirs to create";
}

// A publish whose file writes fail at any single operation, or are cut by a
// power loss right after, leaves the registry as it was: the versions it
// lists, and after the next start no stray blob or upload.
TEST(RegistryFailureTest, APublishFailingAtEveryWriteLeavesTheOldState) {
  ASSERT_TRUE(init_crypto().ok());
  testing::TempDir dir;
  testing::FaultEnv env;
  ManualClock clock;
  const KeyPair publisher = KeyPair::generate();
  RegistryOptions options;
  options.trusted_publishers = {publisher.public_key};
  auto open = [&]() -> std::unique_ptr<Registry> {
    auto db = Database::open_in(dir / "data");
    auto blobs = BlobStore::open(dir / "data", env);
    EXPECT_TRUE(db.ok() && blobs.ok());
    auto registry =
        Registry::open(std::move(db).value(), std::move(blobs).value(), options, KeyPair::generate(), clock);
    EXPECT_TRUE(registry.ok()) << registry.error().message;
    return registry.ok() ? std::move(registry).value() : nullptr;
  };
  auto signed_package = [&](const std::string& model_bytes) {
    const fs::path pkg = dir / ("pkg-" + sha256_hex(model_bytes).substr(0, 8));
    testing::write_bytes(dir / "model.onnx", model_bytes);
    package::InitOptions init;
    init.directory = pkg;
    init.model = dir / "model.onnx";
    init.name = "crop";
    init.labels = {"healthy", "diseased"};
    EXPECT_TRUE(package::init_package(init).ok());
    EXPECT_TRUE(package::create_package(pkg, dir / "package.zip", publisher).ok());
    return testing::read_bytes(dir / "package.zip");
  };
  auto publish = [&](Registry& registry, const std::string& bytes) -> Status {
    CANOPY_ASSIGN_OR_RETURN(TempFile upload, TempFile::create(registry.tmp_dir(), "upload-", env));
    CANOPY_TRY(upload.write(bytes));
    auto published =
        registry.publish(std::move(upload), sha256_hex(bytes), std::nullopt, Publisher{"key-1", ""});
    if (!published.ok()) return published.error();
    return {};
  };
  auto blob_files = [&] { return testing::list_files(dir / "data" / "blobs"); };

  std::unique_ptr<Registry> registry = open();
  ASSERT_TRUE(publish(*registry, signed_package(testing::random_bytes(3000, 1))).ok());
  const std::vector<std::string> blobs_before = blob_files();
  const std::string second = signed_package(testing::random_bytes(3000, 2));
  int failing = 1;
  for (;; ++failing) {
    env.reset();
    env.fail_from_operation(failing);
    if (publish(*registry, second).ok()) break;
    env.reset();
    env.drop_unsynced();
    registry = open();  // the next start, after the failure and a power cut
    ASSERT_TRUE(registry);
    auto versions = registry->list_versions("crop");
    ASSERT_TRUE(versions.ok());
    ASSERT_EQ(versions->size(), 1u) << "operation " << failing;
    EXPECT_EQ(versions->front().version, 1);
    EXPECT_EQ(blob_files(), blobs_before) << "operation " << failing;
    EXPECT_TRUE(testing::list_files(registry->tmp_dir()).empty()) << "operation " << failing;
  }
  // Upload: create, append; publish: sync, set the mode, sync, rename into
  // the store, sync its directory. The eighth try has nothing left to fail.
  EXPECT_EQ(failing, 8);
  env.drop_unsynced();
  registry = open();
  auto versions = registry->list_versions("crop");
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(versions->size(), 2u) << "a publish that returned is durable";
}

}  // namespace
}  // namespace canopy::server
