// Which field configuration the agent runs: its own file until an operator
// sets one on the server; a bad one from the server is refused once, the
// running one goes on, and a restart runs what ran before. (The zones' short
// minimum off-time lets a valve closed by a stopping loop open again soon.) Real threads on
// the real clock with one-second periods: what is awaited is a file the
// loop writes, never a fixed sleep.
#include "agent/field_work.h"

#include <gtest/gtest.h>

#include <thread>

#include "outbox/outbox.h"
#include "test_support.h"

namespace canopy::agent {
namespace {

using canopy::testing::read_bytes;
using canopy::testing::TempDir;
using canopy::testing::write_bytes;

std::string field_yaml(const std::filesystem::path& dir, const std::string& valve) {
  return "sensors:\n"
         "  - {name: soil, measures: soil_moisture, file: " +
         (dir / "soil").string() +
         ", period: 1s}\n"
         "zones:\n"
         "  - {name: north, soil: loam, soil_sensor: soil, min_off: 1s, valve: {file: " +
         (dir / valve).string() + "}}\n";
}

// Waits up to five seconds for `path` to hold `content`.
bool wait_for(const std::filesystem::path& path, const std::string& content) {
  for (int i = 0; i < 500; ++i) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec) && read_bytes(path) == content) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

class FieldWorkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_bytes(dir_ / "soil", "0.15\n");  // dry: a running zone opens its valve
    write_bytes(dir_ / "own.yaml", field_yaml(dir_.path(), "valve-own"));
    options_.data_dir = dir_ / "data";
    std::filesystem::create_directories(options_.data_dir);
    options_.field_config = dir_ / "own.yaml";
    options_.server_url = "http://127.0.0.1:9";  // nothing listens: the uploader waits, as offline
  }

  std::vector<Json> config_alerts() {
    auto outbox = outbox::Outbox::open(options_.data_dir / "outbox");
    EXPECT_TRUE(outbox.ok());
    std::vector<Json> out;
    if (!outbox.ok()) return out;
    auto batch = (*outbox)->next_batch(1000, 1 << 24);
    EXPECT_TRUE(batch.ok());
    for (const api::DeviceRecord& record : batch->records)
      if (record.stream == api::Stream::kAlerts && record.body["condition"] == "config")
        out.push_back(record.body);
    return out;
  }

  TempDir dir_;
  AgentOptions options_;
  ActiveModel active_;
  DeviceClient client_{"http://127.0.0.1:9", HttpOptions{}};
};

TEST_F(FieldWorkTest, AServerConfigurationReplacesTheOwnFileAndABadOneIsRefusedOnce) {
  {
    FieldWork field(options_, active_, client_);
    field.start();
    ASSERT_TRUE(wait_for(dir_ / "valve-own", "1\n")) << "the device's own configuration runs";

    field.offer({1, "zones: [\n"});
    auto applied = parse_json(read_bytes(options_.data_dir / "field-config.json"));
    ASSERT_TRUE(applied.ok());
    EXPECT_EQ((*applied)["refused"], 1);
    EXPECT_EQ((*applied)["version"], 0);
    EXPECT_EQ(read_bytes(dir_ / "valve-own"), "1\n") << "the running configuration goes on";

    const std::string server_text = field_yaml(dir_.path(), "valve-server");
    field.offer({2, server_text});
    EXPECT_EQ(read_bytes(dir_ / "valve-own"), "0\n") << "the old loop closed its valve when it stopped";
    ASSERT_TRUE(wait_for(dir_ / "valve-server", "1\n")) << "the server's configuration runs";
    EXPECT_EQ(read_bytes(options_.data_dir / "field.yaml"), server_text);
    EXPECT_EQ(read_bytes(options_.data_dir / "field.last-good.yaml"), server_text);
    field.offer({2, server_text});  // the same version at every poll changes nothing
  }
  EXPECT_EQ(read_bytes(dir_ / "valve-server"), "0\n") << "stopping the agent closes the valve";
  auto alerts = config_alerts();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0]["raised"], true);
  EXPECT_NE(alerts[0]["message"].get<std::string>().find("field configuration version 1:2:"),
            std::string::npos)
      << alerts[0]["message"];
  EXPECT_EQ(alerts[1]["raised"], false) << "cleared when a good one came";

  // A restart runs the server's configuration, not the file.
  std::filesystem::remove(dir_ / "valve-server");
  FieldWork restarted(options_, active_, client_);
  restarted.start();
  EXPECT_TRUE(wait_for(dir_ / "valve-server", "1\n"));
  EXPECT_EQ(read_bytes(dir_ / "valve-own"), "0\n");
}

TEST_F(FieldWorkTest, ABadOwnFileRunsTheLastGoodOneAndNoneAtAllRunsNothing) {
  {
    FieldWork field(options_, active_, client_);
    field.start();
    ASSERT_TRUE(wait_for(dir_ / "valve-own", "1\n"));
  }
  write_bytes(dir_ / "own.yaml", "zones:\n  - {name: north, soil: peat}\n");
  std::filesystem::remove(dir_ / "valve-own");
  {
    FieldWork field(options_, active_, client_);
    field.start();
    EXPECT_TRUE(wait_for(dir_ / "valve-own", "1\n")) << "the last good configuration runs";
  }
  std::filesystem::remove(options_.data_dir / "field.last-good.yaml");
  std::filesystem::remove(dir_ / "valve-own");
  FieldWork field(options_, active_, client_);
  field.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "valve-own")) << "no valid configuration: no loop, no valve";
}

}  // namespace
}  // namespace canopy::agent
