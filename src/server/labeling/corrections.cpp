#include "server/labeling/corrections.h"

#include <algorithm>
#include <tuple>

#include "vision/boxes.h"

namespace canopy::server {

namespace {

constexpr double kSameBox = 0.9;    // a box kept as proposed
constexpr double kSameThing = 0.5;  // the same object, moved or given another class

}  // namespace

double box_iou(const api::SampleBox& a, const api::SampleBox& b) {
  const auto box = [](const api::SampleBox& s) {
    return vision::Box{static_cast<float>(s.x1), static_cast<float>(s.y1), static_cast<float>(s.x2),
                       static_cast<float>(s.y2)};
  };
  return vision::iou(box(a), box(b));
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
