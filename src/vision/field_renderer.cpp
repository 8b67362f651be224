#include "vision/field_renderer.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numbers>
#include <optional>
#include <random>

#include "common/files.h"
#include "common/json.h"
#include "vision/boxes.h"
#include "vision/image_codec.h"

namespace canopy::vision {
namespace {

constexpr double kPi = std::numbers::pi;

// What a scenario changes about the world. Baseline is the world the first
// model is trained on; each other scenario moves one thing a real farm sees
// move: a disease the model never saw, another season's light, another crop.
struct World {
  std::vector<std::string> disease_types = {"leaf_spot", "mildew", "rust", "blight"};
  double leaf_hue = 60;          // OpenCV hue (0-180) of a healthy leaf; 60 is green
  double leaf_hue_spread = 8;
  double leaf_length_ratio = 1.0;
  double leaf_width_ratio = 0.45;
  int min_leaves = 5, max_leaves = 9;
  double sun_elevation_min = 25, sun_elevation_max = 80;  // degrees
  double light_warmth = 0;       // added red, subtracted blue
  double light_gain = 1.0;
  double soil_dryness = 0;       // shifts soil moisture down
};

World world_for(const std::string& scenario) {
  World world;
  if (scenario == "new-disease") {
    world.disease_types = {"mosaic", "downy_spot"};
  } else if (scenario == "late-season") {
    world.sun_elevation_min = 8;
    world.sun_elevation_max = 30;
    world.light_warmth = 28;
    world.light_gain = 0.82;
    world.soil_dryness = 0.08;
    world.leaf_hue = 48;
  } else if (scenario == "new-variety") {
    world.leaf_hue = 75;
    world.leaf_hue_spread = 5;
    world.leaf_length_ratio = 1.25;
    world.leaf_width_ratio = 0.22;
    world.min_leaves = 8;
    world.max_leaves = 14;
  }
  return world;
}

class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(engine_); }
  int integer(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(engine_); }
  bool chance(double p) { return uniform(0, 1) < p; }
  double normal(double mean, double sd) { return std::normal_distribution<double>(mean, sd)(engine_); }
  std::uint64_t next() { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

// Per-image conditions, drawn first so the labels can depend on them (or,
// for a given scene, taken from it).
struct Conditions {
  bool oblique = false;
  double soil_moisture = 0.3;  // volumetric fraction
  double temperature_c = 22;
  double humidity = 0.6;
  double sun_azimuth = 0;      // radians
  double sun_elevation = 45;   // degrees
  double cloud_cover = 0;      // 0 clear .. 1 overcast
  double low_sun = 0;          // 0 .. 1: the warm, dim light of dawn and dusk
  double daylight = 1;         // under 1 after sunset and before sunrise
};

// Clouds this thick hide the sun: no shadows.
constexpr double kShadowlessCover = 0.5;

enum PlantStatus { kHealthy = 0, kDiseased = 1, kWaterStressed = 2 };

struct Plant {
  int index = 0;  // in the order given or placed
  cv::Point2d center;
  double radius = 20;
  double scale = 1;  // perspective shrink for the oblique view
  PlantStatus status = kHealthy;
  std::string disease_type;
  int severity = 0;  // 1-3 for diseased and water-stressed plants
  // A plant of a given scene draws its leaves from its own seed, so it looks
  // the same in every frame; a generated image's plants share its stream.
  std::optional<std::uint64_t> look_seed;
};

cv::Scalar hsv_to_bgr(double h, double s, double v) {
  cv::Mat3b pixel(1, 1, cv::Vec3b(cv::saturate_cast<uchar>(h), cv::saturate_cast<uchar>(s),
                                  cv::saturate_cast<uchar>(v)));
  cv::cvtColor(pixel, pixel, cv::COLOR_HSV2BGR);
  const cv::Vec3b bgr = pixel(0, 0);
  return {double(bgr[0]), double(bgr[1]), double(bgr[2])};
}

Conditions draw_conditions(Random& random, const World& world) {
  Conditions c;
  c.oblique = random.chance(0.35);
  c.soil_moisture = std::clamp(random.uniform(0.06, 0.45) - world.soil_dryness, 0.03, 0.5);
  c.temperature_c = random.uniform(12, 36);
  c.humidity = std::clamp(random.uniform(0.3, 0.9) - (c.temperature_c - 24) * 0.01, 0.15, 0.98);
  c.sun_azimuth = random.uniform(0, 2 * kPi);
  c.sun_elevation = random.uniform(world.sun_elevation_min, world.sun_elevation_max);
  const bool overcast = random.chance(0.25);
  c.cloud_cover = overcast ? 1 : 0;
  c.low_sun = !overcast && random.chance(0.12) ? 1 : 0;
  return c;
}

// Soil: a base colour darkened by moisture, large blotches and fine grain,
// both from small random fields scaled up (cheap, and looks like clods).
void paint_soil(cv::Mat3b& image, Random& random, const Conditions& conditions) {
  const double wet = conditions.soil_moisture / 0.5;
  const cv::Scalar base(random.uniform(45, 70) * (1 - 0.35 * wet), random.uniform(80, 110) * (1 - 0.4 * wet),
                        random.uniform(115, 150) * (1 - 0.45 * wet));
  image.setTo(base);
  cv::RNG rng(random.next());
  cv::Mat blotches(image.rows / 24 + 2, image.cols / 24 + 2, CV_8UC1);
  rng.fill(blotches, cv::RNG::UNIFORM, 0, 40);
  cv::Mat grain(image.rows / 3 + 1, image.cols / 3 + 1, CV_8UC1);
  rng.fill(grain, cv::RNG::UNIFORM, 0, 26);
  cv::Mat large, fine;
  cv::resize(blotches, large, image.size(), 0, 0, cv::INTER_LINEAR);
  cv::resize(grain, fine, image.size(), 0, 0, cv::INTER_NEAREST);
  cv::Mat texture;
  cv::add(large, fine, texture);
  cv::Mat texture3;
  cv::cvtColor(texture, texture3, cv::COLOR_GRAY2BGR);
  cv::subtract(image, texture3, image);
}

// Where the camera sees the ground: top-down maps the field plane 1:1;
// oblique shrinks things with distance towards a horizon above the image.
struct Camera {
  bool oblique;
  int width, height;
  double scale_at(double y) const { return oblique ? 0.35 + 0.65 * std::clamp(y / height, 0.0, 1.0) : 1.0; }
  cv::Point2d project(double x, double y) const {
    if (!oblique) return {x, y};
    const double s = scale_at(y);
    return {width / 2.0 + (x - width / 2.0) * s, y};
  }
};

void paint_rows(cv::Mat3b& image, const Camera& camera, double spacing, double offset) {
  const cv::Scalar furrow(30, 45, 60);
  for (double x = offset - 4 * spacing; x < camera.width + 4 * spacing; x += spacing) {
    const double mid = x + spacing / 2;
    const cv::Point2d top = camera.project(mid, 0), bottom = camera.project(mid, camera.height);
    cv::line(image, top, bottom, furrow, std::max(2, int(spacing * 0.12)), cv::LINE_8);
  }
}

PlantStatus draw_status(Random& random, const Conditions& conditions) {
  // Dry soil makes stressed plants likely; humid warm air favours disease.
  const double stress = std::clamp(0.55 - conditions.soil_moisture * 1.6, 0.03, 0.5);
  const double disease = std::clamp(0.12 + (conditions.humidity - 0.5) * 0.35, 0.08, 0.32);
  const double roll = random.uniform(0, 1);
  if (roll < stress) return kWaterStressed;
  if (roll < stress + disease) return kDiseased;
  return kHealthy;
}

std::vector<Plant> place_plants(Random& random, const Camera& camera, const Conditions& conditions,
                                const World& world, double row_spacing, double row_offset) {
  std::vector<Plant> plants;
  const double along = random.uniform(0.55, 0.8) * row_spacing;
  for (double x = row_offset - 4 * row_spacing; x < camera.width + 4 * row_spacing; x += row_spacing) {
    for (double y = random.uniform(-along, 0); y < camera.height + along; y += along * random.uniform(0.8, 1.2)) {
      if (random.chance(0.12)) continue;  // a gap in the row
      Plant plant;
      const cv::Point2d ground(x + random.normal(0, row_spacing * 0.06), y);
      plant.center = camera.project(ground.x, ground.y);
      plant.scale = camera.scale_at(ground.y);
      plant.radius = random.uniform(0.28, 0.48) * row_spacing * plant.scale;
      if (plant.center.x < -plant.radius || plant.center.x > camera.width + plant.radius) continue;
      plant.status = draw_status(random, conditions);
      if (plant.status == kDiseased) {
        plant.disease_type = world.disease_types[random.integer(0, int(world.disease_types.size()) - 1)];
      }
      if (plant.status != kHealthy) plant.severity = random.integer(1, 3);
      plants.push_back(plant);
    }
  }
  // Far plants first so near ones occlude them, as a camera sees it.
  std::sort(plants.begin(), plants.end(), [](const Plant& a, const Plant& b) { return a.center.y < b.center.y; });
  for (size_t i = 0; i < plants.size(); ++i) plants[i].index = int(i);
  return plants;
}

struct Leaf {
  cv::Point2d base, tip;
  double width;
  double angle;
};

// A leaf as a pointed polygon from base to tip: rounder or narrower with
// `width`, so varieties differ in silhouette, not only colour.
std::vector<cv::Point> leaf_polygon(const Leaf& leaf) {
  constexpr int kSteps = 7;
  std::vector<cv::Point> points;
  points.reserve(2 * kSteps + 2);
  const cv::Point2d axis = leaf.tip - leaf.base;
  const cv::Point2d normal(-axis.y, axis.x);
  const double length = std::max(1e-6, std::hypot(axis.x, axis.y));
  for (int side : {1, -1}) {
    for (int i = 0; i <= kSteps; ++i) {
      const double t = side > 0 ? double(i) / kSteps : 1.0 - double(i) / kSteps;
      const double half = leaf.width / 2 * std::sin(kPi * std::pow(t, 0.8));
      const cv::Point2d p = leaf.base + axis * t + normal * (side * half / length);
      points.emplace_back(cvRound(p.x), cvRound(p.y));
    }
  }
  return points;
}

// Marks a disease leaves on a leaf; each type looks different on purpose.
void paint_disease(cv::Mat3b& image, Random& random, const Leaf& leaf, const Plant& plant) {
  const int marks = 1 + plant.severity * 2;
  const double r = std::max(1.5, leaf.width * 0.16);
  for (int i = 0; i < marks; ++i) {
    const double t = random.uniform(0.2, 0.85);
    const cv::Point2d p = leaf.base + (leaf.tip - leaf.base) * t +
                          cv::Point2d(random.normal(0, leaf.width * 0.15), random.normal(0, leaf.width * 0.15));
    const std::string& type = plant.disease_type;
    if (type == "leaf_spot") {
      cv::circle(image, p, int(r * 1.7), cv::Scalar(60, 200, 215), -1, cv::LINE_8);  // yellow halo
      cv::circle(image, p, int(r), cv::Scalar(20, 40, 70), -1, cv::LINE_8);
    } else if (type == "mildew") {
      cv::circle(image, p, int(r * 1.8), cv::Scalar(215, 220, 220), -1, cv::LINE_8);
    } else if (type == "rust") {
      for (int k = 0; k < 3; ++k) {
        const cv::Point2d q = p + cv::Point2d(random.normal(0, r), random.normal(0, r));
        cv::circle(image, q, std::max(1, int(r * 0.6)), cv::Scalar(20, 100, 215), -1, cv::LINE_8);
      }
    } else if (type == "blight") {
      cv::line(image, leaf.tip, leaf.base + (leaf.tip - leaf.base) * (0.45 + 0.1 * plant.severity),
               cv::Scalar(25, 55, 90), std::max(2, int(leaf.width * 0.5)), cv::LINE_8);
    } else if (type == "mosaic") {
      cv::circle(image, p, int(r * 2.2), cv::Scalar(70, 210, 190), -1, cv::LINE_8);
    } else if (type == "downy_spot") {
      cv::circle(image, p, int(r * 1.3), cv::Scalar(130, 60, 120), -1, cv::LINE_8);
    }
  }
}

// Draws one plant and returns the box around what was drawn.
Box paint_plant(cv::Mat3b& image, Random& random, const Plant& plant, const World& world,
                const Conditions& conditions) {
  const int leaves = random.integer(world.min_leaves, world.max_leaves);
  double hue = random.normal(world.leaf_hue, world.leaf_hue_spread);
  double saturation = random.uniform(150, 230), value = random.uniform(120, 200);
  double length_factor = world.leaf_length_ratio, width_factor = world.leaf_width_ratio, droop = 0;
  if (plant.status == kWaterStressed) {
    // Wilting, curling and yellowing grow with severity.
    hue -= 9.0 * plant.severity;
    saturation *= 1.0 - 0.12 * plant.severity;
    length_factor *= 1.0 - 0.12 * plant.severity;
    width_factor *= 1.0 - 0.18 * plant.severity;
    droop = 0.18 * plant.severity;
  }
  const bool shadows = conditions.cloud_cover < kShadowlessCover && conditions.sun_elevation > 2;
  const double sun_shift = shadows ? plant.radius * 0.9 / std::tan(conditions.sun_elevation * kPi / 180) : 0;
  const cv::Point2d shadow_offset(std::cos(conditions.sun_azimuth) * sun_shift, std::sin(conditions.sun_azimuth) * sun_shift * plant.scale);

  std::vector<Leaf> drawn;
  drawn.reserve(leaves);
  const double start = random.uniform(0, 2 * kPi);
  for (int i = 0; i < leaves; ++i) {
    Leaf leaf;
    leaf.angle = start + 2 * kPi * i / leaves + random.normal(0, 0.25);
    const double length = plant.radius * length_factor * random.uniform(0.7, 1.0);
    leaf.base = plant.center;
    leaf.tip = plant.center + cv::Point2d(std::cos(leaf.angle) * length,
                                          std::sin(leaf.angle) * length * plant.scale + droop * length);
    leaf.width = length * width_factor * random.uniform(0.8, 1.2);
    drawn.push_back(leaf);
  }
  if (sun_shift > 0.5) {
    for (const Leaf& leaf : drawn) {
      Leaf shadow = leaf;
      shadow.base += shadow_offset * 0.3;
      shadow.tip += shadow_offset;
      const std::vector<cv::Point> polygon = leaf_polygon(shadow);
      cv::fillConvexPoly(image, polygon, cv::Scalar(25, 35, 45), cv::LINE_8);
    }
  }
  Box box{float(plant.center.x), float(plant.center.y), float(plant.center.x), float(plant.center.y)};
  for (const Leaf& leaf : drawn) {
    const double leaf_hue = std::clamp(hue + random.normal(0, 3), 0.0, 179.0);
    const cv::Scalar color = hsv_to_bgr(leaf_hue, saturation, value * random.uniform(0.85, 1.1));
    const std::vector<cv::Point> polygon = leaf_polygon(leaf);
    cv::fillConvexPoly(image, polygon, color, cv::LINE_8);
    // The midrib, a little lighter: leaves read as leaves, not blobs.
    cv::line(image, leaf.base, leaf.tip, color * 1.25, 1, cv::LINE_8);
    if (plant.status == kWaterStressed && plant.severity >= 2) {
      cv::polylines(image, polygon, true, cv::Scalar(30, 70, 110), std::max(1, int(leaf.width * 0.12)), cv::LINE_8);
    }
    if (plant.status == kDiseased) paint_disease(image, random, leaf, plant);
    for (const cv::Point& p : polygon) {
      box.x1 = std::min(box.x1, float(p.x));
      box.y1 = std::min(box.y1, float(p.y));
      box.x2 = std::max(box.x2, float(p.x + 1));
      box.y2 = std::max(box.y2, float(p.y + 1));
    }
  }
  return box;
}

// Weeds: small green clutter that is not a crop plant and has no box, so the
// detector must learn the plant, not "anything green".
void paint_weeds(cv::Mat3b& image, Random& random, const Camera& camera) {
  const int weeds = random.integer(0, 12);
  for (int i = 0; i < weeds; ++i) {
    const cv::Point2d p(random.uniform(0, camera.width), random.uniform(0, camera.height));
    const double size = random.uniform(2, 6) * camera.scale_at(p.y);
    const cv::Scalar color = hsv_to_bgr(random.uniform(35, 80), random.uniform(90, 200), random.uniform(70, 160));
    for (int k = 0; k < 4; ++k) {
      const double a = random.uniform(0, 2 * kPi);
      cv::line(image, p, p + cv::Point2d(std::cos(a), std::sin(a)) * size * 2, color, 1, cv::LINE_8);
    }
  }
}

// Light and camera: tint and gain for the time of day, then blur and noise.
void apply_light_and_sensor(cv::Mat3b& image, Random& random, const Conditions& conditions, const World& world) {
  double gain = world.light_gain * random.uniform(0.9, 1.1) * conditions.daylight;
  double warmth = world.light_warmth;
  // Written as full effect plus the remainder so that a fully overcast or
  // fully low sun gives exactly the factors the generated datasets use.
  if (conditions.cloud_cover > 0) gain *= 0.85 + 0.15 * (1 - conditions.cloud_cover);
  if (conditions.low_sun > 0) {
    gain *= 0.7 + 0.3 * (1 - conditions.low_sun);
    warmth += 25 * conditions.low_sun;
  }
  const cv::Scalar offset(-warmth * 0.6, warmth * 0.1, warmth);
  image.convertTo(image, -1, gain, 0);
  if (warmth != 0) cv::add(image, offset, image);
  if (conditions.cloud_cover > 0) {
    // Flat light: pull towards the mean, lower contrast.
    cv::addWeighted(image, 0.8 + 0.2 * (1 - conditions.cloud_cover), cv::mean(image),
                    0.2 * conditions.cloud_cover, 0, image);
  }
  if (random.chance(0.15)) {
    const int k = random.integer(3, 7);
    cv::blur(image, image, random.chance(0.5) ? cv::Size(k, 1) : cv::Size(1, k));
  }
  cv::Mat noise(image.size(), CV_8UC3);
  cv::RNG rng(random.next());
  const double sigma = random.uniform(2, 7);
  rng.fill(noise, cv::RNG::UNIFORM, 0, int(sigma * 3.5));
  cv::add(image, noise, image);
  cv::subtract(image, cv::Scalar::all(sigma * 1.75), image);
}

Json sensor_record(const Conditions& c, const FieldOptions& options, std::uint64_t index) {
  // One image every 10 minutes from 2026-06-01T05:00Z, daylight-only days.
  const std::uint64_t minutes = index * 10;
  const std::uint64_t day = minutes / (14 * 60), minute_of_day = 5 * 60 + minutes % (14 * 60);
  char timestamp[32];
  std::snprintf(timestamp, sizeof timestamp, "2026-%02d-%02dT%02d:%02d:00Z", int(6 + (day / 30) % 6),
                int(1 + day % 30), int(minute_of_day / 60), int(minute_of_day % 60));
  return Json{{"soil_moisture", std::round(c.soil_moisture * 1000) / 1000},
              {"temperature_c", std::round(c.temperature_c * 10) / 10},
              {"humidity", std::round(c.humidity * 1000) / 1000},
              {"timestamp", timestamp},
              {"field_id", options.field_id},
              {"device_id", options.device_id}};
}

struct PaintedPlant {
  int plant = 0;
  PlantStatus status = kHealthy;
  Box box;
};

// Paints `plants`, far ones first so near ones occlude them, and returns the
// box of each plant a person could label: clipped to the frame, and left out
// when mostly outside it.
std::vector<PaintedPlant> paint_plants(cv::Mat3b& image, Random& random, std::vector<Plant> plants,
                                       const World& world, const Conditions& conditions) {
  std::stable_sort(plants.begin(), plants.end(),
                   [](const Plant& a, const Plant& b) { return a.center.y < b.center.y; });
  const float w = float(image.cols), h = float(image.rows);
  std::vector<PaintedPlant> painted;
  for (const Plant& plant : plants) {
    Random own(plant.look_seed.value_or(0));
    const Box drawn = paint_plant(image, plant.look_seed ? own : random, plant, world, conditions);
    const Box box{std::clamp(drawn.x1, 0.0f, w), std::clamp(drawn.y1, 0.0f, h), std::clamp(drawn.x2, 0.0f, w),
                  std::clamp(drawn.y2, 0.0f, h)};
    if (box.area() < 0.4f * drawn.area() || box.width() < 4 || box.height() < 4) continue;
    painted.push_back({plant.index, plant.status, box});
  }
  return painted;
}

struct Rendered {
  cv::Mat3b image;
  Json record;
  std::string yolo_labels;
};

Rendered render_one(const FieldOptions& options, const World& world, std::uint64_t index) {
  Random random(options.seed * 0x9E3779B97F4A7C15ull + index * 0xBF58476D1CE4E5B9ull + 1);
  const Conditions conditions = draw_conditions(random, world);
  Rendered out;
  out.image.create(options.height, options.width);
  paint_soil(out.image, random, conditions);
  const Camera camera{conditions.oblique, options.width, options.height};
  const double row_spacing = random.uniform(0.18, 0.3) * options.width;
  const double row_offset = random.uniform(0, row_spacing);
  paint_rows(out.image, camera, row_spacing, row_offset);
  paint_weeds(out.image, random, camera);

  const std::vector<Plant> plants = place_plants(random, camera, conditions, world, row_spacing, row_offset);
  Json objects = Json::array();
  char line[128];
  const float w = float(options.width), h = float(options.height);
  for (const PaintedPlant& painted : paint_plants(out.image, random, plants, world, conditions)) {
    const Plant& plant = plants[size_t(painted.plant)];
    const Box& box = painted.box;
    std::snprintf(line, sizeof line, "%d %.6f %.6f %.6f %.6f\n", int(plant.status), (box.x1 + box.x2) / 2 / w,
                  (box.y1 + box.y2) / 2 / h, box.width() / w, box.height() / h);
    out.yolo_labels += line;
    Json object{{"label", kFieldLabels[plant.status]},
                {"box", Json::array({std::round(box.x1 * 10) / 10, std::round(box.y1 * 10) / 10,
                                      std::round(box.x2 * 10) / 10, std::round(box.y2 * 10) / 10})}};
    if (plant.status == kDiseased) object["disease_type"] = plant.disease_type;
    if (plant.status == kWaterStressed) object["stress"] = "water";
    if (plant.status != kHealthy) object["severity"] = plant.severity;
    objects.push_back(std::move(object));
  }
  apply_light_and_sensor(out.image, random, conditions, world);
  out.record = Json{{"sensors", sensor_record(conditions, options, index)},
                    {"scenario", options.scenario},
                    {"view", conditions.oblique ? "oblique" : "top-down"},
                    {"light", conditions.cloud_cover > 0 ? "overcast" : conditions.low_sun > 0 ? "dawn" : "sun"},
                    {"objects", std::move(objects)}};
  return out;
}

Status check_scenario_and_size(const std::string& scenario, int width, int height) {
  const std::vector<std::string> scenarios = field_scenarios();
  if (std::find(scenarios.begin(), scenarios.end(), scenario) == scenarios.end()) {
    return Error{ErrorCode::kInvalidArgument,
                 "unknown scenario '" + scenario + "' (baseline, new-disease, late-season, new-variety)"};
  }
  if (width < 64 || height < 64 || width > 8192 || height > 8192) {
    return Error{ErrorCode::kInvalidArgument, "the image size must be between 64 and 8192 pixels"};
  }
  return {};
}

Status write_bytes(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), std::streamsize(bytes.size()));
  if (!file.flush()) return Error{ErrorCode::kIo, "cannot write " + path.string()};
  return {};
}

}  // namespace

