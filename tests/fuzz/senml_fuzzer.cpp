// libFuzzer target over SenML (RFC 8428) as a sensor's command prints it: a
// vendor's tool or a gateway writes the pack, and senml_value reads the
// named record from it on the device. The input's first line is the record
// name asked for and the rest is the pack. Any input must end in a value or
// an Error: never a crash, a leak or a hang. Run by the senml_fuzz test over
// tests/fuzz/corpus/senml/.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "device/sensors.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view name = input.substr(0, newline);
  const std::string_view pack =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  (void)canopy::device::senml_value(pack, name);
  return 0;
}
