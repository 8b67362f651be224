#include "agent/field_config.h"

#include <cmath>
#include <set>
#include <sstream>

#include "common/files.h"
#include "common/text.h"
#include "common/yaml_reader.h"

namespace canopy::agent {

namespace {

bool valid_name(const std::string& name) { return is_plain_name(name, 64, "_-", "_"); }

std::string format_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// The unit and the physically possible range of the kinds every field has.
struct KnownMeasure {
  std::string_view name, unit;
  double min, max;
};
constexpr KnownMeasure kKnownMeasures[] = {
    {"soil_moisture", "m3/m3", 0, 1},
    {"air_temperature", "degC", -40, 60},
    {"soil_temperature", "degC", -20, 50},
    {"relative_humidity", "%", 0, 100},
};

class FieldConfigParser : private YamlReader {
 public:
  explicit FieldConfigParser(std::string file) : YamlReader(std::move(file)) {}

  Result<FieldConfig> parse(std::string_view text) {
    CANOPY_ASSIGN_OR_RETURN(YAML::Node root, load(text));
    try {
      return parse_root(root);
    } catch (const YAML::Exception& e) {
      // Defensive: a yaml-cpp accessor threw on a shape the checks did not foresee.
      return error_from(e);
    }
  }

 private:
  Result<std::int64_t> milliseconds(const YAML::Node& node, const std::string& what) const {
    CANOPY_ASSIGN_OR_RETURN(double seconds, duration_s(node, what));
    return static_cast<std::int64_t>(std::llround(seconds * 1000));
  }
  Result<double> number_in(const YAML::Node& node, const std::string& what, double min, double max) const {
    CANOPY_ASSIGN_OR_RETURN(double value, number(node, what));
    if (value < min || value > max)
      return error_at(node, what + " must be between " + format_number(min) + " and " + format_number(max));
    return value;
  }
  Result<std::string> name(const YAML::Node& node, const std::string& what) const {
    CANOPY_ASSIGN_OR_RETURN(std::string text, nonempty(node, what));
    if (!valid_name(text))
      return error_at(node, what + " '" + text + "' must be letters, digits, '-' and '_' (at most 64)");
    return text;
  }
  Result<std::vector<std::string>> command(const YAML::Node& node, const std::string& what) const {
    if (!node.IsSequence() || node.size() == 0)
      return error_at(node, what + " must be a list: the program and its arguments");
    return strings(node, what);
  }
  Status need_map(const YAML::Node& node, const std::string& what) const {
    if (!node.IsMap()) return error_at(node, what + " must be a mapping of keys to values");
    return {};
  }
  Status need_list(const YAML::Node& node, const std::string& what) const {
    if (!node.IsSequence()) return error_at(node, what + " must be a list");
    return {};
  }