std::vector<std::string> field_scenarios() { return {"baseline", "new-disease", "late-season", "new-variety"}; }

std::vector<std::string> scenario_disease_types(const std::string& scenario) {
  return world_for(scenario).disease_types;
}

Result<RenderedScene> render_field_scene(const FieldScene& scene) {
  CANOPY_TRY(check_scenario_and_size(scene.scenario, scene.width, scene.height));
  const World world = world_for(scene.scenario);
  Conditions conditions;
  conditions.oblique = scene.oblique;
  conditions.soil_moisture = std::clamp(scene.soil_moisture, 0.0, 0.5);
  conditions.sun_azimuth = scene.light.sun_azimuth_rad;
  conditions.sun_elevation = scene.light.sun_elevation_deg;
  conditions.cloud_cover = std::clamp(scene.light.cloud_cover, 0.0, 1.0);
  // Dawn light below 12° of sun; civil twilight fades to a night that an
  // infrared-less camera barely sees.
  conditions.low_sun = std::clamp((12 - scene.light.sun_elevation_deg) / 12, 0.0, 1.0);
  conditions.daylight = std::clamp((scene.light.sun_elevation_deg + 6) / 10, 0.08, 1.0);

  RenderedScene out;
  out.image.create(scene.height, scene.width);
  const Camera camera{scene.oblique, scene.width, scene.height};
  // The ground does not change between frames of a fixed camera; the light and the noise do.
  Random ground(scene.ground_seed);
  Random frame(scene.frame_seed);
  paint_soil(out.image, ground, conditions);
  paint_rows(out.image, camera, scene.row_spacing * scene.width, scene.row_offset * scene.width);
  paint_weeds(out.image, ground, camera);

  std::vector<Plant> plants;
  for (size_t i = 0; i < scene.plants.size(); ++i) {
    const ScenePlant& given = scene.plants[i];
    if (given.label < 0 || given.label >= int(kFieldLabels.size()))
      return Error{ErrorCode::kInvalidArgument, "plant " + std::to_string(i) + " has no label " +
                                                    std::to_string(given.label)};
    Plant plant;
    plant.index = int(i);
    const double ground_y = given.y * scene.height;
    plant.center = camera.project(given.x * scene.width, ground_y);
    plant.scale = camera.scale_at(ground_y);
    plant.radius = given.radius * scene.width * plant.scale;
    plant.status = PlantStatus(given.label);
    plant.severity = plant.status == kHealthy ? 0 : std::clamp(given.severity, 1, 3);
    plant.disease_type = given.disease_type;
    plant.look_seed = given.look_seed;
    plants.push_back(std::move(plant));
  }
  for (const PaintedPlant& painted : paint_plants(out.image, frame, plants, world, conditions))
    out.objects.push_back({painted.plant, int(painted.status), painted.box});
  std::sort(out.objects.begin(), out.objects.end(),
            [](const SceneObject& a, const SceneObject& b) { return a.plant < b.plant; });
  apply_light_and_sensor(out.image, frame, conditions, world);
  return out;
}

