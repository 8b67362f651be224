// The updater's state record (state.json): a fresh device, a round trip, a
// damaged file, and a failure or power cut at every write.
#include "agent/update_state.h"

#include <gtest/gtest.h>

#include "agent_unit_fixture.h"
#include "fault_env.h"

namespace canopy::agent {
namespace {

TEST_F(AgentUnitTest, MissingStateIsAFreshDevice) {
  StateStore store(work_.path());
  auto state = store.load();
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(state->phase, Phase::kIdle);
  EXPECT_FALSE(state->active_slot.has_value());
  EXPECT_FALSE(state->current());
  EXPECT_EQ(state->inactive_slot(), Slot::kA);
}

TEST_F(AgentUnitTest, StateRoundTripsThroughTheFile) {
  StateStore store(work_.path());
  UpdateState state;
  state.phase = Phase::kHealthChecking;
  state.active_slot = Slot::kB;
  state.slot_a = PackageRef{{"crop-detector", 3}, std::string(64, 'a')};
  state.slot_b = PackageRef{{"crop-detector", 4}, std::string(64, 'b')};
  state.target =
      Assignment{7, api::Action::kInstall, PackageRef{{"crop-detector", 5}, std::string(64, 'c'), 1234},
                 "/api/v1/device/packages/crop-detector/5"};
  state.attempts = 2;
  state.failed = PackageRef{{"crop-detector", 2}, std::string(64, 'd')};
  state.last_error = "golden sample failed";
  ASSERT_TRUE(store.save(state).ok());
  EXPECT_EQ(fs::status(store.path()).permissions() & fs::perms::others_read, fs::perms::none);

  auto loaded = store.load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(state_to_json(*loaded), state_to_json(state));
  EXPECT_EQ(loaded->current()->model.version, 4);
  EXPECT_EQ(loaded->previous()->model.version, 3);
  EXPECT_EQ(loaded->inactive_slot(), Slot::kA);
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

TEST_F(AgentUnitTest, StateFileSurvivesAFailureOrPowerCutAtEveryWrite) {
  canopy::testing::FaultEnv env;
  StateStore store(work_.path(), env);
  UpdateState before;
  before.active_slot = Slot::kA;
  before.slot_a = PackageRef{{"crop-detector", 1}, std::string(64, 'a')};
  ASSERT_TRUE(store.save(before).ok());
  UpdateState after = before;
  after.active_slot = Slot::kB;
  after.slot_b = PackageRef{{"crop-detector", 2}, std::string(64, 'b')};
  int failing = 1;
  for (;; ++failing) {
    env.reset();
    env.fail_from_operation(failing);
    if (store.save(after).ok()) break;
    // Right after the failure the record is whole, old or (renamed, not yet
    // durable) new; after a power cut it is the old one.
    auto loaded = StateStore(work_.path()).load();
    ASSERT_TRUE(loaded.ok()) << "operation " << failing << ": " << loaded.error().message;
    EXPECT_TRUE(loaded->active_slot.has_value()) << "operation " << failing;
    env.drop_unsynced();
    loaded = StateStore(work_.path()).load();
    ASSERT_TRUE(loaded.ok()) << "operation " << failing << ": " << loaded.error().message;
    EXPECT_EQ(loaded->active_slot, Slot::kA) << "operation " << failing << " and a power cut";
    EXPECT_FALSE(loaded->slot_b.has_value());
  }
  EXPECT_GT(failing, 1);
  env.drop_unsynced();
  auto loaded = StateStore(work_.path()).load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->active_slot, Slot::kB) << "a save that returned is durable";
}

}  // namespace
}  // namespace canopy::agent
