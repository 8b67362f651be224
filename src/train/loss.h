// Training targets and loss for the field detector (model.h).
//
// Assignment, fixed rather than learned (as in FCOS): a cell is positive for
// a ground-truth box when its centre lies inside the box, within 1.5 strides
// of the box centre, on a level whose size range holds the box's longer side
// (stride 8: up to 64 px, 16: 32-128 px, 32: from 96 px; overlapping so a
// box between ranges trains both). A cell claimed by several boxes takes the
// smallest. A box that got no cell takes the nearest cell of a level that
// fits it, so every object is learned.
//
// Loss: binary cross-entropy over every cell and class (one-hot targets at
// positives), plus generalized IoU between the decoded box and its target at
// positives; both divided by the number of positives.
// Thread-safety: pure functions over tensors.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "train/model.h"

namespace canopy::train {

// One image's ground truth in input pixels: boxes [M, 4] (x1, y1, x2, y2)
// and labels [M] (int64).
struct Targets {
  torch::Tensor boxes;
  torch::Tensor labels;
};

struct LossParts {
  torch::Tensor total;
  torch::Tensor classification;  // detached, for reporting
  torch::Tensor box;             // detached, for reporting
  std::int64_t positives = 0;
};

inline constexpr double kBoxLossWeight = 2.0;

LossParts detection_loss(const std::vector<LevelOutput>& levels, const std::vector<Targets>& targets,
                         const DetectorConfig& config);

// Generalized IoU of matching rows of [K, 4] x1y1x2y2 boxes.
torch::Tensor generalized_iou(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace canopy::train
