#include "device/sensors.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "common/files.h"
#include "common/json.h"
#include "common/subprocess.h"
#include "common/text.h"

namespace canopy::device {

namespace {

// The one number `text` holds (surrounding blanks allowed), as a double.
Result<double> parse_number(std::string_view text, const std::string& where) {
  const std::string_view trimmed = trim(text);
  double value = 0;
  const auto [end, error] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), value);
  if (trimmed.empty() || error != std::errc() || end != trimmed.data() + trimmed.size())
    return make_error(ErrorCode::kCorrupt,
                      where + ": '" + std::string(trimmed.substr(0, 32)) + "' is not a number");
  return value;
}

// Kernel attribute files are tiny; anything larger is not one.
Result<std::string> read_attribute(const std::filesystem::path& path) {
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(path));
  if (text.size() > 4096)
    return make_error(ErrorCode::kCorrupt, path.string() + ": too large for a sensor file");
  return text;
}

class HwmonInput final : public SensorInput {
 public:
  explicit HwmonInput(std::filesystem::path attribute) : attribute_(std::move(attribute)) {}
  Result<double> read() override {
    CANOPY_ASSIGN_OR_RETURN(std::string text, read_attribute(attribute_));
    CANOPY_ASSIGN_OR_RETURN(double thousandths, parse_number(text, attribute_.string()));
    return thousandths / 1000.0;
  }
  std::string describe() const override { return "hwmon " + attribute_.string(); }

 private:
  std::filesystem::path attribute_;
};

class W1ThermInput final : public SensorInput {
 public:
  explicit W1ThermInput(std::filesystem::path file) : file_(std::move(file)) {}
  Result<double> read() override {
    CANOPY_ASSIGN_OR_RETURN(std::string text, read_attribute(file_));
    // "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
    const std::vector<std::string> lines = split(text, '\n');
    if (lines.size() < 2)
      return make_error(ErrorCode::kCorrupt, file_.string() + ": truncated (want two lines)");
    if (!trim(lines[0]).ends_with("YES"))
      return make_error(ErrorCode::kCorrupt, file_.string() + ": CRC check failed");
    const auto t = lines[1].find("t=");
    if (t == std::string::npos)
      return make_error(ErrorCode::kCorrupt, file_.string() + ": no t= on line two");
    CANOPY_ASSIGN_OR_RETURN(double milli,
                            parse_number(std::string_view(lines[1]).substr(t + 2), file_.string()));
    if (milli == 85000)
      return make_error(ErrorCode::kCorrupt, file_.string() + ": 85 °C is the power-on value, not a reading");
    return milli / 1000.0;
  }
  std::string describe() const override { return "w1_therm " + file_.string(); }

 private:
  std::filesystem::path file_;
};

class IioSoilInput final : public SensorInput {
 public:
  IioSoilInput(std::filesystem::path raw, std::filesystem::path scale, SoilProbeCalibration calibration)
      : raw_(std::move(raw)), scale_(std::move(scale)), calibration_(calibration) {}
  Result<double> read() override {
    CANOPY_ASSIGN_OR_RETURN(std::string raw_text, read_attribute(raw_));
    CANOPY_ASSIGN_OR_RETURN(std::string scale_text, read_attribute(scale_));
    CANOPY_ASSIGN_OR_RETURN(double raw, parse_number(raw_text, raw_.string()));
    CANOPY_ASSIGN_OR_RETURN(double scale, parse_number(scale_text, scale_.string()));
    const double mv = raw * scale;
    const SoilProbeCalibration& c = calibration_;
    // Capacitive probes read lower voltages in wetter soil; the line through
    // the two calibration points holds between them and a little beyond.
    const double theta = c.dry_theta + (mv - c.dry_mv) * (c.wet_theta - c.dry_theta) / (c.wet_mv - c.dry_mv);
    return std::clamp(theta, 0.0, 1.0);
  }
  std::string describe() const override { return "iio " + raw_.string(); }

 private:
  std::filesystem::path raw_, scale_;
  SoilProbeCalibration calibration_;
};

class FileInput final : public SensorInput {
 public:
  explicit FileInput(std::filesystem::path file) : file_(std::move(file)) {}
  Result<double> read() override {
    CANOPY_ASSIGN_OR_RETURN(std::string text, read_attribute(file_));
    return parse_number(text, file_.string());
  }
  std::string describe() const override { return "file " + file_.string(); }

 private:
  std::filesystem::path file_;
};

class SenmlCommandInput final : public SensorInput {
 public:
  SenmlCommandInput(std::vector<std::string> argv, std::string name, std::chrono::milliseconds timeout)
      : argv_(std::move(argv)), name_(std::move(name)), timeout_(timeout) {}
  Result<double> read() override {
    auto ran = run_to_completion(argv_, timeout_, 64 * 1024);
    if (!ran.ok()) return ran.error().with_context(describe());
    if (ran->exit_code != 0)
      return make_error(ErrorCode::kIo, describe() + " exited with " + std::to_string(ran->exit_code));
    auto value = senml_value(ran->output, name_);
    if (!value.ok()) return value.error().with_context(describe());
    return value;
  }
  std::string describe() const override {
    return "senml " + (argv_.empty() ? "" : argv_.front()) + " " + name_;
  }

 private:
  std::vector<std::string> argv_;
  std::string name_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

Result<double> senml_value(std::string_view pack, std::string_view name) {
  CANOPY_ASSIGN_OR_RETURN(Json records, parse_json(pack, "SenML"));
  if (!records.is_array()) return make_error(ErrorCode::kCorrupt, "SenML must be a JSON array of records");
  std::string base_name;
  std::optional<double> found;
  for (const Json& record : records) {
    if (!record.is_object()) return make_error(ErrorCode::kCorrupt, "a SenML record must be a JSON object");
    if (auto bn = record.find("bn"); bn != record.end() && bn->is_string())
      base_name = bn->get<std::string>();
    const auto n = record.find("n");
    const std::string full = base_name + (n != record.end() && n->is_string() ? n->get<std::string>() : "");
    if (full != name) continue;
    const auto v = record.find("v");
    if (v == record.end() || !v->is_number())
      return make_error(ErrorCode::kCorrupt, "SenML record '" + full + "' has no numeric value 'v'");
    found = v->get<double>();  // the last record of a name is the newest
  }
  if (!found)
    return make_error(ErrorCode::kNotFound, "SenML has no record named '" + std::string(name) + "'");
  return *found;
}

std::unique_ptr<SensorInput> senml_command_input(std::vector<std::string> argv, std::string name,
                                                 std::chrono::milliseconds timeout) {
  return std::make_unique<SenmlCommandInput>(std::move(argv), std::move(name), timeout);
}

std::unique_ptr<SensorInput> hwmon_input(std::filesystem::path attribute) {
  return std::make_unique<HwmonInput>(std::move(attribute));
}

std::unique_ptr<SensorInput> w1_therm_input(std::filesystem::path w1_slave) {
  return std::make_unique<W1ThermInput>(std::move(w1_slave));
}

std::unique_ptr<SensorInput> iio_soil_input(std::filesystem::path raw, std::filesystem::path scale,
                                            SoilProbeCalibration calibration) {
  return std::make_unique<IioSoilInput>(std::move(raw), std::move(scale), calibration);
}

std::unique_ptr<SensorInput> file_input(std::filesystem::path file) {
  return std::make_unique<FileInput>(std::move(file));
}

}  // namespace canopy::device
