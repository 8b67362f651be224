// How programs name models. A ModelRef is one exact version; a PackageRef is
// that version's package as a device fetches and checks it; a ModelSelector
// is what a person or a pipeline writes (the newest version, a number or an
// alias) before the registry resolves it to a ModelRef.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/json.h"

namespace canopy::api {

struct ModelRef {
  std::string name;
  std::int64_t version = 0;

  bool operator==(const ModelRef&) const = default;
  std::string label() const { return name + ":" + std::to_string(version); }
  Json to_json() const { return {{"name", name}, {"version", version}}; }
};

// null for nothing.
Json to_json(const std::optional<ModelRef>& model);
// Member `field` of `object`: `{"name": ..., "version": N}`, or absent or null
// for nothing; anything else is an error naming `field`.
Result<std::optional<ModelRef>> read_model_ref(const Json& object, std::string_view field);

struct PackageRef {
  ModelRef model;
  std::string sha256;  // of the package zip (the blob), lowercase hex
  std::uint64_t size_bytes = 0;

  // The same package. The size is a property of the blob the hash names, and
  // not every record of a package keeps it.
  bool operator==(const PackageRef& other) const { return model == other.model && sha256 == other.sha256; }
};

// "NAME" (the newest version), "NAME:VERSION" or "NAME@ALIAS".
struct ModelSelector {
  std::string name;
  std::string reference = "latest";  // "latest", a version number, or "@alias": the form the API takes

  static Result<ModelSelector> parse(std::string_view text);
  static ModelSelector of_version(const std::string& name, std::int64_t version) {
    return {name, std::to_string(version)};
  }
  static ModelSelector of_alias(const std::string& name, const std::string& alias) {
    return {name, "@" + alias};
  }
  bool is_alias() const { return reference.starts_with("@"); }
  std::string text() const;  // the form parse() reads
};

}  // namespace canopy::api
