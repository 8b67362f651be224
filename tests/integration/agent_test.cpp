// canopy-agent end to end against the real server: enrollment, installs into
// A/B slots, server-ordered rollback, every failure that must leave the
// previous model active with the reason reported, and offline reporting.
#include <sys/stat.h>

#include "agent_fixture.h"

namespace canopy::testing {
namespace {

using AgentTest = AgentFixture;

TEST_F(AgentTest, EnrollsInstallsUpdatesAndReports) {
  const fs::path data = work_ / "agent";
  auto first = run_agent(data);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  Json status = agent_status(data);
  ASSERT_TRUE(status["enrolled"].get<bool>()) << status;
  const std::string device_id = status["device_id"];
  EXPECT_TRUE(status["current"].is_null());
  struct stat info {};
  ASSERT_EQ(::stat((data / "identity.key").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((data / "enrollment.json").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  Json row = device_row(device_id);
  EXPECT_EQ(row["name"], "cam-1");
  EXPECT_EQ(row["tags"]["crop"], "wheat");

  const int v1 = publish_model({.seed = 1});
  deploy_version(v1, device_id);
  auto installed = run_agent(data);
  ASSERT_EQ(installed.exit_code, 0) << installed.output;
  status = agent_status(data);
  EXPECT_EQ(version_of(status["current"]), v1);
  EXPECT_TRUE(status["previous"].is_null());
  EXPECT_EQ(status["state"]["active_slot"], "a");
  EXPECT_TRUE(active_model_verifies(data, status));
  row = device_row(device_id);
  EXPECT_EQ(row["state"], "success") << row;
  EXPECT_EQ(version_of(row["current"]), v1) << row;

  const int v2 = publish_model({.scale = 3.0f, .golden_scale = 3.0f, .seed = 2});
  deploy_version(v2, device_id);
  auto updated = run_agent(data);
  ASSERT_EQ(updated.exit_code, 0) << updated.output;
  status = agent_status(data);
  EXPECT_EQ(version_of(status["current"]), v2);
  EXPECT_EQ(version_of(status["previous"]), v1);
  EXPECT_EQ(status["state"]["active_slot"], "b");
  EXPECT_TRUE(active_model_verifies(data, status));
  EXPECT_TRUE(partial_files(data).empty());
  EXPECT_FALSE(status["report_pending"].get<bool>());
  row = device_row(device_id);
  EXPECT_EQ(row["state"], "success") << row;
  EXPECT_EQ(version_of(row["current"]), v2) << row;
  EXPECT_EQ(version_of(row["previous"]), v1) << row;

  auto again = run_agent(data, "", " --verbose");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.output.find("agent.update "), std::string::npos) << "nothing to do when current: " << again.output;

  auto shown = run_shell(std::string(CANOPY_AGENT_BINARY) + " status --data-dir " + data.string());
  EXPECT_NE(shown.output.find("slot b:     crop-detector:" + std::to_string(v2) + "  (active)"), std::string::npos)
      << shown.output;
}

}  // namespace
}  // namespace canopy::testing
