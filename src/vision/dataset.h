// A detection dataset in memory, whatever format it came from: the label
// names, and per image its file, size and boxes. Readers and writers for the
// YOLO, COCO and Pascal VOC layouts live in dataset_formats.h.
// Thread-safety: values only.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "vision/boxes.h"

namespace canopy::vision {

// One labelled object. `attributes` keeps finer metadata a format can carry
// (e.g. "disease_type": "rust") without the detector having to learn it.
struct Annotation {
  Box box;        // image pixels
  int label = 0;  // index into Dataset::labels
  std::map<std::string, std::string> attributes;
};

struct Sample {
  std::filesystem::path image;  // relative to Dataset::root
  int width = 0, height = 0;    // pixels; 0 when not known yet
  std::vector<Annotation> objects;
};

struct Dataset {
  std::filesystem::path root;
  std::vector<std::string> labels;
  std::vector<Sample> samples;
};

}  // namespace canopy::vision