  Result<FieldConfig> parse_root(const YAML::Node& root);
  Result<CameraConfig> parse_camera(const YAML::Node& node);
  Result<SensorConfig> parse_sensor(const YAML::Node& node);
  Result<ZoneConfig> parse_zone(const YAML::Node& node, const FieldConfig& config);
  Status parse_source(const YAML::Node& key, const YAML::Node& value, SensorConfig& sensor);
  Status parse_samples(const YAML::Node& node, FieldConfig& config);
};

// samples: {enabled, image: {...}, budget: {...}, duplicates: {...}, and one
// mapping per strategy}. Every strategy takes `enabled` and `per_day` (its
// own daily budget) beside its own keys.
Status FieldConfigParser::parse_samples(const YAML::Node& node, FieldConfig& config) {
  CANOPY_TRY(need_map(node, "'samples'"));
  CANOPY_TRY(check_keys(node,
                        {"enabled", "image", "budget", "duplicates", "uncertainty", "temporal",
                         "model_disagreement", "cross_sensor", "class_balance", "novelty", "random"},
                        "'samples'"));
  collect::SelectionRules& rules = config.selection;
  if (node["enabled"]) {
    CANOPY_ASSIGN_OR_RETURN(rules.enabled, boolean(node["enabled"], "'enabled' of 'samples'"));
  }
  auto set_number = [&](const YAML::Node& map, const char* key, double min, double max, auto& out) -> Status {
    if (!map[key]) return {};
    CANOPY_ASSIGN_OR_RETURN(double value, number_in(map[key], "'" + std::string(key) + "'", min, max));
    out = static_cast<std::remove_reference_t<decltype(out)>>(value);
    return {};
  };
  if (const YAML::Node image = node["image"]) {
    CANOPY_TRY(need_map(image, "'image' of 'samples'"));
    CANOPY_TRY(check_keys(image, {"max_side", "jpeg_quality", "max_bytes"}, "'image' of 'samples'"));
    CANOPY_TRY(set_number(image, "max_side", 32, 4096, config.sample_images.max_side));
    CANOPY_TRY(set_number(image, "jpeg_quality", 30, 100, config.sample_images.jpeg_quality));
    CANOPY_TRY(set_number(image, "max_bytes", 4096, 1 << 20, config.sample_images.max_bytes));
  }
  if (const YAML::Node budget = node["budget"]) {
    CANOPY_TRY(need_map(budget, "'budget' of 'samples'"));
    CANOPY_TRY(check_keys(budget, {"per_minute", "per_hour", "per_day", "paced"}, "'budget' of 'samples'"));
    if (budget["paced"]) {
      CANOPY_ASSIGN_OR_RETURN(rules.budget.paced, boolean(budget["paced"], "'paced' of 'budget'"));
    }
    CANOPY_TRY(set_number(budget, "per_minute", 0, 1e6, rules.budget.per_minute));
    CANOPY_TRY(set_number(budget, "per_hour", 0, 1e6, rules.budget.per_hour));
    CANOPY_TRY(set_number(budget, "per_day", 0, 1e6, rules.budget.per_day));
  }
  if (const YAML::Node duplicates = node["duplicates"]) {
    CANOPY_TRY(need_map(duplicates, "'duplicates' of 'samples'"));
    CANOPY_TRY(check_keys(duplicates, {"max_distance", "keep_after", "memory"}, "'duplicates' of 'samples'"));
    CANOPY_TRY(set_number(duplicates, "max_distance", 0, 64, rules.duplicates.max_distance));
    CANOPY_TRY(set_number(duplicates, "memory", 1, 1000, rules.duplicates.memory));
    if (duplicates["keep_after"]) {
      CANOPY_ASSIGN_OR_RETURN(rules.duplicates.keep_after_ms,
                              milliseconds(duplicates["keep_after"], "'keep_after'"));
    }
  }
  // The keys every strategy shares; `own` are the strategy's own.
  auto strategy = [&](const char* name, std::vector<std::string> own, bool* enabled) -> Result<YAML::Node> {
    const YAML::Node map = node[name];
    if (!map) return map;
    const std::string what = "'" + std::string(name) + "' of 'samples'";
    CANOPY_TRY(need_map(map, what));
    own.push_back("per_day");
    if (enabled) own.push_back("enabled");
    CANOPY_TRY(check_keys(map, own, what));
    if (map["enabled"]) {
      CANOPY_ASSIGN_OR_RETURN(*enabled, boolean(map["enabled"], "'enabled' of " + what));
    }
    if (map["per_day"]) {
      CANOPY_ASSIGN_OR_RETURN(double per_day, number_in(map["per_day"], "'per_day' of " + what, 0, 1e6));
      rules.budget.per_strategy_day[name] = static_cast<int>(per_day);
    }
    return map;
  };
  CANOPY_ASSIGN_OR_RETURN(YAML::Node uncertainty, strategy("uncertainty", {"method", "band", "min_score"},
                                                           &rules.uncertainty.enabled));
  if (uncertainty) {
    if (uncertainty["method"]) {
      CANOPY_ASSIGN_OR_RETURN(std::string method, nonempty(uncertainty["method"], "'method'"));
      auto parsed = collect::parse_uncertainty_method(method);
      if (!parsed)
        return error_at(uncertainty["method"],
                        "'method' '" + method + "' must be band, least_confidence or entropy");
      rules.uncertainty.method = *parsed;
    }
    CANOPY_TRY(set_number(uncertainty, "band", 0.001, 1, rules.uncertainty.band));
    CANOPY_TRY(set_number(uncertainty, "min_score", 0, 1, rules.uncertainty.min_score));
  }
  CANOPY_ASSIGN_OR_RETURN(YAML::Node temporal, strategy("temporal", {"min_score"}, &rules.temporal.enabled));
  if (temporal) CANOPY_TRY(set_number(temporal, "min_score", 0, 1, rules.temporal.min_score));
  CANOPY_ASSIGN_OR_RETURN(YAML::Node shadow, strategy("model_disagreement", {"share", "iou", "min_score"},
                                                      &rules.model_disagreement.enabled));
  if (shadow) {
    CANOPY_TRY(set_number(shadow, "share", 0, 1, rules.model_disagreement.share));
    CANOPY_TRY(set_number(shadow, "iou", 0.05, 1, rules.model_disagreement.iou));
    CANOPY_TRY(set_number(shadow, "min_score", 0, 1, rules.model_disagreement.min_score));
  }
  CANOPY_ASSIGN_OR_RETURN(YAML::Node cross,
                          strategy("cross_sensor", {"dry_for"}, &rules.cross_sensor.enabled));
  if (cross && cross["dry_for"]) {
    CANOPY_ASSIGN_OR_RETURN(rules.cross_sensor.dry_for_ms, milliseconds(cross["dry_for"], "'dry_for'"));
  }
  CANOPY_ASSIGN_OR_RETURN(
      YAML::Node balance,
      strategy("class_balance", {"min_box_score", "rare_share", "boost"}, &rules.class_balance.enabled));
  if (balance) {
    CANOPY_TRY(set_number(balance, "min_box_score", 0, 1, rules.class_balance.min_box_score));
    CANOPY_TRY(set_number(balance, "rare_share", 0.001, 1, rules.class_balance.rare_share));
    CANOPY_TRY(set_number(balance, "boost", 0, 10, rules.class_balance.boost));
  }
  CANOPY_ASSIGN_OR_RETURN(YAML::Node novelty,
                          strategy("novelty", {"min_distance", "memory"}, &rules.novelty.enabled));
  if (novelty) {
    CANOPY_TRY(set_number(novelty, "min_distance", 0, 1, rules.novelty.min_distance));
    CANOPY_TRY(set_number(novelty, "memory", 1, 1000, rules.novelty.memory));
  }
  CANOPY_ASSIGN_OR_RETURN(YAML::Node random, strategy("random", {"share"}, nullptr));
  if (random) CANOPY_TRY(set_number(random, "share", 0, 1, rules.random.share));
  return {};
}

Result<FieldConfig> FieldConfigParser::parse_root(const YAML::Node& root) {
  FieldConfig config;
  if (root.IsNull()) return error_at(root, "the field configuration is empty");
  CANOPY_TRY(need_map(root, "the field configuration"));
  CANOPY_TRY(check_keys(root,
                        {"field", "location", "cameras", "sensors", "zones", "tracking", "alerts",
                         "detection", "telemetry", "samples"},
                        "the field configuration"));
  if (root["field"]) {
    CANOPY_ASSIGN_OR_RETURN(config.field, name(root["field"], "'field'"));
  }
  if (const YAML::Node location = root["location"]) {
    CANOPY_TRY(need_map(location, "'location'"));
    CANOPY_TRY(check_keys(location, {"latitude"}, "'location'"));
    if (location["latitude"]) {
      CANOPY_ASSIGN_OR_RETURN(config.latitude_deg, number_in(location["latitude"], "'latitude'", -90, 90));
    }
  }
  std::set<std::string> ids;
  if (const YAML::Node cameras = root["cameras"]) {
    CANOPY_TRY(need_list(cameras, "'cameras'"));
    for (const YAML::Node& node : cameras) {
      CANOPY_ASSIGN_OR_RETURN(CameraConfig camera, parse_camera(node));
      if (!ids.insert(camera.id).second)
        return error_at(node["id"], "camera '" + camera.id + "' is named twice");
      config.cameras.push_back(std::move(camera));
    }
  }
  std::set<std::string> sensor_names;
  if (const YAML::Node sensors = root["sensors"]) {
    CANOPY_TRY(need_list(sensors, "'sensors'"));
    for (const YAML::Node& node : sensors) {
      CANOPY_ASSIGN_OR_RETURN(SensorConfig sensor, parse_sensor(node));
      if (!sensor_names.insert(sensor.name).second)
        return error_at(node["name"], "sensor '" + sensor.name + "' is named twice");
      config.sensors.push_back(std::move(sensor));
    }
  }
  std::set<std::string> zone_names;
  if (const YAML::Node zones = root["zones"]) {
    CANOPY_TRY(need_list(zones, "'zones'"));
    for (const YAML::Node& node : zones) {
      CANOPY_ASSIGN_OR_RETURN(ZoneConfig zone, parse_zone(node, config));
      if (!zone_names.insert(zone.name).second)
        return error_at(node["name"], "zone '" + zone.name + "' is named twice");
      config.zones.push_back(std::move(zone));
    }
  }
  for (std::size_t i = 0; i < config.cameras.size(); ++i) {
    const CameraConfig& camera = config.cameras[i];
    if (!camera.zone.empty() && !zone_names.count(camera.zone))
      return error_at(root["cameras"][i]["zone"], "camera '" + camera.id + "' watches zone '" + camera.zone +
                                                      "', which is not among 'zones'");
  }
  if (const YAML::Node tracking = root["tracking"]) {
    CANOPY_TRY(need_map(tracking, "'tracking'"));
    CANOPY_TRY(check_keys(tracking, {"match_distance", "window", "agree", "forget_after"}, "'tracking'"));
    field::TrackerRules& t = config.tracking;
    if (tracking["match_distance"]) {
      CANOPY_ASSIGN_OR_RETURN(t.match_distance,
                              number_in(tracking["match_distance"], "'match_distance'", 0.001, 0.5));
    }
    if (tracking["window"]) {
      CANOPY_ASSIGN_OR_RETURN(double window, number_in(tracking["window"], "'window'", 1, 100));
      t.window = static_cast<int>(window);
    }
    if (tracking["agree"]) {
      CANOPY_ASSIGN_OR_RETURN(double agree, number_in(tracking["agree"], "'agree'", 1, 100));
      t.agree = static_cast<int>(agree);
    }
    if (tracking["forget_after"]) {
      CANOPY_ASSIGN_OR_RETURN(double forget,
                              number_in(tracking["forget_after"], "'forget_after'", 1, 100000));
      t.forget_after = static_cast<int>(forget);
    }
    if (t.agree > t.window)
      return error_at(tracking, "'agree' (" + std::to_string(t.agree) + ") cannot be more than 'window' (" +
                                    std::to_string(t.window) + ")");
  }
  if (const YAML::Node alerts = root["alerts"]) {
    CANOPY_TRY(need_map(alerts, "'alerts'"));
    CANOPY_TRY(check_keys(alerts, {"cooldown", "clear_after"}, "'alerts'"));
    if (alerts["cooldown"]) {
      CANOPY_ASSIGN_OR_RETURN(config.alerts.cooldown_ms, milliseconds(alerts["cooldown"], "'cooldown'"));
    }
    if (alerts["clear_after"]) {
      CANOPY_ASSIGN_OR_RETURN(config.alerts.clear_after_ms,
                              milliseconds(alerts["clear_after"], "'clear_after'"));
    }
  }
  if (const YAML::Node detection = root["detection"]) {
    CANOPY_TRY(need_map(detection, "'detection'"));
    CANOPY_TRY(check_keys(detection, {"raw_score_floor"}, "'detection'"));
    if (detection["raw_score_floor"]) {
      CANOPY_ASSIGN_OR_RETURN(config.raw_score_floor,
                              number_in(detection["raw_score_floor"], "'raw_score_floor'", 0, 1));
    }
  }
  if (const YAML::Node samples = root["samples"]) CANOPY_TRY(parse_samples(samples, config));
  if (const YAML::Node telemetry = root["telemetry"]) {
    CANOPY_TRY(need_map(telemetry, "'telemetry'"));
    CANOPY_TRY(check_keys(telemetry, {"period"}, "'telemetry'"));
    if (telemetry["period"]) {
      CANOPY_ASSIGN_OR_RETURN(config.telemetry_period_ms, milliseconds(telemetry["period"], "'period'"));
    }
  }
  return config;
}

Result<CameraConfig> FieldConfigParser::parse_camera(const YAML::Node& node) {
  CANOPY_TRY(need_map(node, "a camera"));
  CANOPY_TRY(check_keys(
      node, {"id", "spool", "command", "url", "v4l2", "resolution", "interval", "max_frame_age", "zone"},
      "a camera"));
  CameraConfig camera;
  CANOPY_ASSIGN_OR_RETURN(camera.id, name(node["id"], "camera 'id'"));
  const std::string in = " of camera '" + camera.id + "'";
  const int sources =
      (node["spool"] ? 1 : 0) + (node["command"] ? 1 : 0) + (node["url"] ? 1 : 0) + (node["v4l2"] ? 1 : 0);
  if (sources != 1)
    return error_at(node,
                    "camera '" + camera.id + "' needs exactly one of 'spool', 'command', 'url', 'v4l2'");
  if (node["spool"]) {
    camera.kind = CameraKind::kSpool;
    CANOPY_ASSIGN_OR_RETURN(std::string path, nonempty(node["spool"], "'spool'" + in));
    camera.spool = path;
  } else if (node["command"]) {
    camera.kind = CameraKind::kCommand;
    CANOPY_ASSIGN_OR_RETURN(camera.command, command(node["command"], "'command'" + in));
  } else if (node["v4l2"]) {
    camera.kind = CameraKind::kV4l2;
    CANOPY_ASSIGN_OR_RETURN(std::string device, nonempty(node["v4l2"], "'v4l2'" + in));
    camera.device = device;
  } else {
    camera.kind = CameraKind::kHttp;
    CANOPY_ASSIGN_OR_RETURN(camera.url, nonempty(node["url"], "'url'" + in));
    if (!camera.url.starts_with("http://") && !camera.url.starts_with("https://"))
      return error_at(node["url"], "'url'" + in + " must start with http:// or https://");
  }
  if (const YAML::Node resolution = node["resolution"]) {
    if (!resolution.IsSequence() || resolution.size() != 2)
      return error_at(resolution, "'resolution'" + in + " must be [width, height]");
    CANOPY_ASSIGN_OR_RETURN(double width, number_in(resolution[0], "'resolution'" + in, 16, 8192));
    CANOPY_ASSIGN_OR_RETURN(double height, number_in(resolution[1], "'resolution'" + in, 16, 8192));
    camera.width = static_cast<int>(width);
    camera.height = static_cast<int>(height);
  }
  if (node["interval"]) {
    CANOPY_ASSIGN_OR_RETURN(camera.interval_ms, milliseconds(node["interval"], "'interval'" + in));
  }
  camera.max_frame_age_ms = 5 * camera.interval_ms;
  if (node["max_frame_age"]) {
    CANOPY_ASSIGN_OR_RETURN(camera.max_frame_age_ms,
                            milliseconds(node["max_frame_age"], "'max_frame_age'" + in));
  }
  if (node["zone"]) {
    CANOPY_ASSIGN_OR_RETURN(camera.zone, name(node["zone"], "'zone'" + in));
  }
  return camera;
}

Status FieldConfigParser::parse_source(const YAML::Node& key, const YAML::Node& value, SensorConfig& sensor) {
  const std::string source = key.Scalar();
  const std::string in = " of sensor '" + sensor.name + "'";
  if (source == "iio") {
    CANOPY_TRY(need_map(value, "'iio'" + in));
    CANOPY_TRY(check_keys(value, {"raw", "scale"}, "'iio'" + in));
    sensor.source = SensorSource::kIio;
    CANOPY_ASSIGN_OR_RETURN(std::string raw, nonempty(value["raw"], "'raw'" + in));
    CANOPY_ASSIGN_OR_RETURN(std::string scale, nonempty(value["scale"], "'scale'" + in));
    sensor.path = raw;
    sensor.scale_path = scale;
    return {};
  }
  if (source == "senml") {
    CANOPY_TRY(need_map(value, "'senml'" + in));
    CANOPY_TRY(check_keys(value, {"command", "name"}, "'senml'" + in));
    sensor.source = SensorSource::kSenml;
    CANOPY_ASSIGN_OR_RETURN(sensor.command, command(value["command"], "'command'" + in));
    CANOPY_ASSIGN_OR_RETURN(sensor.senml_name, nonempty(value["name"], "'name'" + in));
    return {};
  }
  sensor.source = source == "hwmon" ? SensorSource::kHwmon
                  : source == "w1"  ? SensorSource::kW1
                                    : SensorSource::kFile;
  CANOPY_ASSIGN_OR_RETURN(std::string path, nonempty(value, "'" + source + "'" + in));
  sensor.path = path;
  return {};
}

Result<SensorConfig> FieldConfigParser::parse_sensor(const YAML::Node& node) {
  CANOPY_TRY(need_map(node, "a sensor"));
  const std::vector<std::string> sources = {"hwmon", "w1", "iio", "senml", "file"};
  CANOPY_TRY(check_keys(node,
                        {"name", "measures", "unit", "hwmon", "w1", "iio", "senml", "file", "calibration",
                         "period", "range", "max_age", "stuck_after", "smoothing"},
                        "a sensor"));
  SensorConfig sensor;
  CANOPY_ASSIGN_OR_RETURN(sensor.name, name(node["name"], "sensor 'name'"));
  const std::string in = " of sensor '" + sensor.name + "'";
  CANOPY_ASSIGN_OR_RETURN(sensor.measures, name(node["measures"], "'measures'" + in));
  const KnownMeasure* known = nullptr;
  for (const KnownMeasure& measure : kKnownMeasures)
    if (measure.name == sensor.measures) known = &measure;
  int found = 0;
  for (const auto& item : node) {
    const std::string key = item.first.Scalar();
    if (std::find(sources.begin(), sources.end(), key) == sources.end()) continue;
    ++found;
    CANOPY_TRY(parse_source(item.first, item.second, sensor));
  }
  if (found != 1)
    return error_at(
        node, "sensor '" + sensor.name + "' needs exactly one of 'hwmon', 'w1', 'iio', 'senml', 'file'");
  if (const YAML::Node calibration = node["calibration"]) {
    CANOPY_TRY(need_map(calibration, "'calibration'" + in));
    CANOPY_TRY(check_keys(calibration, {"dry_mv", "dry_theta", "wet_mv", "wet_theta"}, "'calibration'" + in));
    device::SoilProbeCalibration& c = sensor.calibration;
    if (calibration["dry_mv"]) {
      CANOPY_ASSIGN_OR_RETURN(c.dry_mv, number(calibration["dry_mv"], "'dry_mv'" + in));
    }
    if (calibration["wet_mv"]) {
      CANOPY_ASSIGN_OR_RETURN(c.wet_mv, number(calibration["wet_mv"], "'wet_mv'" + in));
    }
    if (calibration["dry_theta"]) {
      CANOPY_ASSIGN_OR_RETURN(c.dry_theta, number_in(calibration["dry_theta"], "'dry_theta'" + in, 0, 1));
    }
    if (calibration["wet_theta"]) {
      CANOPY_ASSIGN_OR_RETURN(c.wet_theta, number_in(calibration["wet_theta"], "'wet_theta'" + in, 0, 1));
    }
    if (c.dry_mv == c.wet_mv)
      return error_at(calibration, "'calibration'" + in + ": the dry and wet points need different voltages");
  }
  sensor.unit = known ? std::string(known->unit) : "";
  if (node["unit"]) {
    CANOPY_ASSIGN_OR_RETURN(sensor.unit, nonempty(node["unit"], "'unit'" + in));
  }
  if (node["period"]) {
    CANOPY_ASSIGN_OR_RETURN(sensor.period_ms, milliseconds(node["period"], "'period'" + in));
  }
  field::SensorRules& rules = sensor.rules;
  // Three missed periods make a sensor stale: one late read is not a failure.
  rules.max_age_ms = 3 * sensor.period_ms;
  if (node["max_age"]) {
    CANOPY_ASSIGN_OR_RETURN(rules.max_age_ms, milliseconds(node["max_age"], "'max_age'" + in));
  }
  if (node["stuck_after"]) {
    CANOPY_ASSIGN_OR_RETURN(rules.stuck_after_ms, milliseconds(node["stuck_after"], "'stuck_after'" + in));
  }
  if (node["smoothing"]) {
    CANOPY_ASSIGN_OR_RETURN(rules.smoothing, number_in(node["smoothing"], "'smoothing'" + in, 0, 0.99));
  }
  if (const YAML::Node range = node["range"]) {
    if (!range.IsSequence() || range.size() != 2)
      return error_at(range, "'range'" + in + " must be [lowest, highest]");
    CANOPY_ASSIGN_OR_RETURN(rules.min, number(range[0], "'range'" + in));
    CANOPY_ASSIGN_OR_RETURN(rules.max, number(range[1], "'range'" + in));
    if (rules.min >= rules.max) return error_at(range, "'range'" + in + " must have its lowest value first");
  } else if (known) {
    rules.min = known->min;
    rules.max = known->max;
  } else {
    return error_at(node, "sensor '" + sensor.name + "' measures '" + sensor.measures +
                              "', which needs a 'range' of possible values");
  }
  return sensor;
}

Result<ZoneConfig> FieldConfigParser::parse_zone(const YAML::Node& node, const FieldConfig& config) {
  CANOPY_TRY(need_map(node, "a zone"));
  CANOPY_TRY(check_keys(node,
                        {"name", "soil", "soil_sensor", "root_depth", "allowed_depletion", "stop_fraction",
                         "max_on", "min_off", "daily_cap", "stress_starts_early", "valve", "period"},
                        "a zone"));
  ZoneConfig zone;
  CANOPY_ASSIGN_OR_RETURN(zone.name, name(node["name"], "zone 'name'"));
  const std::string in = " of zone '" + zone.name + "'";
  field::ZoneRules& rules = zone.rules;
  if (const YAML::Node soil = node["soil"]; soil && soil.IsMap()) {
    CANOPY_TRY(check_keys(soil, {"theta_fc", "theta_wp"}, "'soil'" + in));
    CANOPY_ASSIGN_OR_RETURN(rules.soil.theta_fc, number_in(soil["theta_fc"], "'theta_fc'" + in, 0.01, 1));
    CANOPY_ASSIGN_OR_RETURN(rules.soil.theta_wp, number_in(soil["theta_wp"], "'theta_wp'" + in, 0, 1));
  } else if (soil) {
    CANOPY_ASSIGN_OR_RETURN(std::string texture, nonempty(soil, "'soil'" + in));
    auto preset = field::soil_preset(texture);
    if (!preset.ok()) return error_at(soil, preset.error().message);
    rules.soil = *preset;
  }
  CANOPY_ASSIGN_OR_RETURN(zone.soil_sensor, name(node["soil_sensor"], "'soil_sensor'" + in));
  const SensorConfig* soil_sensor = config.sensor(zone.soil_sensor);
  if (!soil_sensor)
    return error_at(node["soil_sensor"], "'soil_sensor'" + in + " names '" + zone.soil_sensor +
                                             "', which is not among 'sensors' above");
  if (soil_sensor->measures != "soil_moisture")
    return error_at(node["soil_sensor"], "'soil_sensor'" + in + " names '" + zone.soil_sensor +
                                             "', which measures " + soil_sensor->measures +
                                             ", not soil_moisture");
  auto seconds = [&](const char* key, std::int64_t& out) -> Status {
    if (!node[key]) return {};
    CANOPY_ASSIGN_OR_RETURN(std::int64_t ms, milliseconds(node[key], "'" + std::string(key) + "'" + in));
    out = ms / 1000;
    return {};
  };
  if (node["root_depth"]) {
    CANOPY_ASSIGN_OR_RETURN(rules.root_depth_m, number_in(node["root_depth"], "'root_depth'" + in, 0.01, 3));
  }
  if (node["allowed_depletion"]) {
    CANOPY_ASSIGN_OR_RETURN(rules.allowed_depletion,
                            number_in(node["allowed_depletion"], "'allowed_depletion'" + in, 0.1, 0.8));
  }
  if (node["stop_fraction"]) {
    CANOPY_ASSIGN_OR_RETURN(rules.stop_fraction,
                            number_in(node["stop_fraction"], "'stop_fraction'" + in, 0.5, 1));
  }
  CANOPY_TRY(seconds("max_on", rules.max_on_s));
  CANOPY_TRY(seconds("min_off", rules.min_off_s));
  CANOPY_TRY(seconds("daily_cap", rules.daily_on_cap_s));
  if (node["stress_starts_early"]) {
    CANOPY_ASSIGN_OR_RETURN(rules.stress_starts_early,
                            boolean(node["stress_starts_early"], "'stress_starts_early'" + in));
  }
  if (Status valid = field::validate(rules); !valid.ok())
    return error_at(node, "zone '" + zone.name + "': " + valid.error().message);
  const YAML::Node valve = node["valve"];
  if (!valve)
    return error_at(node, "zone '" + zone.name +
                              "' needs a 'valve' ({gpio: {chip, line}}, {command: [...]} or {file: PATH})");
  CANOPY_TRY(need_map(valve, "'valve'" + in));
  CANOPY_TRY(check_keys(valve, {"command", "file", "gpio"}, "'valve'" + in));
  if ((valve["command"] ? 1 : 0) + (valve["file"] ? 1 : 0) + (valve["gpio"] ? 1 : 0) != 1)
    return error_at(valve, "'valve'" + in + " needs exactly one of 'command', 'file', 'gpio'");
  if (const YAML::Node gpio = valve["gpio"]) {
    zone.valve = ValveKind::kGpio;
    CANOPY_TRY(need_map(gpio, "'gpio'" + in));
    CANOPY_TRY(check_keys(gpio, {"chip", "line", "active_low"}, "'gpio'" + in));
    CANOPY_ASSIGN_OR_RETURN(zone.gpio_chip, nonempty(gpio["chip"], "'chip'" + in));
    CANOPY_ASSIGN_OR_RETURN(double line, number_in(gpio["line"], "'line'" + in, 0, 1023));
    zone.gpio_line = static_cast<unsigned>(line);
    if (gpio["active_low"]) {
      CANOPY_ASSIGN_OR_RETURN(zone.gpio_active_low, boolean(gpio["active_low"], "'active_low'" + in));
    }
  } else if (valve["command"]) {
    zone.valve = ValveKind::kCommand;
    CANOPY_ASSIGN_OR_RETURN(zone.valve_command, command(valve["command"], "'command'" + in));
  } else {
    zone.valve = ValveKind::kFile;
    CANOPY_ASSIGN_OR_RETURN(std::string path, nonempty(valve["file"], "'file'" + in));
    zone.valve_file = path;
  }
  // The soil is judged once per zone period: a sensor that goes bad closes the valve within one.
  zone.period_ms = soil_sensor->period_ms;
  if (node["period"]) {
    CANOPY_ASSIGN_OR_RETURN(zone.period_ms, milliseconds(node["period"], "'period'" + in));
  }
  return zone;
}

}  // namespace

const SensorConfig* FieldConfig::sensor(std::string_view name) const {
  for (const SensorConfig& s : sensors)
    if (s.name == name) return &s;
  return nullptr;
}

Result<FieldConfig> parse_field_config(std::string_view text, const std::string& file) {
  return FieldConfigParser(file).parse(text);
}

Result<FieldConfig> load_field_config(const std::filesystem::path& path) {
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(path));
  return parse_field_config(text, path.string());
}

}  // namespace canopy::agent
