// libFuzzer target over the field configuration (docs/field.md): a device
// parses the YAML an operator set on the server (which stores any text) and
// checks it whole, names, references and rules, before its field loop uses
// any of it. parse_field_config reaches yaml-cpp, the duration and number
// readers and the irrigation, sensor and selection rules' validation. Any
// input must end in a FieldConfig or an Error: never a crash, a leak or a
// hang. Run by the field_config_fuzz test over tests/fuzz/corpus/field_config/.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/field_config.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  auto config = canopy::agent::parse_field_config(std::string_view(reinterpret_cast<const char*>(data), size),
                                                  "field.yaml");
  if (!config.ok()) return 0;
  for (const auto& zone : config->zones) (void)config->sensor(zone.soil_sensor);
  return 0;
}
