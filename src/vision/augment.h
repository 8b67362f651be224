// Training-time image preparation: the letterbox placement every model input
// gets, plus the augmentations that make a detector robust to the field
// (flips, colour jitter in HSV, scale and translation, mosaic, blur, noise),
// applied to the image and its boxes together.
// Thread-safety: pure functions; each caller passes its own random engine.
#pragma once

#include <opencv2/core.hpp>

#include <functional>
#include <random>
#include <vector>

#include "vision/boxes.h"

namespace canopy::vision {

struct LabeledImage {
  cv::Mat image;            // 8-bit BGR
  std::vector<Box> boxes;   // pixels
  std::vector<int> labels;  // one per box
};

struct AugmentOptions {
  double flip_horizontal = 0.5;  // probabilities
  double flip_vertical = 0.5;    // a top-down field has no "up"
  double hue = 0.015;            // fraction of the hue circle
  double saturation = 0.5;       // gain range 1 +- this
  double value = 0.35;
  double scale = 0.3;            // size range 1 +- this
  double translate = 0.1;        // fraction of the input size
  double mosaic = 0.3;           // probability of a 4-image mosaic
  double blur = 0.1;
  double noise = 0.1;

  // No augmentation at all: what validation uses.
  static AugmentOptions none();
};

// The model-input image for `source`: letterboxed into size x size, then
// augmented as `options` say. `another` draws a random other image of the set
// (for mosaic); it may be empty. Boxes that leave the frame are clipped, and
// dropped when less than 40% of them (or under 3 pixels) remains.
LabeledImage augment(const LabeledImage& source, int size, const AugmentOptions& options, std::mt19937_64& random,
                     const std::function<LabeledImage()>& another = {});

}  // namespace canopy::vision
