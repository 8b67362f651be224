// The updater's building blocks on a real filesystem: the state record, the
// A/B slots (stage, promote, a promote cut short, leftovers, a full disk),
// the health check on real packages, crash injection, backoff and the
// active-model holder.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "agent/active_model.h"
#include "agent/backoff.h"
#include "agent/device_client.h"
#include "agent/fault_injection.h"
#include "agent/health_check.h"
#include "agent/slots.h"
#include "agent/update_state.h"
#include "common/hash.h"
#include "fault_env.h"
#include "model_packages.h"
#include "test_support.h"

namespace canopy::agent {
namespace {

using canopy::testing::build_model_package;
using canopy::testing::ModelPackageSpec;
using canopy::testing::TempDir;

class AgentUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(init_crypto().ok());
    key_ = KeyPair::generate();
  }

  // A signed package zip; returns its path.
  fs::path package(const std::string& name, ModelPackageSpec spec = {}) {
    fs::path zip = work_ / (name + ".zip");
    build_model_package(work_ / ("src-" + name), zip, spec, key_);
    return zip;
  }

  package::VerifyOptions trusting() const {
    package::VerifyOptions options;
    options.trusted_keys = {key_.public_key};
    return options;
  }

  TempDir work_;
  KeyPair key_;
};

TEST_F(AgentUnitTest, MissingStateIsAFreshDevice) {
  StateStore store(work_.path());
  auto state = store.load();
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(state->phase, Phase::kIdle);
  EXPECT_TRUE(state->active_slot.empty());
  EXPECT_FALSE(state->current());
  EXPECT_EQ(state->inactive_slot(), "a");
}

TEST_F(AgentUnitTest, StateRoundTripsThroughTheFile) {
  StateStore store(work_.path());
  UpdateState state;
  state.phase = Phase::kHealthChecking;
  state.active_slot = "b";
  state.slot_a = ModelRef{"crop-detector", 3, std::string(64, 'a')};
  state.slot_b = ModelRef{"crop-detector", 4, std::string(64, 'b')};
  state.target = Target{7, "install", ModelRef{"crop-detector", 5, std::string(64, 'c')}, 1234,
                        "/api/v1/device/packages/crop-detector/5"};
  state.attempts = 2;
  state.failed = ModelRef{"crop-detector", 2, std::string(64, 'd')};
  state.last_error = "golden sample failed";
  ASSERT_TRUE(store.save(state).ok());
  EXPECT_EQ(fs::status(store.path()).permissions() & fs::perms::others_read, fs::perms::none);

  auto loaded = store.load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(state_to_json(*loaded), state_to_json(state));
  EXPECT_EQ(loaded->current()->version, 4);
  EXPECT_EQ(loaded->previous()->version, 3);
  EXPECT_EQ(loaded->inactive_slot(), "a");
  EXPECT_TRUE(canopy::testing::list_files(work_.path()) == std::vector<std::string>{"state.json"})
      << "no temp file is left next to the state";
}

TEST_F(AgentUnitTest, DamagedStateIsAnErrorNotAFreshDevice) {
  canopy::testing::write_bytes(work_ / "state.json", "{\"phase\": \"downloading\", \"active_slot\": \"a\"}");
  auto state = StateStore(work_.path()).load();
  ASSERT_FALSE(state.ok());
  EXPECT_NE(state.error().message.find("no target"), std::string::npos) << state.error().message;
  canopy::testing::write_bytes(work_ / "state.json", "{\"phase\": \"dancing\", \"active_slot\": \"a\"}");
  EXPECT_FALSE(StateStore(work_.path()).load().ok());
}

