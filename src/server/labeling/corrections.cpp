#include "server/labeling/corrections.h"

#include <algorithm>
#include <tuple>

namespace canopy::server {

namespace {

constexpr double kSameBox = 0.9;    // a box kept as proposed
constexpr double kSameThing = 0.5;  // the same object, moved or given another class

}  // namespace

double box_iou(const api::SampleBox& a, const api::SampleBox& b) {
  const double w = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const double h = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const double inter = w * h;
  const double united = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return united <= 0 ? 0 : inter / united;
}

api::Corrections compare_boxes(const std::vector<api::SampleBox>& proposed, double threshold,
                               const std::vector<api::SampleBox>& final_boxes) {
  std::vector<const api::SampleBox*> shown;
  for (const api::SampleBox& box : proposed)
    if (box.score >= threshold) shown.push_back(&box);

  // Every overlapping pair, same class first, then by overlap.
  std::vector<std::tuple<bool, double, std::size_t, std::size_t>> pairs;
  for (std::size_t p = 0; p < shown.size(); ++p)
    for (std::size_t f = 0; f < final_boxes.size(); ++f) {
      const double overlap = box_iou(*shown[p], final_boxes[f]);
      if (overlap >= kSameThing) pairs.emplace_back(shown[p]->label == final_boxes[f].label, overlap, p, f);
    }
  std::sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) { return a > b; });

  api::Corrections c;
  std::vector<bool> proposal_used(shown.size()), final_used(final_boxes.size());
  for (const auto& [same_class, overlap, p, f] : pairs) {
    if (proposal_used[p] || final_used[f]) continue;
    proposal_used[p] = final_used[f] = true;
    if (!same_class)
      ++c.relabeled;
    else if (overlap >= kSameBox)
      ++c.accepted;
    else
      ++c.moved;
  }
  c.deleted = std::count(proposal_used.begin(), proposal_used.end(), false);
  c.added = std::count(final_used.begin(), final_used.end(), false);
  return c;
}

}  // namespace canopy::server
