// The synthetic field: renders camera images of crop rows on soil with
// ground-truth boxes for every plant (healthy, diseased, water_stressed) and
// a sensor record per image, because no field dataset ships with Debian.
// Output is a YOLO dataset (images/, labels/, data.yaml) plus samples.jsonl
// with the sensor record and each plant's disease_type and severity.
// Scenarios change the world on purpose so retraining has real drift to find.
// The same painting also renders one frame of a given scene (plants at known
// places in known states, under given light), which is how the simulated
// field world (src/world) shows its plants to a device's camera.
// Deterministic: the same options give byte-identical files, the same scene
// the same pixels.
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "common/error.h"
#include "vision/boxes.h"

namespace canopy::vision {

// The label order every generated dataset uses.
inline const std::vector<std::string> kFieldLabels = {"healthy", "diseased", "water_stressed"};

// Scenario names: "baseline", "new-disease", "late-season", "new-variety".
std::vector<std::string> field_scenarios();
// The diseases a scenario's plants catch (new-disease replaces the baseline's).
std::vector<std::string> scenario_disease_types(const std::string& scenario);

// One plant of a scene, where it stands on the ground seen from above.
struct ScenePlant {
  double x = 0.5, y = 0.5;       // fractions of the frame's width and height
  double radius = 0.08;          // reach of its leaves, a fraction of the frame's width
  int label = 0;                 // index into kFieldLabels
  int severity = 0;              // 1-3 for diseased and water-stressed plants
  std::string disease_type;      // diseased plants: one of scenario_disease_types()
  std::uint64_t look_seed = 1;   // its leaves' shapes and colours: the same seed draws the same plant
};

struct SceneLight {
  double sun_elevation_deg = 45;  // low sun is warm and dim; below the horizon it is night
  double sun_azimuth_rad = 0;
  double cloud_cover = 0;         // 0 clear .. 1 overcast: shadows go, light flattens and dims
};

struct FieldScene {
  int width = 480, height = 360;
  std::string scenario = "baseline";
  bool oblique = false;           // a camera looking across the rows instead of down on them
  double soil_moisture = 0.3;     // m³/m³; wet soil is darker
  double row_spacing = 0.25;      // between crop rows, a fraction of the width
  double row_offset = 0.125;      // of the first row, a fraction of the width
  std::vector<ScenePlant> plants;
  SceneLight light;
  std::uint64_t ground_seed = 1;  // soil texture and weeds: fixed for a fixed camera
  std::uint64_t frame_seed = 1;   // this frame's exposure, blur and sensor noise
};

// A plant as the frame shows it; plants mostly outside the frame are left out.
struct SceneObject {
  int plant = 0;  // index into FieldScene::plants
  int label = 0;
  Box box;        // pixels, clipped to the frame
};

struct RenderedScene {
  cv::Mat3b image;  // BGR
  std::vector<SceneObject> objects;
};

// Renders one frame of `scene`; an unknown scenario or a size outside
// 64..8192 pixels is an error.
Result<RenderedScene> render_field_scene(const FieldScene& scene);

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
