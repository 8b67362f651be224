// The health check on real packages: a good model, wrong outputs, slowness,
// memory, and files damaged after extraction.
#include "agent/health_check.h"

#include <gtest/gtest.h>

#include "agent/slots.h"
#include "agent_unit_fixture.h"

namespace canopy::agent {
namespace {

TEST_F(AgentUnitTest, HealthCheckPassesAGoodModelAndKeepsItsEngine) {
  SlotStore slots(work_.path(), 0);
  ASSERT_TRUE(slots.stage(package("v1"), Slot::kA, trusting()).ok());
  auto loaded = check_model(slots.staging_dir(Slot::kA), PackageRef{{"crop-detector", 1}, ""}, {});
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
  ASSERT_TRUE(
      slots.stage(package("wrong", {.scale = 2.0f, .golden_scale = 2.5f}), Slot::kA, trusting()).ok());
  auto wrong = check_model(slots.staging_dir(Slot::kA), PackageRef{{"crop-detector", 1}, ""}, {});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("golden sample golden/output_0.pb"), std::string::npos)
      << wrong.error().message;

  ASSERT_TRUE(slots.stage(package("slow", {.latency_budget_ms = 1e-6}), Slot::kA, trusting()).ok());
  auto slow = check_model(slots.staging_dir(Slot::kA), PackageRef{{"crop-detector", 1}, ""}, {});
  ASSERT_FALSE(slow.ok());
  EXPECT_NE(slow.error().message.find("too slow"), std::string::npos) << slow.error().message;

  ASSERT_TRUE(slots.stage(package("fat", {.memory_budget_bytes = 100}), Slot::kA, trusting()).ok());
  auto fat = check_model(slots.staging_dir(Slot::kA), PackageRef{{"crop-detector", 1}, ""}, {});
  ASSERT_FALSE(fat.ok());
  EXPECT_NE(fat.error().message.find("of memory, the budget is"), std::string::npos) << fat.error().message;

  ASSERT_TRUE(slots
                  .stage(package("roomy", {.latency_budget_ms = 10000, .memory_budget_bytes = 1u << 30}),
                         Slot::kA, trusting())
                  .ok());
  EXPECT_TRUE(check_model(slots.staging_dir(Slot::kA), PackageRef{{"crop-detector", 1}, ""}, {}).ok());
}

TEST_F(AgentUnitTest, HealthCheckRefusesAStagedModelDamagedAfterExtraction) {
  SlotStore slots(work_.path(), 0);
  ASSERT_TRUE(slots.stage(package("v1"), Slot::kA, trusting()).ok());
  const fs::path golden = slots.staging_dir(Slot::kA) / "golden" / "input_0.pb";
  std::string bytes = canopy::testing::read_bytes(golden);
  ASSERT_FALSE(bytes.empty());
  bytes.back() ^= 0x40;
  canopy::testing::write_bytes(golden, bytes);
  auto checked = check_model(slots.staging_dir(Slot::kA), PackageRef{{"crop-detector", 1}, ""}, {});
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().message.find("damaged on disk: slot a.next: golden/input_0.pb does not match"),
            std::string::npos)
      << checked.error().message;

  HealthOptions other_signer;
  other_signer.trusted_keys = {KeyPair::generate().public_key};
  ASSERT_TRUE(slots.stage(package("v1"), Slot::kB, trusting()).ok());
  auto untrusted =
      check_model(slots.staging_dir(Slot::kB), PackageRef{{"crop-detector", 1}, ""}, other_signer);
  ASSERT_FALSE(untrusted.ok());
  EXPECT_NE(untrusted.error().message.find("not trusted here"), std::string::npos)
      << untrusted.error().message;
}

}  // namespace
}  // namespace canopy::agent