Status generate_field_dataset(const FieldOptions& options, const std::function<void(int done)>& progress) {
  CANOPY_TRY(check_scenario_and_size(options.scenario, options.width, options.height));
  if (options.images < 0) return Error{ErrorCode::kInvalidArgument, "images must be >= 0"};
  std::error_code ec;
  std::filesystem::create_directories(options.out / "images", ec);
  if (!ec) std::filesystem::create_directories(options.out / "labels", ec);
  if (ec) return Error{ErrorCode::kIo, "cannot create " + options.out.string() + ": " + ec.message()};

  const World world = world_for(options.scenario);
  std::string records;
  char stem[32];
  for (int i = 0; i < options.images; ++i) {
    Rendered rendered = render_one(options, world, std::uint64_t(i));
    std::snprintf(stem, sizeof stem, "%06d", i);
    Random quality(options.seed + std::uint64_t(i));
    const int jpeg_quality = std::clamp(options.jpeg_quality + quality.integer(-15, 5), 40, 100);
    CANOPY_ASSIGN_OR_RETURN(std::string jpeg, encode_image(rendered.image, ImageFormat::kJpeg, jpeg_quality));
    CANOPY_TRY(write_bytes(options.out / "images" / (std::string(stem) + ".jpg"), jpeg));
    CANOPY_TRY(write_bytes(options.out / "labels" / (std::string(stem) + ".txt"), rendered.yolo_labels));
    rendered.record["image"] = std::string("images/") + stem + ".jpg";
    records += rendered.record.dump() + "\n";
    if (progress) progress(i + 1);
  }
  CANOPY_TRY(write_file_atomic(options.out / "samples.jsonl", records));
  // data.yaml last: its presence says the dataset is complete.
  std::string yaml = "# Generated by canopy dataset generate: scenario " + options.scenario + ", seed " +
                     std::to_string(options.seed) + "\nnames:\n";
  for (const std::string& name : kFieldLabels) yaml += "  - " + name + "\n";
  return write_file_atomic(options.out / "data.yaml", yaml);
}

}  // namespace canopy::vision
