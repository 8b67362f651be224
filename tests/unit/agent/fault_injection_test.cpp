// Crash points: parsed from the setting and killing with SIGKILL.
#include "agent/fault_injection.h"

#include <gtest/gtest.h>
#include <signal.h>

#include "agent_unit_fixture.h"

namespace canopy::agent {
namespace {

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

}  // namespace
}  // namespace canopy::agent
