// The synthetic field: renders camera images of crop rows on soil with
// ground-truth boxes for every plant (healthy, diseased, water_stressed) and
// a sensor record per image, because no field dataset ships with Debian.
// Output is a YOLO dataset (images/, labels/, data.yaml) plus samples.jsonl
// with the sensor record and each plant's disease_type and severity.
// Scenarios change the world on purpose so retraining has real drift to find.
// Deterministic: the same options give byte-identical files.
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"

namespace canopy::vision {

// The label order every generated dataset uses.
inline const std::vector<std::string> kFieldLabels = {"healthy", "diseased", "water_stressed"};

// Scenario names: "baseline", "new-disease", "late-season", "new-variety".
std::vector<std::string> field_scenarios();

struct FieldOptions {
  std::filesystem::path out;
  int images = 100;
  std::uint64_t seed = 1;
  std::string scenario = "baseline";
  int width = 480, height = 360;
  int jpeg_quality = 85;
  std::string field_id = "field-1";
  std::string device_id = "device-1";
};

// Writes the dataset; `progress` (may be empty) gets the number of images done.
Status generate_field_dataset(const FieldOptions& options,
                              const std::function<void(int done)>& progress = {});

}  // namespace canopy::vision
