// The model package manifest (canopy.json), format 1. docs/package-format.md
// describes every field with an example. parse_manifest validates everything a
// device relies on; unknown top-level fields are rejected so typos surface.
// Thread-safety: values only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json.h"

namespace canopy::package {

inline constexpr int kFormatVersion = 1;
inline constexpr std::string_view kManifestName = "canopy.json";
inline constexpr std::string_view kSignatureName = "canopy.sig";

struct FileEntry {
  std::string path;    // relative to the package root, '/'-separated
  std::string sha256;  // lowercase hex
  std::uint64_t size_bytes = 0;
  std::string role;    // "model", "golden-input", "golden-output", "other"
};

// What the model expects as input: tensor shape and how to get there from an image.
struct InputSpec {
  std::vector<std::int64_t> shape;    // e.g. {1, 3, 320, 320}
  std::string layout = "NCHW";        // NCHW or NHWC
  std::string dtype = "float32";
  std::string color = "RGB";          // channel order the model was trained with
  std::string resize = "letterbox";   // letterbox or stretch
  double scale = 1.0 / 255.0;         // pixel * scale, then (x - mean) / std
  std::vector<double> mean = {0.0, 0.0, 0.0};
  std::vector<double> std = {1.0, 1.0, 1.0};
};

struct Thresholds {
  double score = 0.25;  // minimum detection confidence
  double iou = 0.45;    // NMS overlap
};

// A golden sample: the device replays `input` and requires `output` within tolerance.
struct GoldenSample {
  std::string input;
  std::string output;
  double tolerance = 1e-3;
};

// Resources the model may use on a device, checked by the agent's health
// check before the model goes live. 0 means no limit; a manifest without
// "budgets" has none.
struct Budgets {
  double latency_ms = 0;           // median time of one run on the golden (or zero) input
  std::uint64_t memory_bytes = 0;  // model file plus the engine's inference arena

  bool any() const { return latency_ms > 0 || memory_bytes > 0; }
};

struct Manifest {
  int format = kFormatVersion;
  std::string name;
  std::string task = "detection";
  std::string description;
  std::vector<std::string> labels;
  std::vector<std::string> tags;
  InputSpec input;
  Json output = Json::object();   // decoder description: {"decoder": "...", ...}
  Thresholds thresholds;
  Json metrics = Json::object();
  Json lineage = Json::object();
  std::string created_at;         // RFC 3339 UTC
  std::vector<FileEntry> files;
  std::vector<GoldenSample> golden;
  Budgets budgets;

  const FileEntry* find_file(std::string_view path) const;
  // The entry with role "model" (exactly one is required).
  const FileEntry& model_file() const;
  std::uint64_t total_size_bytes() const;
};

// A model name: 1-128 of [A-Za-z0-9._-], starting with a letter or digit.
bool is_valid_model_name(std::string_view name);

Result<Manifest> parse_manifest(std::string_view bytes);
// Pretty-printed JSON with a trailing newline; parse_manifest(serialize(m)) == m.
std::string serialize_manifest(const Manifest& manifest);

// Parses "1x3x320x320" into {1, 3, 320, 320}.
Result<std::vector<std::int64_t>> parse_shape(std::string_view text);

}  // namespace canopy::package
