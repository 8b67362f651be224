#include "sim/fleet_plan.h"

#include <array>
#include <charconv>

namespace canopy::sim {

namespace {

struct Field {
  const char* name;
  const char* crop;
};
constexpr std::array<Field, 6> kFields = {{{"north", "wheat"},
                                           {"south", "maize"},
                                           {"east", "barley"},
                                           {"west", "soy"},
                                           {"river", "rice"},
                                           {"hill", "grapes"}}};
constexpr int kCamerasPerZone = 3;

template <typename T>
bool parse_number(std::string_view text, T& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

}  // namespace

Result<OfflineWindow> parse_offline_window(std::string_view spec) {
  const auto bad = [&] {
    return make_error(
        ErrorCode::kInvalidArgument,
        "--offline '" + std::string(spec) +
            "' must be DEVICES:START_S:END_S, e.g. 3:10:40 or 3-5:10:40 (devices 3 to 5 offline "
            "from 10 s to 40 s)");
  };
  const size_t first_colon = spec.find(':');
  const size_t second_colon =
      first_colon == std::string_view::npos ? first_colon : spec.find(':', first_colon + 1);
  if (second_colon == std::string_view::npos) return bad();
  const std::string_view devices = spec.substr(0, first_colon);
  OfflineWindow window;
  const size_t dash = devices.find('-');
  if (dash == std::string_view::npos) {
    if (!parse_number(devices, window.first_device)) return bad();
    window.last_device = window.first_device;
  } else if (!parse_number(devices.substr(0, dash), window.first_device) ||
             !parse_number(devices.substr(dash + 1), window.last_device)) {
    return bad();
  }
  if (!parse_number(spec.substr(first_colon + 1, second_colon - first_colon - 1), window.start_s) ||
      !parse_number(spec.substr(second_colon + 1), window.end_s))
    return bad();
  if (window.first_device < 1 || window.last_device < window.first_device || window.start_s < 0 ||
      window.end_s <= window.start_s)
    return bad();
  return window;
}

Result<std::vector<DevicePlan>> plan_fleet(const FleetPlanOptions& options) {
  if (options.devices < 1 || options.devices > 1000)
    return make_error(ErrorCode::kInvalidArgument, "--devices must be between 1 and 1000");
  if (options.first_device < 1)
    return make_error(ErrorCode::kInvalidArgument, "--first-device must be at least 1");
  if (options.fields < 1 || options.fields > static_cast<int>(kFields.size()))
    return make_error(ErrorCode::kInvalidArgument, "--fields must be between 1 and 6");
  if (options.crash_during_install < 0 || options.crash_during_install > options.devices)
    return make_error(ErrorCode::kInvalidArgument, "--crash-during-install must be between 0 and --devices");
  if (options.full_disk < 0 || options.full_disk > options.devices)
    return make_error(ErrorCode::kInvalidArgument, "--full-disk must be between 0 and --devices");
  const int last = options.first_device + options.devices - 1;
  for (const auto& window : options.offline)
    if (window.first_device < options.first_device || window.last_device > last)
      return make_error(ErrorCode::kInvalidArgument,
                        "--offline names device " + std::to_string(window.last_device) +
                            ", but the devices are " + std::to_string(options.first_device) + " to " +
                            std::to_string(last));

  std::vector<DevicePlan> plan;
  for (int i = 0; i < options.devices; ++i) {
    DevicePlan device;
    device.number = options.first_device + i;
    const Field& field = kFields[static_cast<size_t>((device.number - 1) % options.fields)];
    const int camera = (device.number - 1) / options.fields + 1;
    device.name = std::string(field.name) + "-field-cam-" + std::to_string(camera);
    device.tags = {{"field", field.name},
                   {"zone", std::to_string((camera - 1) / kCamerasPerZone + 1)},
                   {"crop", field.crop},
                   {"hardware", device.number % 3 == 0 ? "jetson-nano" : "rpi4"}};
    device.crash_during_install = i < options.crash_during_install;
    device.full_disk = i >= options.devices - options.full_disk;
    for (const auto& window : options.offline)
      if (device.number >= window.first_device && device.number <= window.last_device)
        device.offline.push_back(window);
    plan.push_back(std::move(device));
  }
  return plan;
}

}  // namespace canopy::sim
