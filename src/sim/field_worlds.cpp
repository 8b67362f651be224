#include "sim/field_worlds.h"

#include <algorithm>
#include <map>

#include "common/files.h"
#include "common/text.h"
#include "vision/field_renderer.h"

namespace canopy::sim {

namespace {

constexpr std::int64_t kStepMs = world::kMinuteMs;  // the worlds move a virtual minute at a time

}  // namespace

struct FieldWorlds::DeviceWorld {
  int number = 0;
  std::filesystem::path config_file;
  world::FieldWorld world;
  std::map<std::string, std::int64_t> next_frame_ms;  // per camera
  std::int64_t last_step_ms = 0;
  WorldTally tally;
};

Result<std::unique_ptr<FieldWorlds>> FieldWorlds::start(const FieldWorldsOptions& options,
                                                        const std::vector<DeviceSensorFault>& faults,
                                                        Clock& clock) {
  const auto simulated = [&options](int device) {
    return std::find(options.devices.begin(), options.devices.end(), device) != options.devices.end();
  };
  for (const DeviceSensorFault& fault : faults)
    if (!simulated(fault.device))
      return make_error(
          ErrorCode::kInvalidArgument,
          "--sensor-fault names device " + std::to_string(fault.device) + ", which is not simulated");
  for (const DeviceDrift& drift : options.drifts)
    if (!simulated(drift.device))
      return make_error(ErrorCode::kInvalidArgument,
                        "--drift names device " + std::to_string(drift.device) + ", which is not simulated");
  std::vector<std::unique_ptr<DeviceWorld>> worlds;
  for (int number : options.devices) {
    world::WorldConfig config = world::default_world_config(number, options.seed);
    config.start_ms = options.start_ms;
    if (auto field = options.fields.find(number); field != options.fields.end()) config.field = field->second;
    if (options.frame_interval_ms > 0)
      for (auto& camera : config.cameras) camera.interval_ms = options.frame_interval_ms;
    for (const DeviceSensorFault& fault : faults) {
      if (fault.device != number) continue;
      world::SensorFault absolute = fault.fault;
      absolute.from_ms += options.start_ms;
      absolute.until_ms += options.start_ms;
      config.faults.push_back(absolute);
    }
    for (const DeviceDrift& drift : options.drifts)
      if (drift.device == number) config.drifts.push_back(drift.event);
    const std::string id = "device-" + std::to_string(number);
    auto created = world::FieldWorld::create(config, options.dir / id / "field", options.dir / "truth" / id);
    if (!created.ok()) return created.error().with_context("the field world of " + id);
    const std::filesystem::path config_file = options.dir / id / "field.yaml";
    std::error_code ec;
    std::filesystem::create_directories(config_file.parent_path(), ec);  // before the agent's first start
    if (ec)
      return make_error(ErrorCode::kIo,
                        "cannot create " + config_file.parent_path().string() + ": " + ec.message());
    CANOPY_TRY(write_file_atomic(config_file, created->field_config_yaml()));
    auto device =
        std::make_unique<DeviceWorld>(DeviceWorld{number, config_file, std::move(*created), {}, 0, {}});
    device->tally.device = number;
    device->tally.texture = config.zones.front().texture;
    for (const auto& camera : config.cameras) device->next_frame_ms[camera.id] = options.start_ms;
    device->last_step_ms = options.start_ms;
    worlds.push_back(std::move(device));
  }
  std::unique_ptr<FieldWorlds> fields(new FieldWorlds(clock, std::move(worlds), options.frame_interval_ms));
  for (auto& device : fields->worlds_) CANOPY_TRY(fields->step(*device, options.start_ms));
  fields->thread_ = std::thread([raw = fields.get()] { raw->run(); });
  return fields;
}

FieldWorlds::FieldWorlds(Clock& clock, std::vector<std::unique_ptr<DeviceWorld>> worlds,
                         std::int64_t frame_interval_ms)
    : clock_(clock), worlds_(std::move(worlds)), frame_interval_ms_(frame_interval_ms) {}

FieldWorlds::~FieldWorlds() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::filesystem::path FieldWorlds::field_config(int number) const {
  for (const auto& device : worlds_)
    if (device->number == number) return device->config_file;
  return {};
}

std::vector<WorldTally> FieldWorlds::tallies() const {
  std::lock_guard lock(mutex_);
  std::vector<WorldTally> tallies;
  for (const auto& device : worlds_) tallies.push_back(device->tally);
  return tallies;
}

Status FieldWorlds::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void FieldWorlds::run() {
  std::int64_t next_ms = clock_.wall_ms() - clock_.wall_ms() % kStepMs + kStepMs;
  while (!stop_) {
    const std::int64_t wait_ms = next_ms - clock_.wall_ms();
    if (wait_ms > 0) clock_.sleep_for_ms_unless(wait_ms, stop_);
    if (stop_) return;
    const std::int64_t now_ms = clock_.wall_ms();
    for (auto& device : worlds_) {
      Status stepped = step(*device, now_ms);
      if (!stepped.ok()) {
        std::lock_guard lock(mutex_);
        error_ = stepped.error().with_context("device-" + std::to_string(device->number) + "'s field world");
        return;
      }
    }
    next_ms = now_ms - now_ms % kStepMs + kStepMs;
  }
}

Status FieldWorlds::step(DeviceWorld& device, std::int64_t now_ms) {
  world::FieldWorld& world = device.world;
  const std::string& zone = world.config().zones.front().name;
  const bool was_open = world.soil(zone).state().valve_open;
  CANOPY_TRY(world.follow_valves(now_ms));
  CANOPY_TRY(world.publish_sensors(now_ms));
  int frames = 0;
  for (auto& [camera, due_ms] : device.next_frame_ms) {
    if (now_ms < due_ms) continue;
    if (auto frame = world.publish_frame(camera, now_ms); !frame.ok()) return frame.error();
    ++frames;
    const std::int64_t interval = frame_interval_ms_ > 0 ? frame_interval_ms_ : kStepMs;
    due_ms = now_ms - now_ms % interval + interval;  // skips the frames a late step missed
  }
  const world::SoilWaterState& soil = world.soil(zone).state();
  std::lock_guard lock(mutex_);
  WorldTally& tally = device.tally;
  // The valve was as it is now since the last step: follow_valves moved it at `now_ms`.
  if (was_open) tally.valve_open_minutes += (now_ms - device.last_step_ms) / kStepMs;
  if (soil.valve_open && !was_open) ++tally.valve_openings;
  device.last_step_ms = now_ms;
  tally.theta = soil.theta;
  tally.irrigation_mm = soil.irrigation_mm;
  tally.rain_mm = soil.rain_mm;
  tally.frames += frames;
  tally.plants = static_cast<int>(world.crop().plants().size());
  tally.diseased = static_cast<int>(std::count_if(world.crop().plants().begin(), world.crop().plants().end(),
                                                  [](const auto& p) { return p.diseased; }));
  tally.stressed = static_cast<int>(std::count_if(world.crop().plants().begin(), world.crop().plants().end(),
                                                  [](const auto& p) { return p.stressed; }));
  return {};
}

Result<DeviceSensorFault> parse_device_sensor_fault(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--sensor-fault '" + text + "': " + why +
                          "; the form is DEVICE:SENSOR:KIND:FROM_H:UNTIL_H, e.g. 2:soil-zone-1:dead:30:40");
  };
  const std::vector<std::string> parts = split(text, ':');
  if (parts.size() != 5) return bad("five parts are needed");
  const std::optional<std::int64_t> device = parse_int(parts[0]);
  if (!device || *device < 1) return bad("the device is a number from 1");
  auto kind = world::sensor_fault_kind(parts[2]);
  if (!kind.ok()) return bad(kind.error().message);
  const std::optional<std::int64_t> from_h = parse_int(parts[3]);
  const std::optional<std::int64_t> until_h = parse_int(parts[4]);
  if (!from_h || !until_h || *from_h < 0 || *until_h <= *from_h)
    return bad("the hours are whole numbers from 0, the second after the first");
  DeviceSensorFault fault;
  fault.device = static_cast<int>(*device);
  fault.fault.sensor = parts[1];
  fault.fault.kind = *kind;
  fault.fault.from_ms = *from_h * world::kHourMs;
  fault.fault.until_ms = *until_h * world::kHourMs;
  return fault;
}

Result<DeviceDrift> parse_device_drift(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "--drift '" + text + "': " + why + "; the form is DEVICE:DAY:SCENARIO, e.g. 2:1:new-disease");
  };
  const std::vector<std::string> parts = split(text, ':');
  if (parts.size() != 3) return bad("three parts are needed");
  const std::optional<std::int64_t> device = parse_int(parts[0]);
  if (!device || *device < 1) return bad("the device is a number from 1");
  const std::optional<std::int64_t> day = parse_int(parts[1]);
  if (!day || *day < 0 || *day > 3650) return bad("the day is a whole number from 0");
  const std::vector<std::string> scenarios = vision::field_scenarios();
  if (std::find(scenarios.begin(), scenarios.end(), parts[2]) == scenarios.end()) {
    std::string known;
    for (const std::string& scenario : scenarios) known += (known.empty() ? "" : ", ") + scenario;
    return bad("'" + parts[2] + "' is not a scenario (" + known + ")");
  }
  return DeviceDrift{static_cast<int>(*device), world::DriftEvent{static_cast<int>(*day), parts[2]}};
}

}  // namespace canopy::sim
