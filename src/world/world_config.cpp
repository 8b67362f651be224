#include "world/world_config.h"

#include <set>

#include "common/text.h"
#include "field/irrigation.h"
#include "vision/field_renderer.h"

namespace canopy::world {

namespace {

bool plain_name(const std::string& name) { return is_plain_name(name, 64, "_-", "_"); }

bool known_scenario(const std::string& scenario) {
  const std::vector<std::string> scenarios = vision::field_scenarios();
  return std::find(scenarios.begin(), scenarios.end(), scenario) != scenarios.end();
}

Error invalid(const std::string& message) { return Error{ErrorCode::kInvalidArgument, message}; }

}  // namespace

Result<WorldConfig> resolve_world_config(WorldConfig config) {
  std::set<std::string> zone_names;
  std::vector<std::string> zones;
  for (ZoneConfig& zone : config.zones) {
    if (!plain_name(zone.name))
      return invalid("zone name '" + zone.name + "' must be letters, digits, '-' and '_'");
    if (!zone_names.insert(zone.name).second) return invalid("zone '" + zone.name + "' is named twice");
    zones.push_back(zone.name);
    if (!zone.custom_soil) {
      auto soil = field::soil_preset(zone.texture);
      if (!soil.ok()) return soil.error().with_context("zone '" + zone.name + "'");
      zone.water.soil = *soil;
      zone.water.infiltration_mm_per_h = infiltration_mm_per_h(zone.texture);
    }
    const SoilWaterConfig& w = zone.water;
    if (!(w.soil.theta_fc > w.soil.theta_wp) || w.root_depth_m <= 0 || w.area_m2 <= 0 ||
        w.valve_flow_l_per_h < 0 || w.depletion_fraction <= 0 || w.depletion_fraction >= 1 ||
        w.crop_coefficient < 0)
      return invalid("zone '" + zone.name +
                     "': needs θFC above θWP, a positive root depth and area, a flow of at least 0, "
                     "a depletion fraction between 0 and 1 and a crop coefficient of at least 0");
  }
  std::set<std::string> camera_ids;
  for (const CameraConfig& camera : config.cameras) {
    if (!plain_name(camera.id))
      return invalid("camera id '" + camera.id + "' must be letters, digits, '-' and '_'");
    if (!camera_ids.insert(camera.id).second) return invalid("camera '" + camera.id + "' is named twice");
    if (!zone_names.count(camera.zone))
      return invalid("camera '" + camera.id + "' watches zone '" + camera.zone +
                     "', which the world does not have");
    if (camera.rows < 1 || camera.plants_per_row < 1 || camera.rows * camera.plants_per_row > 400)
      return invalid("camera '" + camera.id + "' needs 1 to 400 plants");
    if (camera.width < 64 || camera.height < 64 || camera.width > 8192 || camera.height > 8192)
      return invalid("camera '" + camera.id + "': the image size must be between 64 and 8192 pixels");
  }
  if (!config.field.empty() && !plain_name(config.field))
    return invalid("field '" + config.field + "' must be letters, digits, '-' and '_'");
  if (!known_scenario(config.scenario)) return invalid("unknown scenario '" + config.scenario + "'");
  for (const DriftEvent& drift : config.drifts)
    if (!known_scenario(drift.scenario))
      return invalid("a drift names unknown scenario '" + drift.scenario + "'");
  CANOPY_TRY(check_sensor_faults(config.faults, zones));
  if (config.jpeg_quality < 1 || config.jpeg_quality > 100)
    return invalid("jpeg_quality must be between 1 and 100");
  return config;
}

WorldConfig default_world_config(int device_index, std::uint64_t seed) {
  WorldConfig config;
  config.seed = seed * 1'000'003 + std::uint64_t(device_index);
  ZoneConfig zone;
  zone.name = "zone-1";
  zone.texture = device_index % 2 == 1 ? "sand" : "loam";
  config.zones = {zone};
  CameraConfig camera;
  camera.id = "cam-1";
  camera.zone = zone.name;
  config.cameras = {camera};
  config.crop.drawn_onsets = 1;
  return config;
}

}  // namespace canopy::world