TEST_F(AgentUnitTest, StagePromoteAndPromoteAgainAfterACrash) {
  SlotStore slots(work_.path(), 0);
  fs::path v1 = package("v1", {.scale = 2.0f, .golden_scale = 2.0f, .seed = 1});
  fs::path v2 = package("v2", {.scale = 3.0f, .golden_scale = 3.0f, .seed = 2});
  ASSERT_TRUE(slots.stage(v1, "a", trusting()).ok());
  ASSERT_TRUE(slots.promote("a").ok());
  EXPECT_TRUE(fs::exists(slots.slot_dir("a") / "canopy.json"));
  EXPECT_FALSE(slots.has_staged("a"));
  EXPECT_TRUE(slots.promote("a").ok()) << "promoting with nothing staged is a no-op";
  EXPECT_TRUE(fs::exists(slots.slot_dir("a") / "canopy.json"));

  // A crash after the old slot was removed and before the rename: calling
  // promote again finishes the move.
  auto staged = slots.stage(v2, "a", trusting());
  ASSERT_TRUE(staged.ok()) << staged.error().message;
  fs::remove_all(slots.slot_dir("a"));
  ASSERT_TRUE(slots.promote("a").ok());
  auto manifest = package::parse_manifest(canopy::testing::read_bytes(slots.slot_dir("a") / "canopy.json"));
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ(canopy::testing::read_bytes(slots.slot_dir("a") / "canopy.json"), staged->manifest_bytes);
}

TEST_F(AgentUnitTest, LeftoversAreRemovedButTheKeptStageStays) {
  SlotStore slots(work_.path(), 0);
  ASSERT_TRUE(slots.stage(package("v1"), "b", trusting()).ok());
  fs::create_directories(work_ / "slots" / ".a.next.extract-abc123" / "golden");
  canopy::testing::write_bytes(work_ / "slots" / ".a.next.extract-abc123" / "model.onnx", "half");
  fs::create_directories(slots.staging_dir("a"));
  slots.remove_leftovers("b");
  EXPECT_TRUE(slots.has_staged("b"));
  EXPECT_FALSE(slots.has_staged("a"));
  EXPECT_FALSE(fs::exists(work_ / "slots" / ".a.next.extract-abc123"));
  slots.remove_leftovers("");
  EXPECT_FALSE(slots.has_staged("b"));
}

TEST_F(AgentUnitTest, AFullSlotDirectoryRefusesTheInstallAndWritesNothing) {
  fs::path zip = package("big", {.padding_bytes = 200000});
  SlotStore slots(work_.path(), 100000);
  auto staged = slots.stage(zip, "a", trusting());
  ASSERT_FALSE(staged.ok());
  EXPECT_EQ(staged.error().code, ErrorCode::kTooLarge);
  EXPECT_NE(staged.error().message.find("not enough disk space"), std::string::npos)
      << staged.error().message;
  EXPECT_FALSE(slots.has_staged("a"));
  EXPECT_TRUE(canopy::testing::list_files(work_ / "slots").empty());
}

TEST_F(AgentUnitTest, AnUntrustedSignatureIsNotStaged) {
  SlotStore slots(work_.path(), 0);
  package::VerifyOptions other;
  other.trusted_keys = {KeyPair::generate().public_key};
  auto staged = slots.stage(package("v1"), "a", other);
  ASSERT_FALSE(staged.ok());
  EXPECT_EQ(staged.error().code, ErrorCode::kBadSignature);
  EXPECT_FALSE(slots.has_staged("a"));
}

TEST_F(AgentUnitTest, HealthCheckPassesAGoodModelAndKeepsItsEngine) {
  SlotStore slots(work_.path(), 0);
  ASSERT_TRUE(slots.stage(package("v1"), "a", trusting()).ok());
  auto loaded = check_model(slots.staging_dir("a"), ModelRef{"crop-detector", 1, ""}, {});
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_TRUE((*loaded)->engine);
  infer::Tensor input = infer::Tensor::allocate(infer::DataType::kFloat32, {1, 3, 8, 8});
  input.data<float>()[5] = 1.5f;
  auto out = (*loaded)->engine->run({input});
  ASSERT_TRUE(out.ok());
  EXPECT_FLOAT_EQ(out->front().data<float>()[5], 3.0f);
}

