// The field configuration: a complete file read into its parts with the
// defaults a field expects, and every kind of mistake reported at its line.
#include "agent/field_config.h"

#include <gtest/gtest.h>

namespace canopy::agent {
namespace {

constexpr const char* kField = R"(location:
  latitude: 41.6
cameras:
  - id: row-1
    spool: /var/lib/canopy/spool/row-1
    interval: 2m
    zone: north
  - id: gate
    command: [/usr/bin/ffmpeg, -i, "rtsp://cam/1", -f, image2pipe, -c:v, mjpeg, -]
  - id: ipcam
    url: http://10.0.0.7/snapshot.jpg
  - id: usb
    v4l2: /dev/video0
    resolution: [1280, 720]
sensors:
  - name: soil-north
    measures: soil_moisture
    iio: {raw: /sys/bus/iio/devices/iio:device0/in_voltage0_raw, scale: /sys/bus/iio/devices/iio:device0/in_voltage_scale}
    calibration: {dry_mv: 2750, wet_mv: 1250}
    period: 30s
    stuck_after: 6h
    smoothing: 0.3
  - name: air
    measures: air_temperature
    hwmon: /sys/class/hwmon/hwmon0/temp1_input
  - name: humidity
    measures: relative_humidity
    senml: {command: [/usr/local/bin/gw, read], name: "urn:dev:gw/rh"}
  - name: leaf-wetness
    measures: leaf_wetness
    file: /run/leaf
    range: [0, 15]
zones:
  - name: north
    soil: loam
    soil_sensor: soil-north
    max_on: 20m
    daily_cap: 1h
    valve: {command: [/usr/local/bin/relay, "3"]}
  - name: south
    soil_sensor: soil-north
    valve: {gpio: {chip: gpiochip0, line: 17, active_low: true}}
tracking: {window: 5, agree: 3}
alerts: {cooldown: 12h, clear_after: 30m}
)";

TEST(FieldConfigTest, AFieldIsReadWithTheDefaultsItExpects) {
  auto config = parse_field_config(kField, "field.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_DOUBLE_EQ(config->latitude_deg, 41.6);
  ASSERT_EQ(config->cameras.size(), 4u);
  EXPECT_EQ(config->cameras[0].kind, CameraKind::kSpool);
  EXPECT_EQ(config->cameras[0].interval_ms, 120'000);
  EXPECT_EQ(config->cameras[0].max_frame_age_ms, 600'000) << "five intervals unless said";
  EXPECT_EQ(config->cameras[1].kind, CameraKind::kCommand);
  EXPECT_EQ(config->cameras[1].command.size(), 8u);
  EXPECT_EQ(config->cameras[2].kind, CameraKind::kHttp);
  EXPECT_EQ(config->cameras[3].kind, CameraKind::kV4l2);
  EXPECT_EQ(config->cameras[3].device, "/dev/video0");
  EXPECT_EQ(config->cameras[3].width, 1280);
  ASSERT_EQ(config->sensors.size(), 4u);
  const SensorConfig& soil = config->sensors[0];
  EXPECT_EQ(soil.source, SensorSource::kIio);
  EXPECT_EQ(soil.unit, "m3/m3");
  EXPECT_EQ(soil.period_ms, 30'000);
  EXPECT_EQ(soil.rules.max_age_ms, 90'000) << "three missed periods make it stale";
  EXPECT_EQ(soil.rules.stuck_after_ms, 6 * 3600'000);
  EXPECT_DOUBLE_EQ(soil.calibration.dry_mv, 2750);
  EXPECT_DOUBLE_EQ(soil.rules.max, 1);
  EXPECT_DOUBLE_EQ(config->sensors[1].rules.min, -40);
  EXPECT_EQ(config->sensors[2].source, SensorSource::kSenml);
  EXPECT_EQ(config->sensors[2].senml_name, "urn:dev:gw/rh");
  EXPECT_DOUBLE_EQ(config->sensors[3].rules.max, 15);
  ASSERT_EQ(config->zones.size(), 2u);
  EXPECT_EQ(config->zones[1].valve, ValveKind::kGpio);
  EXPECT_EQ(config->zones[1].gpio_chip, "gpiochip0");
  EXPECT_EQ(config->zones[1].gpio_line, 17u);
  EXPECT_TRUE(config->zones[1].gpio_active_low);
  const ZoneConfig& zone = config->zones[0];
  EXPECT_DOUBLE_EQ(zone.rules.soil.theta_fc, field::soil_preset("loam")->theta_fc);
  EXPECT_EQ(zone.rules.max_on_s, 1200);
  EXPECT_EQ(zone.rules.daily_on_cap_s, 3600);
  EXPECT_EQ(zone.valve, ValveKind::kCommand);
  EXPECT_EQ(zone.period_ms, 30'000) << "the soil sensor's period";
  EXPECT_EQ(config->tracking.agree, 3);
  EXPECT_EQ(config->alerts.cooldown_ms, 12 * 3600'000);
  EXPECT_EQ(config->alerts.clear_after_ms, 30 * 60'000);
}

TEST(FieldConfigTest, EveryMistakeIsReportedAtItsLine) {
  auto expect_error = [](const std::string& text, const std::string& says) {
    auto config = parse_field_config(text, "field.yaml");
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_NE(config.error().message.find(says), std::string::npos) << config.error().message;
  };
  auto replaced = [](const std::string& from, const std::string& to) {
    std::string text = kField;
    const std::size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  expect_error("", "field.yaml: the field configuration is empty");
  expect_error("cameras: [\n", "field.yaml:2:");
  expect_error("camras: []\n", "field.yaml:1:1: unknown key 'camras'");
  expect_error(replaced("interval: 2m", "interval: soon"), "field.yaml:6:15: 'interval' of camera 'row-1'");
  expect_error(replaced("    zone: north\n  - id: gate", "    zone: west\n  - id: gate"),
               "field.yaml:7:11: camera 'row-1' watches zone 'west'");
  expect_error(replaced("  - id: ipcam\n    url: http", "  - id: ipcam\n    url: ftp"),
               "must start with http://");
  expect_error(replaced("  - id: gate\n", "  - id: gate\n    url: http://x/y\n"), "exactly one of 'spool'");
  expect_error(replaced("name: air\n", "name: soil-north\n"), "sensor 'soil-north' is named twice");
  expect_error(replaced("    range: [0, 15]\n", ""), "needs a 'range'");
  expect_error(replaced("range: [0, 15]", "range: [15, 0]"), "lowest value first");
  expect_error(replaced("smoothing: 0.3", "smoothing: 1.5"),
               "'smoothing' of sensor 'soil-north' must be between");
  expect_error(replaced("soil_sensor: soil-north", "soil_sensor: air"),
               "measures air_temperature, not soil_moisture");
  expect_error(replaced("soil_sensor: soil-north", "soil_sensor: nothing"), "not among 'sensors'");
  expect_error(replaced("soil: loam", "soil: peat"), "peat");
  expect_error(replaced("    valve: {command: [/usr/local/bin/relay, \"3\"]}\n", ""), "needs a 'valve'");
  expect_error(replaced("valve: {command: [/usr/local/bin/relay, \"3\"]}", "valve: {command: /bin/relay}"),
               "must be a list");
  expect_error(replaced("soil: loam", "soil: {theta_fc: 0.2, theta_wp: 0.3}"), "zone 'north': ");
  expect_error(replaced("max_on: 20m", "max_on: 20m\n    allowed_depletion: 0.9"),
               "'allowed_depletion' of zone 'north' must be between 0.1 and 0.8");
  expect_error(replaced("line: 17", "line: seventeen"), "'line' of zone 'south' must be a number");
  expect_error(replaced("resolution: [1280, 720]", "resolution: 720p"), "must be [width, height]");
  expect_error(replaced("tracking: {window: 5, agree: 3}", "tracking: {window: 3, agree: 5}"),
               "'agree' (5) cannot be more than 'window' (3)");
  expect_error(
      replaced("calibration: {dry_mv: 2750, wet_mv: 1250}", "calibration: {dry_mv: 1250, wet_mv: 1250}"),
      "different voltages");
}

}  // namespace
}  // namespace canopy::agent

namespace canopy::agent {
namespace {

TEST(FieldConfigSamplesTest, TheSamplesSectionSetsEveryStrategyAndBudget) {
  const std::string text = std::string(kField) +
                           "field: home-farm\n"
                           "samples:\n"
                           "  image: {max_side: 480, jpeg_quality: 80, max_bytes: 90000}\n"
                           "  budget: {per_minute: 1, per_hour: 6, per_day: 40, paced: false}\n"
                           "  duplicates: {max_distance: 8, keep_after: 2h}\n"
                           "  uncertainty: {method: entropy, min_score: 0.7, per_day: 20}\n"
                           "  temporal: {enabled: false}\n"
                           "  model_disagreement: {share: 0.5, iou: 0.4}\n"
                           "  cross_sensor: {dry_for: 2d}\n"
                           "  class_balance: {rare_share: 0.1, boost: 2}\n"
                           "  novelty: {min_distance: 0.4, memory: 10}\n"
                           "  random: {share: 0.05, per_day: 4}\n";
  auto config = parse_field_config(text, "field.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const collect::SelectionRules& r = config->selection;
  EXPECT_EQ(config->field, "home-farm");
  EXPECT_EQ(config->sample_images.max_side, 480);
  EXPECT_EQ(config->sample_images.max_bytes, 90000);
  EXPECT_EQ(r.budget.per_hour, 6);
  EXPECT_FALSE(r.budget.paced);
  EXPECT_EQ(r.budget.per_strategy_day.at("uncertainty"), 20);
  EXPECT_EQ(r.budget.per_strategy_day.at("random"), 4);
  EXPECT_EQ(r.duplicates.keep_after_ms, 2 * 3'600'000);
  EXPECT_EQ(r.uncertainty.method, collect::UncertaintyMethod::kEntropy);
  EXPECT_FALSE(r.temporal.enabled);
  EXPECT_DOUBLE_EQ(r.model_disagreement.share, 0.5);
  EXPECT_EQ(r.cross_sensor.dry_for_ms, 2 * 86'400'000);
  EXPECT_DOUBLE_EQ(r.class_balance.boost, 2);
  EXPECT_EQ(r.novelty.memory, 10);
  EXPECT_DOUBLE_EQ(r.random.share, 0.05);

  // Without a section: selection on, with its defaults.
  auto plain = parse_field_config(kField, "field.yaml");
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->selection.enabled);
  EXPECT_EQ(plain->selection.budget.per_day, 100);
}

TEST(FieldConfigSamplesTest, AMistakeInTheSamplesSectionIsReportedAtItsLine) {
  auto error_of = [](const std::string& samples) {
    auto config = parse_field_config(std::string(kField) + "samples:\n" + samples, "field.yaml");
    return config.ok() ? std::string("accepted") : config.error().message;
  };
  EXPECT_NE(error_of("  uncertainty: {method: margin}\n").find("'method' 'margin' must be band"), std::string::npos);
  EXPECT_NE(error_of("  random: {share: 2}\n").find("'share' must be between 0 and 1"), std::string::npos);
  EXPECT_NE(error_of("  random: {enabled: false}\n").find("unknown key 'enabled'"), std::string::npos);
  EXPECT_NE(error_of("  novelty: {distance: 0.3}\n").find("unknown key 'distance'"), std::string::npos);
  EXPECT_NE(error_of("  budget: {per_day: lots}\n").find("field.yaml:"), std::string::npos);
  EXPECT_NE(error_of("  image: {max_side: 8}\n").find("'max_side' must be between 32"), std::string::npos);
  EXPECT_NE(error_of("  sample_rate: 3\n").find("unknown key 'sample_rate'"), std::string::npos);
}

}  // namespace
}  // namespace canopy::agent
