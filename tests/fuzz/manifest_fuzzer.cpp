// libFuzzer target over the model package manifest (canopy.json): a device
// reads it from every package it downloads before it trusts anything else in
// the archive, so parse_manifest sees bytes from whoever built the package.
// Any input must end in a Manifest or an Error: never a crash, a leak or a
// hang. A manifest that parses must serialize and parse again to the same
// manifest (parse_manifest(serialize_manifest(m)) == m, as manifest.h
// promises). Run by the manifest_fuzz test over tests/fuzz/corpus/manifest/.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "package/manifest.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  using namespace canopy::package;
  auto manifest = parse_manifest(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!manifest.ok()) return 0;
  (void)manifest->model_file();
  (void)manifest->total_size_bytes();
  const std::string text = serialize_manifest(*manifest);
  auto again = parse_manifest(text);
  if (!again.ok() || serialize_manifest(*again) != text) std::abort();
  return 0;
}