TEST_F(AgentUnitTest, HealthCheckRejectsWrongOutputsSlownessAndMemory) {
  SlotStore slots(work_.path(), 0);
  ASSERT_TRUE(slots.stage(package("wrong", {.scale = 2.0f, .golden_scale = 2.5f}), "a", trusting()).ok());
  auto wrong = check_model(slots.staging_dir("a"), ModelRef{"crop-detector", 1, ""}, {});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("golden sample golden/output_0.pb"), std::string::npos)
      << wrong.error().message;

  ASSERT_TRUE(slots.stage(package("slow", {.latency_budget_ms = 1e-6}), "a", trusting()).ok());
  auto slow = check_model(slots.staging_dir("a"), ModelRef{"crop-detector", 1, ""}, {});
  ASSERT_FALSE(slow.ok());
  EXPECT_NE(slow.error().message.find("too slow"), std::string::npos) << slow.error().message;

  ASSERT_TRUE(slots.stage(package("fat", {.memory_budget_bytes = 100}), "a", trusting()).ok());
  auto fat = check_model(slots.staging_dir("a"), ModelRef{"crop-detector", 1, ""}, {});
  ASSERT_FALSE(fat.ok());
  EXPECT_NE(fat.error().message.find("of memory, the budget is"), std::string::npos) << fat.error().message;

  ASSERT_TRUE(slots
                  .stage(package("roomy", {.latency_budget_ms = 10000, .memory_budget_bytes = 1u << 30}), "a",
                         trusting())
                  .ok());
  EXPECT_TRUE(check_model(slots.staging_dir("a"), ModelRef{"crop-detector", 1, ""}, {}).ok());
}

TEST_F(AgentUnitTest, StateFileSurvivesAFailureOrPowerCutAtEveryWrite) {
  canopy::testing::FaultEnv env;
  StateStore store(work_.path(), env);
  UpdateState before;
  before.active_slot = "a";
  before.slot_a = ModelRef{"crop-detector", 1, std::string(64, 'a')};
  ASSERT_TRUE(store.save(before).ok());
  UpdateState after = before;
  after.active_slot = "b";
  after.slot_b = ModelRef{"crop-detector", 2, std::string(64, 'b')};
  int failing = 1;
  for (;; ++failing) {
    env.reset();
    env.fail_from_operation(failing);
    if (store.save(after).ok()) break;
    // Right after the failure the record is whole, old or (renamed, not yet
    // durable) new; after a power cut it is the old one.
    auto loaded = StateStore(work_.path()).load();
    ASSERT_TRUE(loaded.ok()) << "operation " << failing << ": " << loaded.error().message;
    EXPECT_TRUE(loaded->active_slot == "a" || loaded->active_slot == "b") << "operation " << failing;
    env.drop_unsynced();
    loaded = StateStore(work_.path()).load();
    ASSERT_TRUE(loaded.ok()) << "operation " << failing << ": " << loaded.error().message;
    EXPECT_EQ(loaded->active_slot, "a") << "operation " << failing << " and a power cut";
    EXPECT_FALSE(loaded->slot_b.has_value());
  }
  EXPECT_GT(failing, 1);
  env.drop_unsynced();
  auto loaded = StateStore(work_.path()).load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->active_slot, "b") << "a save that returned is durable";
}

TEST_F(AgentUnitTest, HealthCheckRefusesAStagedModelDamagedAfterExtraction) {
  SlotStore slots(work_.path(), 0);
  ASSERT_TRUE(slots.stage(package("v1"), "a", trusting()).ok());
  const fs::path golden = slots.staging_dir("a") / "golden" / "input_0.pb";
  std::string bytes = canopy::testing::read_bytes(golden);
  ASSERT_FALSE(bytes.empty());
  bytes.back() ^= 0x40;
  canopy::testing::write_bytes(golden, bytes);
  auto checked = check_model(slots.staging_dir("a"), ModelRef{"crop-detector", 1, ""}, {});
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().message.find("damaged on disk: slot a.next: golden/input_0.pb does not match"),
            std::string::npos)
      << checked.error().message;

  HealthOptions other_signer;
  other_signer.trusted_keys = {KeyPair::generate().public_key};
  ASSERT_TRUE(slots.stage(package("v1"), "b", trusting()).ok());
  auto untrusted = check_model(slots.staging_dir("b"), ModelRef{"crop-detector", 1, ""}, other_signer);
  ASSERT_FALSE(untrusted.ok());
  EXPECT_NE(untrusted.error().message.find("not trusted here"), std::string::npos)
      << untrusted.error().message;
}

