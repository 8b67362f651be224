// One simulated device for the benchmarks that judge what its field loop
// keeps: the agent's own FieldLoop (its SampleCollector included) with a
// detector as its active model, on a manual clock, watching the world's
// camera spool, reading its sensors and driving its valve, a minute at a
// time. The worlds are deterministic, so two runs with different samples
// sections see the same frames.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>

#include "agent/active_model.h"
#include "agent/field_config.h"
#include "agent/field_loop.h"
#include "api/samples.h"
#include "bench_world.h"
#include "common/clock.h"
#include "field_models.h"
#include "report.h"
#include "world/field_world.h"
#include "world/world_config.h"

namespace canopy::bench {

// Device `device`'s world of seed `seed`: half-cloudy, a disease beginning
// some time in the run (a rare class until then), `scenario` from
// `drift_day` on ("baseline": no drift), a frame every `frame_interval_ms`.
inline world::WorldConfig drift_world_config(int device, std::uint64_t seed, const std::string& scenario,
                                             int days, int drift_day, std::int64_t frame_interval_ms) {
  world::WorldConfig config = world::default_world_config(device, seed);
  config.weather.cloudiness = 0.5;
  config.crop.drawn_onset_days = days;
  if (scenario != "baseline") config.drifts.push_back({drift_day, scenario});
  for (auto& camera : config.cameras) camera.interval_ms = frame_interval_ms;
  return config;
}

// The samples section of the hard-case arm: the default strategies, at most
// `per_day` samples a day and 2 an hour; `more` adds YAML flow entries
// (e.g. "uncertainty: {band: 0.2}").
inline std::string hard_case_samples(int per_day, const std::string& more = "") {
  return "samples: {budget: {per_minute: 1, per_hour: 2, per_day: " + std::to_string(per_day) + "}" +
         (more.empty() ? "" : ", " + more) + "}\n";
}

// The samples section of the random arm at the same budget: only the random
// slice, drawn at twice the budget's rate so that it spends the budget whole.
inline std::string random_samples(int per_day, std::int64_t frame_interval_ms) {
  const double frames_per_day = static_cast<double>(world::kDayMs) / static_cast<double>(frame_interval_ms);
  return "samples: {budget: {per_minute: 1, per_hour: 2, per_day: " + std::to_string(per_day) +
         "}, random: {share: " + fmt("%.4f", 2.0 * per_day / frames_per_day) +
         "}, uncertainty: {enabled: false}, temporal: {enabled: false}, model_disagreement: {enabled: "
         "false}, "
         "cross_sensor: {enabled: false}, class_balance: {enabled: false}, novelty: {enabled: false}}\n";
}

// Runs the device for `days` in a world made in `dir` (emptied first).
// `samples_yaml` is the field configuration's samples section. `on_frame`
// sees every frame of the first camera with its truth, before the loop
// does; `on_sample` every sample the loop keeps.
inline void run_field_device(world::WorldConfig config, const std::string& device_id, int days,
                             const std::string& samples_yaml, const std::filesystem::path& model_dir,
                             const std::filesystem::path& dir,
                             const std::function<void(const world::Frame&)>& on_frame,
                             const std::function<void(const api::Sample&)>& on_sample) {
  world::FieldWorld world = open_world(config, dir);
  const std::int64_t start_ms = config.start_ms, end_ms = start_ms + days * world::kDayMs;
  const std::int64_t frame_interval_ms = config.cameras.front().interval_ms;

  agent::FieldLoopOptions options;
  options.config = check(agent::parse_field_config(world.field_config_yaml() + samples_yaml, "field.yaml"),
                         "the world's field configuration");
  ManualClock clock(start_ms);
  options.data_dir = dir / "data";
  options.clock = &clock;
  options.device_id = device_id;
  agent::ActiveModel active;
  active.set(load_field_model(model_dir));
  auto loop = check(agent::FieldLoop::open(std::move(options), active,
                                           [&](api::Stream stream, std::int64_t, Json body) -> Status {
                                             if (stream == api::Stream::kSamples)
                                               on_sample(check(api::Sample::from_json(body), "a sample"));
                                             return {};
                                           }),
                    "opening the field loop");
  for (std::int64_t t = start_ms; t < end_ms; t += world::kMinuteMs) {
    check(world.publish_sensors(t), "publishing the sensors");
    if ((t - start_ms) % frame_interval_ms == 0)
      on_frame(check(world.publish_frame(config.cameras.front().id, t), "publishing a frame"));
    if (t > start_ms) clock.advance_ms(world::kMinuteMs);
    loop->run_due();
    check(world.follow_valves(t), "following the valve");
  }
}

}  // namespace canopy::bench
