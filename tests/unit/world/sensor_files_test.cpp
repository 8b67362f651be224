// The world's sensor files as hardware presents them, read back through the
// agent's own readers (device/sensors.h): values with noise, and each
// scheduled fault as the kernel would show it.
#include "world/sensor_files.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "common/files.h"
#include "common/text.h"
#include "test_support.h"

namespace canopy::world {
namespace {

using testing::TempDir;

constexpr std::int64_t kMinute = 60'000;

SensorReadings truth() {
  SensorReadings readings;
  readings.air_temperature_c = 23.4;
  readings.relative_humidity = 61;
  readings.soil_temperature_c = 18.25;
  readings.soil_theta_by_zone = {{"north", 0.21}, {"south", 0.30}};
  return readings;
}

SensorFileWriter writer(const TempDir& dir, std::vector<SensorFault> faults = {}) {
  return SensorFileWriter(DeviceFiles(dir.path()), {"north", "south"}, device::SoilProbeCalibration{},
                          SensorNoise{}, std::move(faults), 3);
}

TEST(SensorFiles, WritesTheKernelFormatsTheAgentReads) {
  TempDir dir;
  SensorFileWriter sensors = writer(dir);
  ASSERT_TRUE(sensors.publish(truth(), 10 * kMinute).ok());
  const DeviceFiles& files = sensors.files();
  auto air = device::hwmon_input(files.hwmon_temperature())->read();
  ASSERT_TRUE(air.ok()) << air.error().message;
  EXPECT_NEAR(*air, 23.4, 0.8);
  EXPECT_NEAR(*device::hwmon_input(files.hwmon_humidity())->read(), 61, 5);
  auto soil_c = device::w1_therm_input(files.w1_slave())->read();
  ASSERT_TRUE(soil_c.ok()) << soil_c.error().message;
  EXPECT_NEAR(*soil_c, 18.25, 0.3);
  for (auto [channel, theta] : {std::pair{0, 0.21}, std::pair{1, 0.30}}) {
    auto read = device::iio_soil_input(files.iio_raw(channel), files.iio_scale(), {})->read();
    ASSERT_TRUE(read.ok()) << read.error().message;
    EXPECT_NEAR(*read, theta, 0.015);
  }
  // Byte for byte what a DS18B20 at 23.125 °C gives (the kernel's documented
  // example): the scratchpad, its CRC-8, YES; then t= in m°C from the raw count.
  EXPECT_EQ(w1_slave_text(23.125, true),
            "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n");
  EXPECT_EQ(trim(*read_file(files.iio_scale())), "0.125000000");
  // The readings move with the noise from one minute to the next.
  const std::string first = *read_file(files.hwmon_temperature());
  ASSERT_TRUE(sensors.publish(truth(), 11 * kMinute).ok());
  EXPECT_NE(*read_file(files.hwmon_temperature()), first);
}

TEST(SensorFiles, EachFaultShowsAsHardwareShowsIt) {
  TempDir dir;
  const std::int64_t from = 5 * kMinute, until = 8 * kMinute;
  SensorFileWriter sensors =
      writer(dir, {{"soil-north", SensorFaultKind::kStuck, from, until},
                   {"air-temperature", SensorFaultKind::kNan, from, until},
                   {"soil-temperature", SensorFaultKind::kCrc, from, 6 * kMinute},
                   {"soil-temperature", SensorFaultKind::kPowerOn85, 6 * kMinute, until},
                   {"air-humidity", SensorFaultKind::kStale, from, until},
                   {"soil-south", SensorFaultKind::kDead, from, until}});
  const DeviceFiles& files = sensors.files();
  ASSERT_TRUE(sensors.publish(truth(), 4 * kMinute).ok());
  const std::string humidity_before = *read_file(files.hwmon_humidity());

  ASSERT_TRUE(sensors.publish(truth(), from).ok());
  const std::string stuck = *read_file(files.iio_raw(0));
  auto air = device::hwmon_input(files.hwmon_temperature())->read();
  ASSERT_TRUE(air.ok());
  EXPECT_TRUE(std::isnan(*air));
  auto crc = device::w1_therm_input(files.w1_slave())->read();
  ASSERT_FALSE(crc.ok());
  EXPECT_NE(crc.error().message.find("CRC"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(files.iio_raw(1))) << "a dead probe's file is gone";
  EXPECT_FALSE(device::iio_soil_input(files.iio_raw(1), files.iio_scale(), {})->read().ok());

  ASSERT_TRUE(sensors.publish(truth(), 6 * kMinute).ok());
  EXPECT_EQ(*read_file(files.iio_raw(0)), stuck) << "a stuck probe repeats its value exactly";
  EXPECT_EQ(*read_file(files.hwmon_humidity()), humidity_before) << "a stale file is not rewritten";
  auto power_on = device::w1_therm_input(files.w1_slave())->read();
  ASSERT_FALSE(power_on.ok());
  EXPECT_NE(power_on.error().message.find("85"), std::string::npos);

  // After the faults every sensor reads again, with fresh values.
  ASSERT_TRUE(sensors.publish(truth(), until).ok());
  EXPECT_NE(*read_file(files.iio_raw(0)), stuck);
  EXPECT_NE(*read_file(files.hwmon_humidity()), humidity_before);
  EXPECT_TRUE(device::w1_therm_input(files.w1_slave())->read().ok());
  EXPECT_TRUE(device::hwmon_input(files.hwmon_temperature())->read().ok());
  EXPECT_TRUE(device::iio_soil_input(files.iio_raw(1), files.iio_scale(), {})->read().ok());
}

TEST(SensorFiles, FaultsMustNameASensorThatCanHaveThem) {
  EXPECT_TRUE(check_sensor_faults({{"soil-temperature", SensorFaultKind::kCrc, 0, 1}}, {"north"}).ok());
  EXPECT_FALSE(check_sensor_faults({{"soil-north", SensorFaultKind::kCrc, 0, 1}}, {"north"}).ok());
  EXPECT_FALSE(check_sensor_faults({{"soil-east", SensorFaultKind::kDead, 0, 1}}, {"north"}).ok());
  EXPECT_FALSE(check_sensor_faults({{"soil-north", SensorFaultKind::kDead, 5, 5}}, {"north"}).ok());
  EXPECT_EQ(*sensor_fault_kind("power_on_85"), SensorFaultKind::kPowerOn85);
  EXPECT_FALSE(sensor_fault_kind("melted").ok());
}

TEST(SensorFiles, ReadsTheAgentsFileValve) {
  TempDir dir;
  SensorFileWriter sensors = writer(dir);
  ASSERT_TRUE(sensors.publish(truth(), 0).ok());
  EXPECT_FALSE(sensors.valve_open("north")) << "no file: closed";
  ASSERT_TRUE(write_file_atomic(sensors.files().valve("north"), "1").ok());
  EXPECT_TRUE(sensors.valve_open("north"));
  ASSERT_TRUE(write_file_atomic(sensors.files().valve("north"), "0").ok());
  EXPECT_FALSE(sensors.valve_open("north"));
}

}  // namespace
}  // namespace canopy::world
