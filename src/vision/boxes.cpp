#include "vision/boxes.h"

#include <algorithm>

namespace canopy::vision {

float iou(const Box& a, const Box& b) {
  const Box inter{std::max(a.x1, b.x1), std::max(a.y1, b.y1), std::min(a.x2, b.x2), std::min(a.y2, b.y2)};
  const float overlap = inter.area();
  const float total = a.area() + b.area() - overlap;
  return total > 0 ? overlap / total : 0.0f;
}

std::vector<Detection> non_max_suppression(std::vector<Detection> detections, float iou_threshold,
                                           size_t max_detections) {
  std::stable_sort(detections.begin(), detections.end(),
                   [](const Detection& a, const Detection& b) { return a.score > b.score; });
  std::vector<Detection> kept;
  for (const auto& candidate : detections) {
    if (kept.size() >= max_detections) break;
    bool suppressed = false;
    for (const auto& k : kept) {
      if (k.label == candidate.label && iou(k.box, candidate.box) > iou_threshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) kept.push_back(candidate);
  }
  return kept;
}

}  // namespace canopy::vision
