#include "world/field_world.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "common/time.h"
#include "vision/field_renderer.h"
#include "vision/image_codec.h"
#include "world/random_streams.h"

namespace canopy::world {

namespace {

constexpr std::int64_t kSoilTruthEveryMs = 10 * kMinuteMs;

int label_of(PlantCondition condition) {
  // The order of vision::kFieldLabels: healthy, diseased, water_stressed.
  switch (condition) {
    case PlantCondition::kHealthy:
      return 0;
    case PlantCondition::kDiseased:
      return 1;
    case PlantCondition::kWaterStressed:
      return 2;
  }
  return 0;
}

// Plants stand in crop rows running down the frame, a little off a perfect grid.
std::vector<PlantSpot> lay_out_plants(const WorldConfig& config) {
  std::vector<PlantSpot> spots;
  for (const CameraConfig& camera : config.cameras) {
    for (int row = 0; row < camera.rows; ++row) {
      for (int k = 0; k < camera.plants_per_row; ++k) {
        StreamRandom jitter(config.seed, "layout", {std::int64_t(purpose_key(camera.id)), row, k});
        PlantSpot spot;
        spot.camera = camera.id;
        spot.zone = camera.zone;
        spot.x = (row + 0.5) / camera.rows + jitter.uniform(-0.015, 0.015);
        spot.y = (k + 0.5) / camera.plants_per_row + jitter.uniform(-0.03, 0.03);
        spot.radius = camera.plant_radius * jitter.uniform(0.85, 1.1);
        spots.push_back(spot);
      }
    }
  }
  return spots;
}

std::string number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string quoted(const std::filesystem::path& path) { return Json(path.string()).dump(); }

std::string seconds(std::int64_t ms) { return std::to_string(std::max<std::int64_t>(1, ms / 1000)) + "s"; }

}  // namespace

FieldWorld::FieldWorld(WorldConfig config, std::vector<PlantSpot> spots, std::filesystem::path device_dir,
                       std::filesystem::path truth_dir)
    : config_(std::move(config)),
      weather_(config_.weather, config_.seed, utc_day(config_.start_ms)),
      crop_(std::move(spots), config_.crop, config_.seed, utc_day(config_.start_ms)),
      sensors_(
          DeviceFiles(std::move(device_dir)),
          [&] {
            std::vector<std::string> zones;
            for (const ZoneConfig& zone : config_.zones) zones.push_back(zone.name);
            return zones;
          }(),
          config_.probe, config_.noise, config_.faults, config_.seed),
      truth_(std::move(truth_dir)),
      now_ms_(config_.start_ms) {
  for (const ZoneConfig& zone : config_.zones)
    soils_.emplace(zone.name, SoilWaterBalance(zone.water, now_ms_));
}

Result<FieldWorld> FieldWorld::create(WorldConfig config, std::filesystem::path device_dir,
                                      std::filesystem::path truth_dir) {
  CANOPY_ASSIGN_OR_RETURN(WorldConfig resolved, resolve_world_config(std::move(config)));
  std::vector<PlantSpot> spots = lay_out_plants(resolved);
  FieldWorld world(std::move(resolved), std::move(spots), std::move(device_dir), std::move(truth_dir));
  CANOPY_TRY(world.log_day(utc_day(world.now_ms_)));
  for (const ZoneConfig& zone : world.config_.zones) CANOPY_TRY(world.log_soil(zone.name));
  return world;
}

std::string FieldWorld::scenario_at(std::int64_t wall_ms) const {
  std::string scenario = config_.scenario;
  int latest = -1;
  const std::int64_t day = utc_day(wall_ms) - utc_day(config_.start_ms);
  for (const DriftEvent& drift : config_.drifts)
    if (drift.day <= day && drift.day >= latest) {
      latest = drift.day;
      scenario = drift.scenario;
    }
  return scenario;
}

Status FieldWorld::log_day(std::int64_t day) {
  const DailyWeather d = weather_.day(day);
  return truth_.append("weather", Json{{"date", format_utc(day_start_ms(day)).substr(0, 10)},
                                       {"t_min_c", rounded(d.t_min_c, 2)},
                                       {"t_max_c", rounded(d.t_max_c, 2)},
                                       {"rh_min", rounded(d.rh_min, 1)},
                                       {"rh_max", rounded(d.rh_max, 1)},
                                       {"rain_mm", rounded(d.rain_mm, 2)},
                                       {"et0_mm", rounded(d.et0_mm, 3)},
                                       {"scenario", scenario_at(day_start_ms(day))}});
}

Status FieldWorld::log_soil(const std::string& zone) {
  const SoilWaterState& s = soils_.at(zone).state();
  return truth_.append("soil", Json{{"at_ms", s.at_ms},
                                    {"zone", zone},
                                    {"theta", rounded(s.theta, 5)},
                                    {"depletion_mm", rounded(s.depletion_mm, 3)},
                                    {"ks", rounded(s.ks, 4)},
                                    {"valve_open", s.valve_open},
                                    {"irrigation_mm", rounded(s.irrigation_mm, 3)},
                                    {"rain_mm", rounded(s.rain_mm, 3)},
                                    {"runoff_mm", rounded(s.runoff_mm, 3)},
                                    {"et_mm", rounded(s.et_mm, 3)},
                                    {"percolation_mm", rounded(s.percolation_mm, 3)}});
}

Status FieldWorld::advance_to(std::int64_t wall_ms) {
  while (now_ms_ < wall_ms) {
    const std::int64_t end = std::min(wall_ms, (now_ms_ / kMinuteMs + 1) * kMinuteMs);
    std::map<std::string, double> ks;
    for (auto& [zone, soil] : soils_) {
      soil.advance_to(end, weather_);
      ks[zone] = soil.state().ks;
    }
    for (const PlantChange& change :
         crop_.observe(end, ks, vision::scenario_disease_types(scenario_at(end)))) {
      CANOPY_TRY(
          truth_.append("plants", Json{{"at_ms", change.at_ms},
                                       {"plant", change.plant + 1},
                                       {"camera", crop_.plants()[std::size_t(change.plant)].spot.camera},
                                       {"from", plant_condition_name(change.from)},
                                       {"to", plant_condition_name(change.to)},
                                       {"stressed", change.stressed},
                                       {"diseased", change.diseased},
                                       {"disease", change.disease},
                                       {"cause", change.cause}}));
    }
    if (utc_day(end) != utc_day(now_ms_)) CANOPY_TRY(log_day(utc_day(end)));
    if (end % kSoilTruthEveryMs == 0)
      for (const ZoneConfig& zone : config_.zones) CANOPY_TRY(log_soil(zone.name));
    now_ms_ = end;
  }
  return {};
}

Status FieldWorld::set_valve(const std::string& zone, bool open, std::int64_t at_ms) {
  auto soil = soils_.find(zone);
  if (soil == soils_.end()) return make_error(ErrorCode::kNotFound, "the world has no zone '" + zone + "'");
  CANOPY_TRY(advance_to(at_ms));
  if (soil->second.state().valve_open == open) return {};
  soil->second.set_valve(open, std::max(at_ms, now_ms_), weather_);
  return log_soil(zone);
}

Status FieldWorld::follow_valves(std::int64_t at_ms) {
  for (const ZoneConfig& zone : config_.zones)
    CANOPY_TRY(set_valve(zone.name, sensors_.valve_open(zone.name), at_ms));
  return {};
}

SensorReadings FieldWorld::true_readings() const {
  SensorReadings readings;
  const Air air = weather_.air_at(now_ms_);
  readings.air_temperature_c = air.temperature_c;
  readings.relative_humidity = air.relative_humidity;
  // Soil a few centimetres down follows the day's mean air temperature,
  // with a damped swing that lags the air's by about three hours.
  const DailyWeather today = weather_.day(utc_day(now_ms_));
  const double mean = (today.t_min_c + today.t_max_c) / 2;
  readings.soil_temperature_c =
      mean - 1 + 0.3 * (weather_.air_at(now_ms_ - 3 * kHourMs).temperature_c - mean);
  for (const auto& [zone, soil] : soils_) readings.soil_theta_by_zone[zone] = soil.state().theta;
  return readings;
}

Status FieldWorld::publish_sensors(std::int64_t at_ms) {
  CANOPY_TRY(advance_to(at_ms));
  return sensors_.publish(true_readings(), now_ms_);
}

Result<Frame> FieldWorld::capture(const std::string& camera_id, std::int64_t at_ms) {
  const auto camera = std::find_if(config_.cameras.begin(), config_.cameras.end(),
                                   [&](const CameraConfig& c) { return c.id == camera_id; });
  if (camera == config_.cameras.end())
    return make_error(ErrorCode::kNotFound, "the world has no camera '" + camera_id + "'");
  CANOPY_TRY(advance_to(at_ms));
  Frame frame;
  frame.camera = camera_id;
  frame.at_ms = now_ms_;
  frame.file_name = camera_id + "-" + std::to_string(now_ms_) + ".jpg";
  frame.scenario = scenario_at(now_ms_);
  frame.air = weather_.air_at(now_ms_);

  vision::FieldScene scene;
  scene.width = camera->width;
  scene.height = camera->height;
  scene.scenario = frame.scenario;
  scene.oblique = camera->oblique;
  scene.soil_moisture = soils_.at(camera->zone).state().theta;
  scene.row_spacing = 1.0 / camera->rows;
  scene.row_offset = 0.5 / camera->rows;
  scene.light = {frame.air.sun_elevation_deg, frame.air.sun_azimuth_rad, frame.air.cloud_cover};
  const auto camera_key = std::int64_t(purpose_key(camera_id));
  scene.ground_seed = StreamRandom(config_.seed, "ground", {camera_key}).next();
  scene.frame_seed = StreamRandom(config_.seed, "frame", {camera_key, now_ms_}).next();
  std::vector<const PlantTruth*> shown;
  for (const PlantTruth& plant : crop_.plants()) {
    if (plant.spot.camera != camera_id) continue;
    vision::ScenePlant scene_plant;
    scene_plant.x = plant.spot.x;
    scene_plant.y = plant.spot.y;
    scene_plant.radius = plant.spot.radius;
    scene_plant.label = label_of(plant.condition());
    scene_plant.severity = plant.severity(now_ms_, crop_.config());
    scene_plant.disease_type = plant.disease;
    scene_plant.look_seed = plant.look_seed;
    scene.plants.push_back(std::move(scene_plant));
    shown.push_back(&plant);
  }
  CANOPY_ASSIGN_OR_RETURN(vision::RenderedScene rendered, vision::render_field_scene(scene));
  CANOPY_ASSIGN_OR_RETURN(
      frame.jpeg, vision::encode_image(rendered.image, vision::ImageFormat::kJpeg, config_.jpeg_quality));
  frame.width = rendered.image.cols;
  frame.height = rendered.image.rows;
  for (const vision::SceneObject& object : rendered.objects) {
    const PlantTruth& plant = *shown[std::size_t(object.plant)];
    frame.objects.push_back({plant.id, plant.condition(), plant.severity(now_ms_, crop_.config()),
                             plant.diseased ? plant.disease : "", object.box});
  }
  return frame;
}

Result<Frame> FieldWorld::publish_frame(const std::string& camera, std::int64_t at_ms) {
  CANOPY_ASSIGN_OR_RETURN(Frame frame, capture(camera, at_ms));
  const std::filesystem::path spool = files().spool(camera);
  std::error_code ec;
  std::filesystem::create_directories(spool, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create " + spool.string() + ": " + ec.message());
  // A camera writes under a hidden name the spool reader skips, then renames it in.
  const std::filesystem::path hidden = spool / ("." + frame.file_name + ".part");
  {
    std::ofstream file(hidden, std::ios::binary | std::ios::trunc);
    file.write(frame.jpeg.data(), std::streamsize(frame.jpeg.size()));
    if (!file.flush()) return make_error(ErrorCode::kIo, "cannot write " + hidden.string());
  }
  // The spool takes a frame's time from its file: the world's time, not the host's.
  const auto file_time = std::filesystem::file_time_type::clock::from_sys(
      std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(frame.at_ms)));
  std::filesystem::last_write_time(hidden, file_time, ec);
  if (!ec) std::filesystem::rename(hidden, spool / frame.file_name, ec);
  if (ec)
    return make_error(ErrorCode::kIo,
                      "cannot put " + frame.file_name + " into " + spool.string() + ": " + ec.message());

  Json objects = Json::array();
  for (const TrueObject& object : frame.objects) {
    Json entry{{"plant", object.plant},
               {"label", plant_condition_name(object.condition)},
               {"severity", object.severity},
               {"box", Json::array({rounded(object.box.x1, 1), rounded(object.box.y1, 1),
                                    rounded(object.box.x2, 1), rounded(object.box.y2, 1)})}};
    if (!object.disease.empty()) entry["disease"] = object.disease;
    objects.push_back(std::move(entry));
  }
  CANOPY_TRY(truth_.append("frames", Json{{"file", frame.file_name},
                                          {"camera", camera},
                                          {"at_ms", frame.at_ms},
                                          {"width", frame.width},
                                          {"height", frame.height},
                                          {"scenario", frame.scenario},
                                          {"sun_elevation_deg", rounded(frame.air.sun_elevation_deg, 2)},
                                          {"cloud_cover", rounded(frame.air.cloud_cover, 3)},
                                          {"objects", std::move(objects)}}));
  return frame;
}

std::string FieldWorld::field_config_yaml() const {
  const DeviceFiles& f = files();
  const std::string period = seconds(config_.sensor_period_ms);
  std::string yaml =
      "# The field configuration of a simulated device: its sensors, spools and\n"
      "# valves are files the simulated field world writes and reads.\n" +
      (config_.field.empty() ? std::string() : "field: " + config_.field + "\n") +
      "location:\n  latitude: " + number(config_.weather.latitude_deg) + "\n";
  yaml += "cameras:\n";
  for (const CameraConfig& camera : config_.cameras) {
    yaml += "  - id: " + camera.id + "\n    spool: " + quoted(f.spool(camera.id)) +
            "\n    interval: " + seconds(camera.interval_ms) + "\n    zone: " + camera.zone + "\n";
  }
  // A sensor whose value has not moved for two hours is stuck: the noise of a live one always moves it.
  const std::string rules = "    period: " + period + "\n    stuck_after: 2h\n";
  yaml += "sensors:\n";
  yaml += "  - name: " + std::string(kAirTemperatureSensor) +
          "\n    measures: air_temperature\n    hwmon: " + quoted(f.hwmon_temperature()) + "\n" + rules;
  yaml += "  - name: " + std::string(kHumiditySensor) +
          "\n    measures: relative_humidity\n    hwmon: " + quoted(f.hwmon_humidity()) + "\n" + rules;
  yaml += "  - name: " + std::string(kSoilTemperatureSensor) +
          "\n    measures: soil_temperature\n    w1: " + quoted(f.w1_slave()) + "\n" + rules;
  const device::SoilProbeCalibration& c = config_.probe;
  for (std::size_t i = 0; i < config_.zones.size(); ++i) {
    yaml += "  - name: " + soil_moisture_sensor(config_.zones[i].name) + "\n    measures: soil_moisture\n" +
            "    iio:\n      raw: " + quoted(f.iio_raw(int(i))) + "\n      scale: " + quoted(f.iio_scale()) +
            "\n" + "    calibration: {dry_mv: " + number(c.dry_mv) + ", dry_theta: " + number(c.dry_theta) +
            ", wet_mv: " + number(c.wet_mv) + ", wet_theta: " + number(c.wet_theta) + "}\n" + rules;
  }
  yaml += "zones:\n";
  for (const ZoneConfig& zone : config_.zones) {
    const SoilWaterConfig& w = zone.water;
    yaml += "  - name: " + zone.name + "\n";
    yaml += zone.custom_soil ? "    soil: {theta_fc: " + number(w.soil.theta_fc) +
                                   ", theta_wp: " + number(w.soil.theta_wp) + "}\n"
                             : "    soil: " + zone.texture + "\n";
    yaml += "    soil_sensor: " + soil_moisture_sensor(zone.name) +
            "\n    root_depth: " + number(w.root_depth_m) +
            "\n    allowed_depletion: " + number(w.depletion_fraction) +
            "\n    valve: {file: " + quoted(f.valve(zone.name)) + "}\n";
  }
  return yaml;
}

}  // namespace canopy::world
