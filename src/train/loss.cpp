#include "train/loss.h"

#include <limits>

namespace canopy::train {
namespace {

using torch::indexing::Slice;

constexpr double kCentreRadius = 1.5;  // strides

// [N] lower and upper bounds of the longer box side each cell's level takes.
std::pair<torch::Tensor, torch::Tensor> size_ranges(const torch::Tensor& strides) {
  const torch::Tensor lo = torch::where(strides == 8, torch::zeros_like(strides), strides * 2);
  const torch::Tensor hi = torch::where(strides == 32, torch::full_like(strides, std::numeric_limits<float>::infinity()),
                                        strides * 8);
  return {lo, hi};
}

// For one image: the index of the assigned box per cell, -1 for background.
torch::Tensor assign(const torch::Tensor& centres, const torch::Tensor& strides, const torch::Tensor& boxes) {
  const auto cells = centres.size(0);
  if (boxes.size(0) == 0) return torch::full({cells}, -1, torch::kLong);
  const torch::Tensor px = centres.index({Slice(), 0}).unsqueeze(1), py = centres.index({Slice(), 1}).unsqueeze(1);
  const torch::Tensor x1 = boxes.index({Slice(), 0}), y1 = boxes.index({Slice(), 1}), x2 = boxes.index({Slice(), 2}),
                      y2 = boxes.index({Slice(), 3});
  const torch::Tensor bcx = (x1 + x2) / 2, bcy = (y1 + y2) / 2;
  const torch::Tensor longer = torch::max(x2 - x1, y2 - y1);
  const torch::Tensor area = (x2 - x1) * (y2 - y1);
  auto [lo, hi] = size_ranges(strides);
  const torch::Tensor level_fits = (longer.unsqueeze(0) >= lo.unsqueeze(1)) & (longer.unsqueeze(0) <= hi.unsqueeze(1));
  const torch::Tensor radius = (strides * kCentreRadius).unsqueeze(1);
  const torch::Tensor inside = (px > x1) & (px < x2) & (py > y1) & (py < y2);
  const torch::Tensor near_centre = ((px - bcx).abs() <= radius) & ((py - bcy).abs() <= radius);
  torch::Tensor candidate = level_fits & inside & near_centre;  // [N, M]

  // Boxes with no cell: the nearest cell on a fitting level.
  const torch::Tensor orphans = candidate.sum(0) == 0;
  if (orphans.any().item<bool>()) {
    const torch::Tensor distance = ((px - bcx).pow(2) + (py - bcy).pow(2))
                                       .masked_fill(level_fits.logical_not(), std::numeric_limits<float>::infinity());
    const torch::Tensor nearest = distance.argmin(0);  // [M]
    const torch::Tensor orphan_ids = orphans.nonzero().squeeze(1);
    candidate.index_put_({nearest.index({orphan_ids}), orphan_ids}, true);
  }
  // Each cell takes its smallest candidate box.
  const torch::Tensor cost = area.unsqueeze(0).expand_as(candidate).masked_fill(candidate.logical_not(),
                                                                                std::numeric_limits<float>::infinity());
  auto [smallest, index] = cost.min(1);
  return torch::where(torch::isinf(smallest), torch::full_like(index, -1), index);
}

}  // namespace

torch::Tensor generalized_iou(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor ix1 = torch::max(a.select(1, 0), b.select(1, 0)), iy1 = torch::max(a.select(1, 1), b.select(1, 1));
  const torch::Tensor ix2 = torch::min(a.select(1, 2), b.select(1, 2)), iy2 = torch::min(a.select(1, 3), b.select(1, 3));
  const torch::Tensor intersection = (ix2 - ix1).clamp_min(0) * (iy2 - iy1).clamp_min(0);
  const torch::Tensor area_a = (a.select(1, 2) - a.select(1, 0)) * (a.select(1, 3) - a.select(1, 1));
  const torch::Tensor area_b = (b.select(1, 2) - b.select(1, 0)) * (b.select(1, 3) - b.select(1, 1));
  const torch::Tensor united = area_a + area_b - intersection + 1e-7;
  const torch::Tensor cx1 = torch::min(a.select(1, 0), b.select(1, 0)), cy1 = torch::min(a.select(1, 1), b.select(1, 1));
  const torch::Tensor cx2 = torch::max(a.select(1, 2), b.select(1, 2)), cy2 = torch::max(a.select(1, 3), b.select(1, 3));
  const torch::Tensor hull = (cx2 - cx1) * (cy2 - cy1) + 1e-7;
  return intersection / united - (hull - united) / hull;
}

LossParts detection_loss(const std::vector<LevelOutput>& levels, const std::vector<Targets>& targets,
                         const DetectorConfig& config) {
  auto [distances, logits] = flatten_levels(levels);  // [B, N, 4], [B, N, C]
  auto [centres, strides] = cell_centres(config);
  const auto batch = logits.size(0);

  torch::Tensor class_targets = torch::zeros_like(logits);
  std::vector<torch::Tensor> positive_cells, target_boxes;
  std::int64_t positives = 0;
  {
    torch::NoGradGuard no_grad;
    for (std::int64_t i = 0; i < batch; ++i) {
      const torch::Tensor assigned = assign(centres, strides, targets[size_t(i)].boxes);
      const torch::Tensor cells = (assigned >= 0).nonzero().squeeze(1);
      if (cells.numel() == 0) continue;
      const torch::Tensor owner = assigned.index({cells});
      class_targets.index_put_({i, cells, targets[size_t(i)].labels.index({owner})}, 1.0f);
      target_boxes.push_back(targets[size_t(i)].boxes.index({owner}));
      positive_cells.push_back(torch::stack({torch::full_like(cells, i), cells}, 1));  // (image, cell)
      positives += cells.numel();
    }
  }
  const double normaliser = std::max<std::int64_t>(positives, 1);
  const torch::Tensor classification =
      torch::binary_cross_entropy_with_logits(logits, class_targets, {}, {}, at::Reduction::Sum) / normaliser;

  torch::Tensor box = torch::zeros({}, logits.options());
  if (positives > 0) {
    const torch::Tensor pairs = torch::cat(positive_cells);
    const torch::Tensor image = pairs.select(1, 0), cell = pairs.select(1, 1);
    const torch::Tensor d = distances.index({image, cell});  // [P, 4]
    const torch::Tensor c = centres.index({cell});
    const torch::Tensor decoded = torch::stack({c.select(1, 0) - d.select(1, 0), c.select(1, 1) - d.select(1, 1),
                                                c.select(1, 0) + d.select(1, 2), c.select(1, 1) + d.select(1, 3)},
                                               1);
    box = (1 - generalized_iou(decoded, torch::cat(target_boxes))).sum() / normaliser;
  }
  return {classification + kBoxLossWeight * box, classification.detach(), box.detach(), positives};
}

}  // namespace canopy::train
