#include "common/config.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "test_support.h"

namespace canopy {
namespace {

using testing::TempDir;

class ConfigTest : public ::testing::Test {
 protected:
  void TearDown() override {
    ::unsetenv("CANOPY_SERVER");
    ::unsetenv("CANOPY_UPLOAD_MAX_BYTES");
  }
};

TEST_F(ConfigTest, PrecedenceIsFlagThenEnvThenFileThenDefault) {
  TempDir dir;
  testing::write_bytes(dir / "c.yaml",
                       "server: http://from-file\nupload:\n  max_bytes: 10\nonly_file: yes\n");
  auto config = Config::load(dir / "c.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->get("server"), "http://from-file");
  EXPECT_EQ(*config->get_int("upload.max_bytes", 0), 10);
  EXPECT_EQ(config->get("missing", "fallback"), "fallback");

  ::setenv("CANOPY_SERVER", "http://from-env", 1);
  ::setenv("CANOPY_UPLOAD_MAX_BYTES", "20", 1);
  EXPECT_EQ(config->get("server"), "http://from-env");
  EXPECT_EQ(*config->get_int("upload.max_bytes", 0), 20);

  config->set_flag("server", "http://from-flag");
  EXPECT_EQ(config->get("server"), "http://from-flag");
  EXPECT_EQ(config->get("only_file"), "yes");
}

TEST_F(ConfigTest, MissingRequiredSettingNamesEveryWayToSetIt) {
  auto config = Config::load("");
  ASSERT_TRUE(config.ok());
  auto value = config->require("api_key");
  ASSERT_FALSE(value.ok());
  EXPECT_NE(value.error().message.find("--api-key"), std::string::npos);
  EXPECT_NE(value.error().message.find("CANOPY_API_KEY"), std::string::npos);
}

TEST_F(ConfigTest, MalformedFileIsAnErrorWithLine) {
  TempDir dir;
  testing::write_bytes(dir / "bad.yaml", "server: [unclosed\nother: 1\n");
  auto config = Config::load(dir / "bad.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("line"), std::string::npos);
  EXPECT_FALSE(Config::load(dir / "absent.yaml").ok());
  testing::write_bytes(dir / "list.yaml", "- a\n- b\n");
  EXPECT_FALSE(Config::load(dir / "list.yaml").ok());
}

TEST_F(ConfigTest, NonIntegerIsAnError) {
  auto config = Config::load("");
  config->set_flag("upload.max_bytes", "12k");
  auto value = config->get_int("upload.max_bytes", 0);
  ASSERT_FALSE(value.ok());
  EXPECT_NE(value.error().message.find("12k"), std::string::npos);
}

}  // namespace
}  // namespace canopy