TEST_F(AgentUnitTest, CrashPointsParseAndKillWithSigkill) {
  EXPECT_TRUE(FaultInjector::parse("").ok());
  EXPECT_TRUE(FaultInjector::parse("switching").ok());
  EXPECT_TRUE(FaultInjector::parse("download:12").ok());
  EXPECT_FALSE(FaultInjector::parse("download:0").ok());
  EXPECT_FALSE(FaultInjector::parse("download:x").ok());
  EXPECT_FALSE(FaultInjector::parse(":3").ok());
  auto injector = FaultInjector::parse("download:3");
  ASSERT_TRUE(injector.ok());
  EXPECT_EXIT(
      {
        injector->reached("installing");
        injector->reached("download");
        injector->reached("download");
        std::fprintf(stderr, "alive after two visits\n");
        injector->reached("download");
        std::_Exit(0);
      },
      ::testing::KilledBySignal(SIGKILL), "alive after two visits");
}

TEST_F(AgentUnitTest, BackoffGrowsWithJitterAndPollsAreJittered) {
  Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(1000));
  for (int i = 0; i < 20; ++i) {
    auto wait = backoff.next_failure();
    EXPECT_GE(wait.count(), 100);
    EXPECT_LE(wait.count(), std::min(1000, 100 << std::min(i, 10)));
  }
  backoff.reset();
  EXPECT_EQ(backoff.next_failure().count(), 100) << "the first wait after a success is the initial one";
  for (int i = 0; i < 50; ++i) {
    auto wait = backoff.jittered(std::chrono::seconds(30));
    EXPECT_GE(wait.count(), 24000);
    EXPECT_LE(wait.count(), 36000);
  }
}

TEST_F(AgentUnitTest, DesiredStateFromTheServerIsCheckedBeforeUse) {
  Json body = {{"device_id", "3f2a"},
               {"status", "active"},
               {"poll_interval_s", 15},
               {"deployment", {{"id", 7}, {"action", "install"}}},
               {"model",
                {{"name", "crop-detector"},
                 {"version", 4},
                 {"sha256", std::string(64, 'a')},
                 {"size", 1234},
                 {"url", "/api/v1/device/packages/crop-detector/4"}}}};
  auto desired = parse_desired(body);
  ASSERT_TRUE(desired.ok()) << desired.error().message;
  EXPECT_EQ(desired->poll_interval_s, 15);
  ASSERT_TRUE(desired->target);
  EXPECT_EQ(desired->target->deployment_id, 7);
  EXPECT_EQ(desired->target->model.label(), "crop-detector:4");

  Json nothing = {
      {"status", "pending"}, {"poll_interval_s", 30}, {"deployment", nullptr}, {"model", nullptr}};
  auto idle = parse_desired(nothing);
  ASSERT_TRUE(idle.ok());
  EXPECT_FALSE(idle->target);
  EXPECT_EQ(idle->status, "pending");

  Json traversal = body;
  traversal["model"]["sha256"] = "../../identity";  // names a file on disk
  EXPECT_FALSE(parse_desired(traversal).ok());
  Json elsewhere = body;
  elsewhere["model"]["url"] = "http://attacker.example/model.zip";
  EXPECT_FALSE(parse_desired(elsewhere).ok());
  Json unknown = body;
  unknown["deployment"]["action"] = "format-disk";
  EXPECT_FALSE(parse_desired(unknown).ok());
  Json incomplete = body;
  incomplete["model"].erase("size");
  EXPECT_FALSE(parse_desired(incomplete).ok());
}

TEST_F(AgentUnitTest, ReadersKeepTheirSnapshotAcrossASwitch) {
  ActiveModel active;
  EXPECT_FALSE(active.get());
  auto first = std::make_shared<LoadedModel>();
  first->ref = ModelRef{"crop-detector", 1, ""};
  active.set(first);
  std::shared_ptr<const LoadedModel> held = active.get();
  std::atomic<bool> done{false};
  std::atomic<long> reads{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto model = active.get();
      ASSERT_TRUE(model);
      ASSERT_GE(model->ref.version, 1);
      ++reads;
    }
  });
  while (reads.load() == 0) std::this_thread::yield();
  for (int version = 2; version <= 200; ++version) {
    auto next = std::make_shared<LoadedModel>();
    next->ref = ModelRef{"crop-detector", version, ""};
    active.set(next);
  }
  done = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(held->ref.version, 1);
  EXPECT_EQ(active.get()->ref.version, 200);
}

}  // namespace
}  // namespace canopy::agent
