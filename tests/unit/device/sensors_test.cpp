// Sensor inputs read from the files the kernel would expose, written here:
// values in their units, and each way a file lies caught as an error.
#include "device/sensors.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace canopy::device {
namespace {

using testing::TempDir;
using testing::write_bytes;

TEST(SensorsTest, HwmonReadsThousandths) {
  TempDir dir;
  write_bytes(dir / "temp1_input", "23125\n");
  write_bytes(dir / "humidity1_input", "61500\n");
  EXPECT_DOUBLE_EQ(*hwmon_input(dir / "temp1_input")->read(), 23.125);
  EXPECT_DOUBLE_EQ(*hwmon_input(dir / "humidity1_input")->read(), 61.5);
  write_bytes(dir / "temp1_input", "\n");
  EXPECT_FALSE(hwmon_input(dir / "temp1_input")->read().ok()) << "an empty attribute";
  EXPECT_FALSE(hwmon_input(dir / "gone")->read().ok()) << "a sensor whose file went away";
}

TEST(SensorsTest, W1ThermChecksTheCrcAndThePowerOnValue) {
  TempDir dir;
  auto input = w1_therm_input(dir / "w1_slave");
  write_bytes(dir / "w1_slave",
              "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n");
  EXPECT_DOUBLE_EQ(*input->read(), 23.125);
  write_bytes(dir / "w1_slave",
              "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=-1250\n");
  EXPECT_DOUBLE_EQ(*input->read(), -1.25);

  write_bytes(dir / "w1_slave",
              "72 01 4b 46 7f ff 0e 10 57 : crc=ab NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n");
  auto crc = input->read();
  ASSERT_FALSE(crc.ok());
  EXPECT_NE(crc.error().message.find("CRC check failed"), std::string::npos);
  write_bytes(dir / "w1_slave",
              "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n");
  auto power_on = input->read();
  ASSERT_FALSE(power_on.ok());
  EXPECT_NE(power_on.error().message.find("power-on value"), std::string::npos);
  write_bytes(dir / "w1_slave", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n");
  EXPECT_FALSE(input->read().ok()) << "truncated";
  write_bytes(dir / "w1_slave", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 t=2x\n");
  EXPECT_FALSE(input->read().ok()) << "not a number";
}

TEST(SensorsTest, IioSoilProbeMapsVoltageThroughItsCalibration) {
  TempDir dir;
  write_bytes(dir / "in_voltage_scale", "0.125000000\n");
  const SoilProbeCalibration calibration{2800, 0.05, 1200, 0.45};
  auto probe = iio_soil_input(dir / "in_voltage0_raw", dir / "in_voltage_scale", calibration);
  write_bytes(dir / "in_voltage0_raw", "22400\n");  // 2800 mV: dry
  EXPECT_NEAR(*probe->read(), 0.05, 1e-12);
  write_bytes(dir / "in_voltage0_raw", "9600\n");  // 1200 mV: saturated
  EXPECT_NEAR(*probe->read(), 0.45, 1e-12);
  write_bytes(dir / "in_voltage0_raw", "16000\n");  // 2000 mV: half-way
  EXPECT_NEAR(*probe->read(), 0.25, 1e-12);
  write_bytes(dir / "in_voltage0_raw", "40000\n");  // 5000 mV, an unplugged probe: not below 0 %
  EXPECT_DOUBLE_EQ(*probe->read(), 0.0);
  write_bytes(dir / "in_voltage0_raw", "-8000\n");  // -1000 mV, a shorted one: not above 100 %
  EXPECT_DOUBLE_EQ(*probe->read(), 1.0);
  write_bytes(dir / "in_voltage0_raw", "junk\n");
  EXPECT_FALSE(probe->read().ok());
}

TEST(SensorsTest, PlainFilesHoldOneNumber) {
  TempDir dir;
  write_bytes(dir / "vwc", " 0.213 \n");
  EXPECT_DOUBLE_EQ(*file_input(dir / "vwc")->read(), 0.213);
  write_bytes(dir / "vwc", "0.2 0.3\n");
  EXPECT_FALSE(file_input(dir / "vwc")->read().ok());
  write_bytes(dir / "vwc", std::string(10000, '1'));
  EXPECT_FALSE(file_input(dir / "vwc")->read().ok()) << "no sensor file is that large";
  EXPECT_EQ(file_input(dir / "vwc")->describe(), "file " + (dir / "vwc").string());
}

TEST(SensorsTest, SenmlNamesCombineTheBaseNameAndTheName) {
  const std::string pack = R"([{"bn":"urn:dev:mac:0024befffe804ff1/","n":"temp","u":"Cel","v":23.1},)"
                           R"({"n":"humidity","u":"%RH","v":61},{"n":"temp","v":23.4}])";
  EXPECT_DOUBLE_EQ(*senml_value(pack, "urn:dev:mac:0024befffe804ff1/temp"), 23.4) << "the newest of a name";
  EXPECT_DOUBLE_EQ(*senml_value(pack, "urn:dev:mac:0024befffe804ff1/humidity"), 61);
  EXPECT_FALSE(senml_value(pack, "temp").ok()) << "the full name is needed";
  EXPECT_FALSE(senml_value(R"([{"n":"temp","vs":"warm"}])", "temp").ok()) << "no numeric value";
  EXPECT_FALSE(senml_value(R"({"n":"temp","v":1})", "temp").ok()) << "not a pack";
  EXPECT_FALSE(senml_value("[{\"n\":", "temp").ok()) << "truncated";
}

TEST(SensorsTest, ASenmlCommandThatFailsOrHangsIsAnErrorNotAReading) {
  auto ok = senml_command_input({"/bin/sh", "-c", R"(echo '[{"bn":"g/","n":"soil","v":0.31}]')"}, "g/soil");
  EXPECT_DOUBLE_EQ(*ok->read(), 0.31);
  auto failing = senml_command_input({"/bin/sh", "-c", "echo '[]'; exit 3"}, "g/soil");
  EXPECT_FALSE(failing->read().ok());
  auto hanging =
      senml_command_input({"/bin/sh", "-c", "exec sleep 30"}, "g/soil", std::chrono::milliseconds(200));
  auto hung = hanging->read();
  ASSERT_FALSE(hung.ok());
  EXPECT_NE(hung.error().message.find("did not finish"), std::string::npos) << hung.error().message;
  auto missing = senml_command_input({"/nonexistent/senml-tool"}, "g/soil");
  EXPECT_FALSE(missing->read().ok());
}

}  // namespace
}  // namespace canopy::device
