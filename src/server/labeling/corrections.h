// How a person's boxes differ from the model's proposal (api::Corrections):
// a pure function, so the live accuracy of a deployed model is measured
// the same way everywhere. Pairs are matched greedily, best overlap first,
// each box used once.
// Thread-safety: pure.
#pragma once

#include <vector>

#include "api/labeling.h"
#include "api/samples.h"

namespace canopy::server {

// Intersection over union of two boxes in 0-1 coordinates (vision::iou).
double box_iou(const api::SampleBox& a, const api::SampleBox& b);

// `proposed` are the model's boxes scored at least `threshold` (the others
// were never shown); `final_boxes` what the person submitted.
api::Corrections compare_boxes(const std::vector<api::SampleBox>& proposed, double threshold,
                               const std::vector<api::SampleBox>& final_boxes);

}  // namespace canopy::server
