// Valves: a state file the simulated world reads, a command hook that fails
// or hangs, and a GPIO line on a chip that is not there. (No GPIO chip
// exists here; the kernel's gpio-sim would need a module this machine
// cannot load, so only the failure path of the line is exercised.)
#include "device/actuators.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace canopy::device {
namespace {

using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

TEST(ActuatorsTest, AFileValveWritesItsState) {
  TempDir dir;
  auto valve = file_valve(dir / "valve");
  ASSERT_TRUE(valve->set(true).ok());
  EXPECT_EQ(read_bytes(dir / "valve"), "1\n");
  ASSERT_TRUE(valve->set(false).ok());
  EXPECT_EQ(read_bytes(dir / "valve"), "0\n");
}

TEST(ActuatorsTest, ACommandValveIsAnErrorWhenItsHookFailsOrHangs) {
  TempDir dir;
  write_bytes(dir / "hook.sh", "#!/bin/sh\necho \"$1\" >> \"$(dirname \"$0\")/calls\"\n");
  std::filesystem::permissions(dir / "hook.sh", std::filesystem::perms::owner_all);
  auto valve = command_valve({(dir / "hook.sh").string()});
  ASSERT_TRUE(valve->set(true).ok());
  ASSERT_TRUE(valve->set(false).ok());
  EXPECT_EQ(read_bytes(dir / "calls"), "on\noff\n");
  auto failing = command_valve({"/bin/sh", "-c", "exit 2"})->set(true);
  ASSERT_FALSE(failing.ok());
  EXPECT_NE(failing.error().message.find("exited with 2"), std::string::npos) << failing.error().message;
  auto hanging =
      command_valve({"/bin/sh", "-c", "exec sleep 30"}, std::chrono::milliseconds(200))->set(false);
  ASSERT_FALSE(hanging.ok());
  EXPECT_NE(hanging.error().message.find("did not finish within 200 ms"), std::string::npos)
      << hanging.error().message;
}

TEST(ActuatorsTest, AGpioValveOnAChipThatIsNotThereIsAnError) {
  auto valve = gpio_valve("gpiochip-canopy-missing", 17);
  auto set = valve->set(false);
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.error().message.find("cannot open GPIO chip 'gpiochip-canopy-missing'"), std::string::npos)
      << set.error().message;
  EXPECT_EQ(valve->describe(), "valve gpio gpiochip-canopy-missing line 17");
}

}  // namespace
}  // namespace canopy::device
