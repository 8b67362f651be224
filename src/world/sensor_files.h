// The world's sensors as the hardware presents them: a device directory laid
// out like the kernel's sysfs, whose files hold what the agent's readers
// (device/sensors.h) expect, written atomically so a reader never sees half
// a value:
//   sys/class/hwmon/hwmon0/temp1_input, humidity1_input      SHT3x: m°C and m%RH
//   sys/bus/w1/devices/28-00000000a1b2/w1_slave              DS18B20: soil temperature
//   sys/bus/iio/devices/iio:device0/in_voltageN_raw          ADS1115 under the capacitive
//   sys/bus/iio/devices/iio:device0/in_voltage_scale         soil probe of zone N
// Readings carry Gaussian noise, and faults scheduled by configuration show
// as hardware shows them: stuck (the value stops changing), nan, crc (the
// w1 CRC line ends in NO), power_on_85 (w1's 85000 power-on value), stale
// (the file stops being updated) and dead (the file is gone). The agent's
// file valves (valves/ZONE, "1" or "0") and the cameras' spool directories
// (spool/CAMERA) are in the same directory.
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "device/sensors.h"

namespace canopy::world {

enum class SensorFaultKind { kStuck, kNan, kCrc, kPowerOn85, kStale, kDead };
std::string_view sensor_fault_name(SensorFaultKind kind);
// "stuck", "nan", "crc", "power_on_85", "stale", "dead".
Result<SensorFaultKind> sensor_fault_kind(std::string_view name);

struct SensorFault {
  std::string sensor;  // a sensor's name, e.g. "soil-north" or "soil-temperature"
  SensorFaultKind kind = SensorFaultKind::kStuck;
  std::int64_t from_ms = 0, until_ms = 0;  // [from, until)
};

// The sensors' names.
inline constexpr std::string_view kAirTemperatureSensor = "air-temperature";
inline constexpr std::string_view kHumiditySensor = "air-humidity";
inline constexpr std::string_view kSoilTemperatureSensor = "soil-temperature";
std::string soil_moisture_sensor(const std::string& zone);

// Checks that each fault names a sensor of a device with these zones and
// that crc and power_on_85 name the w1 thermometer, the only sensor that has them.
Status check_sensor_faults(const std::vector<SensorFault>& faults, const std::vector<std::string>& zones);

struct SensorNoise {  // standard deviations
  double air_temperature_c = 0.15;
  double relative_humidity = 1.0;
  double soil_temperature_c = 0.06;
  double soil_theta = 0.003;
};

// The true values the sensors measure at one instant.
struct SensorReadings {
  double air_temperature_c = 0;
  double relative_humidity = 0;
  double soil_temperature_c = 0;
  std::map<std::string, double> soil_theta_by_zone;
};

// Where a device's files are.
class DeviceFiles {
 public:
  explicit DeviceFiles(std::filesystem::path root) : root_(std::move(root)) {}
  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path hwmon_temperature() const;
  std::filesystem::path hwmon_humidity() const;
  std::filesystem::path w1_slave() const;
  // `channel` is the zone's index among the device's zones.
  std::filesystem::path iio_raw(int channel) const;
  std::filesystem::path iio_scale() const;
  std::filesystem::path valve(const std::string& zone) const;
  std::filesystem::path spool(const std::string& camera) const;

 private:
  std::filesystem::path root_;
};

// The ADS1115's scale at ±4.096 V full range: mV per count.
inline constexpr double kIioScaleMv = 0.125;

class SensorFileWriter {
 public:
  SensorFileWriter(DeviceFiles files, std::vector<std::string> zones,
                   device::SoilProbeCalibration calibration, SensorNoise noise,
                   std::vector<SensorFault> faults, std::uint64_t seed);

  // Writes the readings of `now_ms` (noise and faults applied) to the files.
  Status publish(const SensorReadings& truth, std::int64_t now_ms);
  // Whether the agent's file valve of `zone` says open ("1"); no file is closed.
  bool valve_open(const std::string& zone) const;

  const DeviceFiles& files() const { return files_; }

 private:
  const SensorFault* active_fault(std::string_view sensor, std::int64_t now_ms) const;
  // The value a sensor reports: noisy, or held while it is stuck.
  double reported(std::string_view sensor, double truth, double noise_sd, std::int64_t now_ms);
  Status write(std::string_view sensor, const std::filesystem::path& path, const std::string& content,
               std::int64_t now_ms);

  DeviceFiles files_;
  std::vector<std::string> zones_;
  device::SoilProbeCalibration calibration_;
  SensorNoise noise_;
  std::vector<SensorFault> faults_;
  std::uint64_t seed_;
  std::map<std::string, double, std::less<>> stuck_at_;
  bool directories_made_ = false;
};

// A DS18B20's w1_slave text for a temperature, as the w1_therm driver
// prints it: the scratchpad bytes with their CRC, then t= in m°C.
std::string w1_slave_text(double temperature_c, bool crc_ok);

}  // namespace canopy::world
