// Boxes and detections in image pixel coordinates, intersection over union
// and class-wise non-maximum suppression.
// Thread-safety: values and pure functions.
#pragma once

#include <string>
#include <vector>

namespace canopy::vision {

struct Box {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;  // top-left and bottom-right corners, pixels
  float width() const { return x2 > x1 ? x2 - x1 : 0.0f; }
  float height() const { return y2 > y1 ? y2 - y1 : 0.0f; }
  float area() const { return width() * height(); }
};

struct Detection {
  Box box;
  int label = 0;
  float score = 0;
};

float iou(const Box& a, const Box& b);

// Keeps, per label, the highest-scoring boxes that overlap no kept box of the
// same label by more than `iou_threshold`. Result sorted by score, highest first.
std::vector<Detection> non_max_suppression(std::vector<Detection> detections, float iou_threshold,
                                           size_t max_detections = 300);

}  // namespace canopy::vision
