#include "world/sensor_files.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/files.h"
#include "common/text.h"
#include "world/random_streams.h"

namespace canopy::world {

namespace {

// Dallas/Maxim CRC-8 (x⁸ + x⁵ + x⁴ + 1, reflected), the 1-wire scratchpad's check.
std::uint8_t dallas_crc8(const std::uint8_t* bytes, std::size_t size) {
  std::uint8_t crc = 0;
  for (std::size_t i = 0; i < size; ++i) {
    std::uint8_t byte = bytes[i];
    for (int bit = 0; bit < 8; ++bit) {
      const bool mix = ((crc ^ byte) & 1) != 0;
      crc = std::uint8_t(crc >> 1);
      if (mix) crc ^= 0x8C;
      byte = std::uint8_t(byte >> 1);
    }
  }
  return crc;
}

std::string thousandths(double value) { return std::to_string(std::llround(value * 1000)) + "\n"; }

}  // namespace

std::string_view sensor_fault_name(SensorFaultKind kind) {
  switch (kind) {
    case SensorFaultKind::kStuck:
      return "stuck";
    case SensorFaultKind::kNan:
      return "nan";
    case SensorFaultKind::kCrc:
      return "crc";
    case SensorFaultKind::kPowerOn85:
      return "power_on_85";
    case SensorFaultKind::kStale:
      return "stale";
    case SensorFaultKind::kDead:
      return "dead";
  }
  return "stuck";
}

Result<SensorFaultKind> sensor_fault_kind(std::string_view name) {
  for (SensorFaultKind kind : {SensorFaultKind::kStuck, SensorFaultKind::kNan, SensorFaultKind::kCrc,
                               SensorFaultKind::kPowerOn85, SensorFaultKind::kStale, SensorFaultKind::kDead})
    if (sensor_fault_name(kind) == name) return kind;
  return make_error(ErrorCode::kInvalidArgument, "unknown sensor fault '" + std::string(name) +
                                                     "' (stuck, nan, crc, power_on_85, stale, dead)");
}

std::string soil_moisture_sensor(const std::string& zone) { return "soil-" + zone; }

Status check_sensor_faults(const std::vector<SensorFault>& faults, const std::vector<std::string>& zones) {
  std::vector<std::string> sensors = {std::string(kAirTemperatureSensor), std::string(kHumiditySensor),
                                      std::string(kSoilTemperatureSensor)};
  for (const std::string& zone : zones) sensors.push_back(soil_moisture_sensor(zone));
  for (const SensorFault& fault : faults) {
    if (std::find(sensors.begin(), sensors.end(), fault.sensor) == sensors.end())
      return make_error(ErrorCode::kInvalidArgument,
                        "a fault names sensor '" + fault.sensor + "', which the device does not have");
    const bool w1_only = fault.kind == SensorFaultKind::kCrc || fault.kind == SensorFaultKind::kPowerOn85;
    if (w1_only && fault.sensor != kSoilTemperatureSensor)
      return make_error(ErrorCode::kInvalidArgument, std::string(sensor_fault_name(fault.kind)) +
                                                         " is a 1-wire fault; sensor '" + fault.sensor +
                                                         "' is not on 1-wire (only " +
                                                         std::string(kSoilTemperatureSensor) + " is)");
    if (fault.until_ms <= fault.from_ms)
      return make_error(ErrorCode::kInvalidArgument,
                        "a fault of sensor '" + fault.sensor + "' ends before it starts");
  }
  return {};
}

std::filesystem::path DeviceFiles::hwmon_temperature() const {
  return root_ / "sys/class/hwmon/hwmon0/temp1_input";
}
std::filesystem::path DeviceFiles::hwmon_humidity() const {
  return root_ / "sys/class/hwmon/hwmon0/humidity1_input";
}
std::filesystem::path DeviceFiles::w1_slave() const {
  return root_ / "sys/bus/w1/devices/28-00000000a1b2/w1_slave";
}
std::filesystem::path DeviceFiles::iio_raw(int channel) const {
  return root_ / "sys/bus/iio/devices/iio:device0" / ("in_voltage" + std::to_string(channel) + "_raw");
}
std::filesystem::path DeviceFiles::iio_scale() const {
  return root_ / "sys/bus/iio/devices/iio:device0/in_voltage_scale";
}
std::filesystem::path DeviceFiles::valve(const std::string& zone) const { return root_ / "valves" / zone; }
std::filesystem::path DeviceFiles::spool(const std::string& camera) const { return root_ / "spool" / camera; }

std::string w1_slave_text(double temperature_c, bool crc_ok) {
  // The DS18B20 counts sixteenths of a degree in two bytes, low byte first.
  const auto raw = std::int16_t(std::lround(temperature_c * 16));
  std::uint8_t pad[9] = {
      std::uint8_t(raw & 0xFF), std::uint8_t((raw >> 8) & 0xFF), 0x4B, 0x46, 0x7F, 0xFF, 0x0E, 0x10, 0};
  pad[8] = dallas_crc8(pad, 8);
  // A failed transfer: a flipped bit the CRC no longer matches.
  if (!crc_ok) pad[2] ^= 0x04;
  std::string bytes;
  char hex[4];
  for (std::uint8_t byte : pad) {
    std::snprintf(hex, sizeof hex, "%02x ", byte);
    bytes += hex;
  }
  char crc[8];
  std::snprintf(crc, sizeof crc, "%02x", pad[8]);
  // The driver prints t= from the raw count, as an integer in m°C.
  return bytes + ": crc=" + crc + (crc_ok ? " YES\n" : " NO\n") + bytes +
         "t=" + std::to_string(raw * 1000 / 16) + "\n";
}

SensorFileWriter::SensorFileWriter(DeviceFiles files, std::vector<std::string> zones,
                                   device::SoilProbeCalibration calibration, SensorNoise noise,
                                   std::vector<SensorFault> faults, std::uint64_t seed)
    : files_(std::move(files)),
      zones_(std::move(zones)),
      calibration_(calibration),
      noise_(noise),
      faults_(std::move(faults)),
      seed_(seed) {}

const SensorFault* SensorFileWriter::active_fault(std::string_view sensor, std::int64_t now_ms) const {
  for (const SensorFault& fault : faults_)
    if (fault.sensor == sensor && fault.from_ms <= now_ms && now_ms < fault.until_ms) return &fault;
  return nullptr;
}

double SensorFileWriter::reported(std::string_view sensor, double truth, double noise_sd,
                                  std::int64_t now_ms) {
  const double noisy =
      truth + StreamRandom(seed_, "noise", {std::int64_t(purpose_key(sensor)), now_ms}).normal(0, noise_sd);
  const SensorFault* fault = active_fault(sensor, now_ms);
  if (!fault || fault->kind != SensorFaultKind::kStuck) {
    if (auto held = stuck_at_.find(sensor); held != stuck_at_.end()) stuck_at_.erase(held);
    return noisy;
  }
  return stuck_at_.try_emplace(std::string(sensor), noisy).first->second;
}

Status SensorFileWriter::write(std::string_view sensor, const std::filesystem::path& path,
                               const std::string& content, std::int64_t now_ms) {
  const SensorFault* fault = active_fault(sensor, now_ms);
  if (fault && fault->kind == SensorFaultKind::kStale) return {};
  if (fault && fault->kind == SensorFaultKind::kDead) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    if (ec) return make_error(ErrorCode::kIo, "cannot remove " + path.string() + ": " + ec.message());
    return {};
  }
  return replace_file_atomic(path, content);
}

