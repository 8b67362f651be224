// Sensor inputs read through the files the Linux kernel exposes, so a test
// (or the simulated world) drives the very code a field device runs by
// writing the same files:
//   hwmon      (SHT3x air temperature and humidity): an integer ×1000
//   w1_therm   (DS18B20 soil or air temperature): `w1_slave`, CRC and power-on value checked
//   iio        (an ADS1115 ADC under a capacitive soil probe): raw × scale in mV,
//              turned into volumetric water content by a two-point calibration
//   senml      a command printing SenML JSON (RFC 8428), for sensors behind
//              a vendor's tool or a gateway
//   file       a plain number, for anything else
// A read returns the value in the sensor's unit, or an error saying why
// there is none; field/sensor_health.h decides what may be used.
// Thread-safety: a SensorInput is used by one thread at a time.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"

namespace canopy::device {

class SensorInput {
 public:
  virtual ~SensorInput() = default;
  virtual Result<double> read() = 0;
  // Where the input reads from, for messages.
  virtual std::string describe() const = 0;
};

// A kernel hwmon attribute such as .../hwmon0/temp1_input: an integer in
// thousandths (m°C, m%RH).
std::unique_ptr<SensorInput> hwmon_input(std::filesystem::path attribute);

// A 1-wire thermometer's w1_slave file. A line one not ending in "YES" (a
// failed CRC) and 85 °C (the power-on value, read before a conversion
// finished) are errors, not readings.
std::unique_ptr<SensorInput> w1_therm_input(std::filesystem::path w1_slave);

// Two points mapping the probe's voltage to volumetric water content: the
// probe in dry soil and in saturated soil of the same kind.
struct SoilProbeCalibration {
  double dry_mv = 2800, dry_theta = 0.05;
  double wet_mv = 1200, wet_theta = 0.45;
};

// An IIO ADC channel, e.g. .../iio:device0/in_voltage0_raw with its
// in_voltage0_scale (or the device-wide in_voltage_scale): raw × scale mV,
// mapped to θ (m³/m³) by `calibration` and clamped to [0, 1].
std::unique_ptr<SensorInput> iio_soil_input(std::filesystem::path raw, std::filesystem::path scale,
                                            SoilProbeCalibration calibration);

// Runs `argv`, which prints a SenML pack (a JSON array of records), and
// reads the value of the record whose full name (base name + name) is
// `name`. A program that fails, runs past `timeout`, prints something that
// is not SenML or has no such record gives an error.
std::unique_ptr<SensorInput> senml_command_input(
    std::vector<std::string> argv, std::string name,
    std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Reads the value named `name` from a SenML pack (RFC 8428 §4: a base name
// "bn" applies to the records after it; the value is "v").
Result<double> senml_value(std::string_view pack, std::string_view name);

// A file holding one decimal number.
std::unique_ptr<SensorInput> file_input(std::filesystem::path file);

}  // namespace canopy::device
