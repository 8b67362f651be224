// The A/B slots on a real filesystem: stage, promote, a promote cut short,
// leftovers, a full disk, an untrusted signature.
#include "agent/slots.h"

#include <gtest/gtest.h>

#include "agent_unit_fixture.h"

namespace canopy::agent {
namespace {

TEST_F(AgentUnitTest, StagePromoteAndPromoteAgainAfterACrash) {
  SlotStore slots(work_.path(), 0);
  fs::path v1 = package("v1", {.scale = 2.0f, .golden_scale = 2.0f, .seed = 1});
  fs::path v2 = package("v2", {.scale = 3.0f, .golden_scale = 3.0f, .seed = 2});
  ASSERT_TRUE(slots.stage(v1, Slot::kA, trusting()).ok());
  ASSERT_TRUE(slots.promote(Slot::kA).ok());
  EXPECT_TRUE(fs::exists(slots.slot_dir(Slot::kA) / "canopy.json"));
  EXPECT_FALSE(slots.has_staged(Slot::kA));
  EXPECT_TRUE(slots.promote(Slot::kA).ok()) << "promoting with nothing staged is a no-op";
  EXPECT_TRUE(fs::exists(slots.slot_dir(Slot::kA) / "canopy.json"));

  // A crash after the old slot was removed and before the rename: calling
  // promote again finishes the move.
  auto staged = slots.stage(v2, Slot::kA, trusting());
  ASSERT_TRUE(staged.ok()) << staged.error().message;
  fs::remove_all(slots.slot_dir(Slot::kA));
  ASSERT_TRUE(slots.promote(Slot::kA).ok());
  auto manifest =
      package::parse_manifest(canopy::testing::read_bytes(slots.slot_dir(Slot::kA) / "canopy.json"));
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ(canopy::testing::read_bytes(slots.slot_dir(Slot::kA) / "canopy.json"), staged->manifest_bytes);
}

TEST_F(AgentUnitTest, LeftoversAreRemovedButTheKeptStageStays) {
  SlotStore slots(work_.path(), 0);
  ASSERT_TRUE(slots.stage(package("v1"), Slot::kB, trusting()).ok());
  fs::create_directories(work_ / "slots" / ".a.next.extract-abc123" / "golden");
  canopy::testing::write_bytes(work_ / "slots" / ".a.next.extract-abc123" / "model.onnx", "half");
  fs::create_directories(slots.staging_dir(Slot::kA));
  slots.remove_leftovers(Slot::kB);
  EXPECT_TRUE(slots.has_staged(Slot::kB));
  EXPECT_FALSE(slots.has_staged(Slot::kA));
  EXPECT_FALSE(fs::exists(work_ / "slots" / ".a.next.extract-abc123"));
  slots.remove_leftovers(std::nullopt);
  EXPECT_FALSE(slots.has_staged(Slot::kB));
}

TEST_F(AgentUnitTest, AFullSlotDirectoryRefusesTheInstallAndWritesNothing) {
  fs::path zip = package("big", {.padding_bytes = 200000});
  SlotStore slots(work_.path(), 100000);
  auto staged = slots.stage(zip, Slot::kA, trusting());
  ASSERT_FALSE(staged.ok());
  EXPECT_EQ(staged.error().code, ErrorCode::kTooLarge);
  EXPECT_NE(staged.error().message.find("not enough disk space"), std::string::npos)
      << staged.error().message;
  EXPECT_FALSE(slots.has_staged(Slot::kA));
  EXPECT_TRUE(canopy::testing::list_files(work_ / "slots").empty());
}

TEST_F(AgentUnitTest, AnUntrustedSignatureIsNotStaged) {
  SlotStore slots(work_.path(), 0);
  package::VerifyOptions other;
  other.trusted_keys = {KeyPair::generate().public_key};
  auto staged = slots.stage(package("v1"), Slot::kA, other);
  ASSERT_FALSE(staged.ok());
  EXPECT_EQ(staged.error().code, ErrorCode::kBadSignature);
  EXPECT_FALSE(slots.has_staged(Slot::kA));
}

}  // namespace
}  // namespace canopy::agent