Status SensorFileWriter::publish(const SensorReadings& truth, std::int64_t now_ms) {
  if (!directories_made_) {
    std::error_code ec;
    for (const std::filesystem::path& dir :
         {files_.hwmon_temperature().parent_path(), files_.w1_slave().parent_path(),
          files_.iio_scale().parent_path(), files_.root() / "valves"}) {
      std::filesystem::create_directories(dir, ec);
      if (ec) return make_error(ErrorCode::kIo, "cannot create " + dir.string() + ": " + ec.message());
    }
    directories_made_ = true;
  }
  const auto value_text = [&](std::string_view sensor, std::string text) {
    const SensorFault* fault = active_fault(sensor, now_ms);
    return fault && fault->kind == SensorFaultKind::kNan ? std::string("nan\n") : text;
  };
  const double air =
      reported(kAirTemperatureSensor, truth.air_temperature_c, noise_.air_temperature_c, now_ms);
  CANOPY_TRY(write(kAirTemperatureSensor, files_.hwmon_temperature(),
                   value_text(kAirTemperatureSensor, thousandths(air)), now_ms));
  const double humidity = std::clamp(
      reported(kHumiditySensor, truth.relative_humidity, noise_.relative_humidity, now_ms), 0.0, 100.0);
  CANOPY_TRY(write(kHumiditySensor, files_.hwmon_humidity(),
                   value_text(kHumiditySensor, thousandths(humidity)), now_ms));

  const double soil_c =
      reported(kSoilTemperatureSensor, truth.soil_temperature_c, noise_.soil_temperature_c, now_ms);
  const SensorFault* w1_fault = active_fault(kSoilTemperatureSensor, now_ms);
  std::string w1 = w1_slave_text(soil_c, true);
  if (w1_fault && w1_fault->kind == SensorFaultKind::kCrc) w1 = w1_slave_text(soil_c, false);
  if (w1_fault && w1_fault->kind == SensorFaultKind::kPowerOn85) w1 = w1_slave_text(85, true);
  if (w1_fault && w1_fault->kind == SensorFaultKind::kNan) w1 = w1.substr(0, w1.rfind("t=")) + "t=nan\n";
  CANOPY_TRY(write(kSoilTemperatureSensor, files_.w1_slave(), w1, now_ms));

  CANOPY_TRY(replace_file_atomic(files_.iio_scale(), "0.125000000\n"));
  const device::SoilProbeCalibration& c = calibration_;
  for (std::size_t channel = 0; channel < zones_.size(); ++channel) {
    const std::string sensor = soil_moisture_sensor(zones_[channel]);
    const auto theta = truth.soil_theta_by_zone.find(zones_[channel]);
    const double true_theta = theta == truth.soil_theta_by_zone.end() ? 0 : theta->second;
    const double reading = reported(sensor, true_theta, noise_.soil_theta, now_ms);
    // The probe's voltage for θ: the calibration line, read backwards.
    const double mv =
        c.dry_mv + (reading - c.dry_theta) * (c.wet_mv - c.dry_mv) / (c.wet_theta - c.dry_theta);
    const long long raw = std::clamp<long long>(std::llround(mv / kIioScaleMv), 0, 32767);
    CANOPY_TRY(
        write(sensor, files_.iio_raw(int(channel)), value_text(sensor, std::to_string(raw) + "\n"), now_ms));
  }
  return {};
}

bool SensorFileWriter::valve_open(const std::string& zone) const {
  auto text = read_file(files_.valve(zone));
  return text.ok() && trim(*text) == "1";
}

}  // namespace canopy::world
