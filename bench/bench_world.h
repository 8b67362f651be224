// A simulated field world for the benchmarks that run the field loop on it:
// the configuration checked, the scratch directory emptied, the world
// created in it and its first sensor files published.
#pragma once

#include <filesystem>

#include "report.h"
#include "world/field_world.h"
#include "world/world_config.h"

namespace canopy::bench {

// `config` is resolved in place, so the caller reads the world's settings from it.
inline world::FieldWorld open_world(world::WorldConfig& config, const std::filesystem::path& dir) {
  config = check(world::resolve_world_config(config), "the world's configuration");
  std::filesystem::remove_all(dir);
  world::FieldWorld world =
      check(world::FieldWorld::create(config, dir / "field", dir / "truth"), "the world");
  check(world.publish_sensors(config.start_ms), "publishing the first sensor files");
  return world;
}

}  // namespace canopy::bench
