#include "vision/metrics.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <opencv2/imgproc.hpp>
#include <span>

#include "vision/image.h"

namespace canopy::vision {

namespace {

// numpy.linspace(start, stop, n) yields start + i * ((stop - start) / (n - 1)) with the last value
// pinned to stop. pycocotools takes its IoU and recall thresholds from it; the same doubles keep
// boundary cases (an IoU of exactly 0.7, a recall of exactly 0.5) deciding the same way.
double linspace(double start, double stop, std::size_t n, std::size_t i) {
  if (i + 1 == n) return stop;
  return start + static_cast<double>(i) * ((stop - start) / static_cast<double>(n - 1));
}

double coco_iou_threshold(std::size_t index) { return linspace(0.5, 0.95, kIouThresholdCount, index); }
double recall_point(std::size_t index) { return linspace(0.0, 1.0, kRecallPointCount, index); }

constexpr std::size_t kIou75Index = 5;

// pycocotools lowers a threshold of 1 to just below it so that identical boxes still match
// despite rounding in the overlap.
double usable_threshold(double threshold) { return std::min(threshold, 1 - 1e-10); }

// pycocotools' box overlap, in double: for a crowd truth the union is the detection's own area,
// so a detection lying inside a crowd region overlaps it fully however large the region is.
double overlap(const Box& detection, const Box& truth, bool crowd) {
  const double w = std::min<double>(detection.x2, truth.x2) - std::max<double>(detection.x1, truth.x1);
  const double h = std::min<double>(detection.y2, truth.y2) - std::max<double>(detection.y1, truth.y1);
  if (w <= 0 || h <= 0) return 0;
  const double intersection = w * h;
  auto area = [](const Box& b) { return (double{b.x2} - b.x1) * (double{b.y2} - b.y1); };
  return intersection / (crowd ? area(detection) : area(detection) + area(truth) - intersection);
}

// Overlaps of one class in one image, row-major: detection d, truth t at d * truths + t.
std::vector<double> overlap_table(std::span<const Detection> detections,
                                  std::span<const GroundTruth> truths) {
  std::vector<double> table;
  table.reserve(detections.size() * truths.size());
  for (const auto& d : detections)
    for (const auto& t : truths) table.push_back(overlap(d.box, t.box, t.crowd));
  return table;
}

// COCOeval.evaluateImg's greedy matching of the first `count` detections (score order) at
// `threshold`. Each detection takes, among the truths not yet taken, the one it overlaps most
// (ties go to the later truth); crowd truths can be taken any number of times, and a crowd truth
// never replaces a regular one already in hand (regular truths come first). Returns the truth
// index per detection, -1 for none.
std::vector<int> match_greedy(const std::vector<double>& overlaps, std::span<const GroundTruth> truths,
                              std::size_t count, double threshold) {
  std::vector<int> matched(count, -1);
  std::vector<char> taken(truths.size(), 0);
  for (std::size_t d = 0; d < count; ++d) {
    double best = usable_threshold(threshold);
    int m = -1;
    for (std::size_t t = 0; t < truths.size(); ++t) {
      if (taken[t] && !truths[t].crowd) continue;
      if (m >= 0 && !truths[static_cast<std::size_t>(m)].crowd && truths[t].crowd) break;
      const double o = overlaps[d * truths.size() + t];
      if (o < best) continue;
      best = o;
      m = static_cast<int>(t);
    }
    if (m < 0) continue;
    matched[d] = m;
    taken[static_cast<std::size_t>(m)] = 1;
  }
  return matched;
}

// One evaluated detection: its score and, per IoU threshold (bit t), its fate.
struct ScoredMatch {
  float score = 0;
  std::uint16_t matched = 0;  // took a regular truth: a true positive
  std::uint16_t ignored = 0;  // took a crowd truth: neither true nor false positive
};

using Confusion = std::vector<std::vector<std::int64_t>>;

// What evaluate() gathers image by image, indexed by label.
struct Tally {
  explicit Tally(std::size_t classes)
      : matches(classes),
        ground_truths(classes),
        detections(classes),
        confusion(classes + 1, std::vector<std::int64_t>(classes + 1)) {}
  std::vector<std::vector<ScoredMatch>> matches;  // in image order, each image in score order
  std::vector<std::int64_t> ground_truths, detections;
  Confusion confusion;
};

struct OperatingPoint {
  float score_threshold;
  double iou;
};

// Operating-point leftovers of one image, across classes, for the confusion pass.
struct Unmatched {
  std::vector<const Detection*> detections;
  std::vector<const GroundTruth*> truths;
};

// Calls visit(label, truths, detections) for each label present in one image, both lists being
// sorted by label.
template <typename Visit>
void for_each_label(std::span<const GroundTruth> truths, std::span<const Detection> detections, Visit visit) {
  std::size_t t = 0, d = 0;
  while (t < truths.size() || d < detections.size()) {
    const int label = std::min(t < truths.size() ? truths[t].label : INT_MAX,
                               d < detections.size() ? detections[d].label : INT_MAX);
    std::size_t t_end = t, d_end = d;
    while (t_end < truths.size() && truths[t_end].label == label) ++t_end;
    while (d_end < detections.size() && detections[d_end].label == label) ++d_end;
    visit(static_cast<std::size_t>(label), truths.subspan(t, t_end - t), detections.subspan(d, d_end - d));
    t = t_end;
    d = d_end;
  }
}

// Records the fate of each detection of one class in one image at every COCO IoU threshold.
void tally_coco_matches(std::size_t label, std::span<const GroundTruth> truths,
                        std::span<const Detection> detections, const std::vector<double>& overlaps,
                        Tally& tally) {
  tally.ground_truths[label] +=
      std::count_if(truths.begin(), truths.end(), [](const GroundTruth& t) { return !t.crowd; });
  tally.detections[label] += static_cast<std::int64_t>(detections.size());
  std::vector<ScoredMatch> fates(detections.size());
  for (std::size_t d = 0; d < detections.size(); ++d) fates[d].score = detections[d].score;
  for (std::size_t t = 0; t < kIouThresholdCount; ++t) {
    const auto matched = match_greedy(overlaps, truths, detections.size(), coco_iou_threshold(t));
    for (std::size_t d = 0; d < detections.size(); ++d) {
      if (matched[d] < 0) continue;
      auto& bits = truths[static_cast<std::size_t>(matched[d])].crowd ? fates[d].ignored : fates[d].matched;
      bits = static_cast<std::uint16_t>(bits | (1u << t));
    }
  }
  auto& all = tally.matches[label];
  all.insert(all.end(), fates.begin(), fates.end());
}

// The operating point within one class: detections at or above the score threshold matched as COCO
// does at the operating IoU. True positives go on the confusion diagonal; the rest wait for
// the cross-class pass in `unmatched`.
void tally_operating_matches(std::size_t label, std::span<const GroundTruth> truths,
                             std::span<const Detection> detections, const std::vector<double>& overlaps,
                             const OperatingPoint& point, Tally& tally, Unmatched& unmatched) {
  const auto confident = static_cast<std::size_t>(
      std::partition_point(detections.begin(), detections.end(),
                           [&](const Detection& d) { return d.score >= point.score_threshold; }) -
      detections.begin());
  const auto matched = match_greedy(overlaps, truths, confident, point.iou);
  std::vector<char> found(truths.size(), 0);
  for (std::size_t d = 0; d < confident; ++d) {
    if (matched[d] < 0) {
      unmatched.detections.push_back(&detections[d]);
      continue;
    }
    const auto t = static_cast<std::size_t>(matched[d]);
    found[t] = 1;
    if (!truths[t].crowd) ++tally.confusion[label][label];
  }
  for (std::size_t t = 0; t < truths.size(); ++t)
    if (!found[t] && !truths[t].crowd) unmatched.truths.push_back(&truths[t]);
}

// Pairs an image's left-over detections with left-over objects, highest IoU first, as
// Ultralytics' ConfusionMatrix does; those pairs are class confusions (a same-class pair cannot
// be left over: the class pass would have matched it). The unpaired rest is background or missed.
void tally_confusions(const Unmatched& unmatched, double iou, Confusion& confusion) {
  struct Pair {
    double overlap;
    std::size_t detection, truth;
  };
  std::vector<Pair> pairs;
  for (std::size_t d = 0; d < unmatched.detections.size(); ++d)
    for (std::size_t t = 0; t < unmatched.truths.size(); ++t) {
      const double o = overlap(unmatched.detections[d]->box, unmatched.truths[t]->box, false);
      if (o >= usable_threshold(iou)) pairs.push_back({o, d, t});
    }
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const Pair& a, const Pair& b) { return a.overlap > b.overlap; });
  std::vector<char> detection_paired(unmatched.detections.size(), 0),
      truth_paired(unmatched.truths.size(), 0);
  auto label = [](const auto* item) { return static_cast<std::size_t>(item->label); };
  for (const auto& p : pairs) {
    if (detection_paired[p.detection] || truth_paired[p.truth]) continue;
    detection_paired[p.detection] = truth_paired[p.truth] = 1;
    ++confusion[label(unmatched.truths[p.truth])][label(unmatched.detections[p.detection])];
  }
  const std::size_t extra = confusion.size() - 1;  // the background row and the missed column
  for (std::size_t d = 0; d < unmatched.detections.size(); ++d)
    if (!detection_paired[d]) ++confusion[extra][label(unmatched.detections[d])];
  for (std::size_t t = 0; t < unmatched.truths.size(); ++t)
    if (!truth_paired[t]) ++confusion[label(unmatched.truths[t])][extra];
}

// COCOeval.accumulate for one class and IoU threshold: precision and recall after each counted
// detection (score order), precision made non-increasing from the right (the best precision at
// any higher recall), sampled at the first detection reaching each recall point; points beyond
// the final recall stay 0. pycocotools adds 2.2e-16 to the precision denominator; leaving it out
// changes results by under 1e-15.
std::vector<double> interpolated_precision(const std::vector<ScoredMatch>& sorted, std::size_t threshold,
                                           std::int64_t ground_truths) {
  std::vector<double> precision, recall;
  double tp = 0, fp = 0;
  for (const auto& m : sorted) {
    if ((m.ignored >> threshold) & 1u) continue;
    ((m.matched >> threshold) & 1u ? tp : fp) += 1;
    precision.push_back(tp / (tp + fp));
    recall.push_back(tp / static_cast<double>(ground_truths));
  }
  for (std::size_t i = precision.size(); i-- > 1;)
    precision[i - 1] = std::max(precision[i - 1], precision[i]);
  std::vector<double> sampled(kRecallPointCount, 0.0);
  std::size_t i = 0;
  for (std::size_t k = 0; k < kRecallPointCount; ++k) {
    while (i < recall.size() && recall[i] < recall_point(k)) ++i;
    if (i == recall.size()) break;
    sampled[k] = precision[i];
  }
  return sampled;
}

double mean(const std::vector<double>& values) {
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

OperatingCounts counts_from_confusion(const Confusion& confusion, std::size_t label) {
  std::int64_t predicted = 0, actual = 0;
  for (std::size_t i = 0; i < confusion.size(); ++i) {
    predicted += confusion[i][label];
    actual += confusion[label][i];
  }
  const std::int64_t tp = confusion[label][label];
  return {tp, predicted - tp, actual - tp};
}

ClassMetrics summarize_class(std::vector<ScoredMatch>& matches, std::int64_t ground_truths,
                             std::int64_t detections, OperatingCounts operating) {
  ClassMetrics metrics;
  metrics.ground_truths = ground_truths;
  metrics.detections = detections;
  metrics.operating = operating;
  if (ground_truths == 0) return metrics;
  // Equal scores keep image order, then in-image order: pycocotools' mergesort over the
  // concatenated images.
  std::stable_sort(matches.begin(), matches.end(),
                   [](const ScoredMatch& a, const ScoredMatch& b) { return a.score > b.score; });
  double sum = 0;
  for (std::size_t t = 0; t < kIouThresholdCount; ++t) {
    auto curve = interpolated_precision(matches, t, ground_truths);
    const double ap = mean(curve);
    sum += ap;
    if (t == 0) {
      metrics.ap50 = ap;
      metrics.pr_curve50 = std::move(curve);
    }
    if (t == kIou75Index) metrics.ap75 = ap;
  }
  metrics.ap50_95 = sum / kIouThresholdCount;
  return metrics;
}

std::optional<double> mean_over_classes(const std::vector<ClassMetrics>& classes,
                                        std::optional<double> ClassMetrics::*field) {
  double sum = 0;
  int count = 0;
  for (const auto& c : classes)
    if (c.*field) {
      sum += *(c.*field);
      ++count;
    }
  if (count == 0) return std::nullopt;
  return sum / count;
}

// Keeps the first `cap` detections of each label; `detections` is sorted by label, then score.
std::vector<Detection> keep_top_per_label(const std::vector<Detection>& detections, std::size_t cap) {
  std::vector<Detection> kept;
  kept.reserve(detections.size());
  std::size_t rank = 0;
  for (std::size_t i = 0; i < detections.size(); ++i) {
    rank = i > 0 && detections[i].label == detections[i - 1].label ? rank + 1 : 0;
    if (rank < cap) kept.push_back(detections[i]);
  }
  return kept;
}

Status check_label(int label, std::size_t num_classes, const char* what) {
  if (label >= 0 && static_cast<std::size_t>(label) < num_classes) return {};
  return make_error(ErrorCode::kInvalidArgument, std::string(what) + " label " + std::to_string(label) +
                                                     " is outside [0, " + std::to_string(num_classes) + ")");
}

}  // namespace

std::optional<double> OperatingCounts::precision() const {
  if (true_positives + false_positives == 0) return std::nullopt;
  return static_cast<double>(true_positives) / static_cast<double>(true_positives + false_positives);
}

std::optional<double> OperatingCounts::recall() const {
  if (true_positives + false_negatives == 0) return std::nullopt;
  return static_cast<double>(true_positives) / static_cast<double>(true_positives + false_negatives);
}

std::optional<double> OperatingCounts::f1() const {
  const std::int64_t denominator = 2 * true_positives + false_positives + false_negatives;
  if (denominator == 0) return std::nullopt;
  return 2.0 * static_cast<double>(true_positives) / static_cast<double>(denominator);
}

DetectionEvaluator::DetectionEvaluator(std::size_t num_classes, std::size_t max_detections_per_class)
    : num_classes_(num_classes), max_detections_per_class_(max_detections_per_class) {}

Status DetectionEvaluator::add_image(const std::vector<GroundTruth>& truth,
                                     const std::vector<Detection>& detections) {
  for (const auto& t : truth) CANOPY_TRY(check_label(t.label, num_classes_, "ground truth"));
  for (const auto& d : detections) {
    CANOPY_TRY(check_label(d.label, num_classes_, "detection"));
    if (std::isnan(d.score)) return make_error(ErrorCode::kInvalidArgument, "a detection's score is NaN");
  }
  Image image{truth, detections};
  std::stable_sort(image.truths.begin(), image.truths.end(), [](const GroundTruth& a, const GroundTruth& b) {
    return a.label != b.label ? a.label < b.label : a.crowd < b.crowd;
  });
  std::stable_sort(image.detections.begin(), image.detections.end(),
                   [](const Detection& a, const Detection& b) {
                     return a.label != b.label ? a.label < b.label : a.score > b.score;
                   });
  image.detections = keep_top_per_label(image.detections, max_detections_per_class_);
  images_.push_back(std::move(image));
  return {};
}

EvaluationResult DetectionEvaluator::evaluate(float operating_score_threshold, float operating_iou) const {
  const OperatingPoint point{operating_score_threshold, operating_iou};
  Tally tally(num_classes_);
  for (const auto& image : images_) {
    Unmatched unmatched;
    for_each_label(
        image.truths, image.detections,
        [&](std::size_t label, std::span<const GroundTruth> truths, std::span<const Detection> detections) {
          const auto overlaps = overlap_table(detections, truths);
          tally_coco_matches(label, truths, detections, overlaps, tally);
          tally_operating_matches(label, truths, detections, overlaps, point, tally, unmatched);
        });
    tally_confusions(unmatched, point.iou, tally.confusion);
  }

  EvaluationResult result;
  result.images = images_.size();
  result.score_threshold = operating_score_threshold;
  result.iou_threshold = operating_iou;
  for (std::size_t c = 0; c < num_classes_; ++c) {
    result.classes.push_back(summarize_class(tally.matches[c], tally.ground_truths[c], tally.detections[c],
                                             counts_from_confusion(tally.confusion, c)));
    result.operating.true_positives += result.classes.back().operating.true_positives;
    result.operating.false_positives += result.classes.back().operating.false_positives;
    result.operating.false_negatives += result.classes.back().operating.false_negatives;
  }
  result.map50 = mean_over_classes(result.classes, &ClassMetrics::ap50);
  result.map75 = mean_over_classes(result.classes, &ClassMetrics::ap75);
  result.map50_95 = mean_over_classes(result.classes, &ClassMetrics::ap50_95);
  result.confusion = std::move(tally.confusion);
  return result;
}

namespace {

std::string label_name(const std::vector<std::string>& labels, std::size_t index) {
  return index < labels.size() ? labels[index] : "class " + std::to_string(index);
}

Json number_or_null(std::optional<double> value) { return value ? Json(*value) : Json(nullptr); }

Json counts_json(const OperatingCounts& counts) {
  return {{"precision", number_or_null(counts.precision())},
          {"recall", number_or_null(counts.recall())},
          {"f1", number_or_null(counts.f1())},
          {"true_positives", counts.true_positives},
          {"false_positives", counts.false_positives},
          {"false_negatives", counts.false_negatives}};
}

Json confusion_json(const Confusion& confusion, const std::vector<std::string>& labels) {
  Json rows = Json::array(), columns = Json::array();
  for (std::size_t c = 0; c + 1 < confusion.size(); ++c) {
    rows.push_back(label_name(labels, c));
    columns.push_back(label_name(labels, c));
  }
  rows.push_back("background");
  columns.push_back("missed");
  return {{"row_labels", rows}, {"column_labels", columns}, {"matrix", confusion}};
}

}  // namespace

Json to_json(const EvaluationResult& result, const std::vector<std::string>& labels) {
  Json per_class = Json::object();
  for (std::size_t c = 0; c < result.classes.size(); ++c) {
    const auto& m = result.classes[c];
    Json entry = counts_json(m.operating);
    entry["ap50"] = number_or_null(m.ap50);
    entry["ap75"] = number_or_null(m.ap75);
    entry["ap50_95"] = number_or_null(m.ap50_95);
    entry["ground_truths"] = m.ground_truths;
    entry["detections"] = m.detections;
    entry["pr_curve50"] = m.pr_curve50;
    per_class[label_name(labels, c)] = std::move(entry);
  }
  Json operating = counts_json(result.operating);
  operating["score_threshold"] = result.score_threshold;
  operating["iou_threshold"] = result.iou_threshold;
  return {{"images", result.images},
          {"map50", number_or_null(result.map50)},
          {"map75", number_or_null(result.map75)},
          {"map50_95", number_or_null(result.map50_95)},
          {"operating_point", operating},
          {"per_class", per_class},
          {"confusion_matrix", confusion_json(result.confusion, labels)}};
}

namespace {

// Layout of the precision-recall plot, in pixels.
constexpr int kPlotLeft = 70, kPlotTop = 50, kPlotSize = 520;  // the square axes
constexpr int kCanvasWidth = 960, kMinCanvasHeight = 640;
constexpr int kLegendLeft = 630, kLegendTop = 60, kLegendRow = 20;
const cv::Scalar kInk(30, 30, 30), kGrid(225, 225, 225), kMuted(150, 150, 150);

cv::Point plot_point(double recall, double precision) {
  return {kPlotLeft + static_cast<int>(std::lround(recall * kPlotSize)),
          kPlotTop + static_cast<int>(std::lround((1 - precision) * kPlotSize))};
}

void draw_text(cv::Mat& canvas, const std::string& text, cv::Point origin, const cv::Scalar& color,
               double scale = 0.45) {
  cv::putText(canvas, text, origin, cv::FONT_HERSHEY_SIMPLEX, scale, color, 1, cv::LINE_AA);
}

std::string format_fraction(double value) {
  char text[16];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

void draw_axes(cv::Mat& canvas) {
  for (int i = 0; i <= 10; ++i) {
    const double v = i / 10.0;
    cv::line(canvas, plot_point(v, 0), plot_point(v, 1), kGrid, 1);
    cv::line(canvas, plot_point(0, v), plot_point(1, v), kGrid, 1);
    cv::line(canvas, plot_point(v, 0), plot_point(v, 0) + cv::Point(0, 5), kInk, 1);
    cv::line(canvas, plot_point(0, v), plot_point(0, v) - cv::Point(5, 0), kInk, 1);
    draw_text(canvas, format_fraction(v), plot_point(v, 0) + cv::Point(-11, 22), kInk, 0.4);
    draw_text(canvas, format_fraction(v), plot_point(0, v) + cv::Point(-35, 5), kInk, 0.4);
  }
  cv::rectangle(canvas, plot_point(0, 1), plot_point(1, 0), kInk, 1);
  draw_text(canvas, "Recall", plot_point(0.5, 0) + cv::Point(-25, 45), kInk, 0.55);
  draw_text(canvas, "Precision", plot_point(0, 1) + cv::Point(-45, -12), kInk, 0.55);
  draw_text(canvas, "Precision-recall at IoU 0.50", {kLegendLeft, kPlotTop - 12}, kInk, 0.55);
}

// Distinct colours for any number of classes: hues a golden angle (137.5 degrees, 111.25 in
// OpenCV's 0..180 hue units, going the other way round) apart.
cv::Scalar class_color(std::size_t index) {
  const auto hue = static_cast<unsigned char>(std::lround(static_cast<double>(index) * 111.25) % 180);
  cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar(hue, 210, 200)), bgr;
  cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
  const auto pixel = bgr.at<cv::Vec3b>(0, 0);
  return {static_cast<double>(pixel[0]), static_cast<double>(pixel[1]), static_cast<double>(pixel[2])};
}

void draw_curve(cv::Mat& canvas, const std::vector<double>& precision, const cv::Scalar& color,
                int thickness) {
  std::vector<cv::Point> points;
  for (std::size_t k = 0; k < precision.size(); ++k)
    points.push_back(plot_point(recall_point(k), precision[k]));
  cv::polylines(canvas, points, false, color, thickness, cv::LINE_AA);
}

void draw_legend_row(cv::Mat& canvas, int row, const cv::Scalar& color, std::string name,
                     std::optional<double> ap50) {
  constexpr std::size_t kMaxNameChars = 26;
  // Shortened in place: GCC 12 warns falsely (-Warray-bounds) on substr() + "..".
  if (name.size() > kMaxNameChars) name.replace(kMaxNameChars - 2, std::string::npos, "..");
  char text[64];
  if (ap50)
    std::snprintf(text, sizeof text, "%s  %.3f", name.c_str(), *ap50);
  else
    std::snprintf(text, sizeof text, "%s  (no ground truth)", name.c_str());
  const int y = kLegendTop + row * kLegendRow;
  cv::line(canvas, {kLegendLeft, y - 5}, {kLegendLeft + 24, y - 5}, color, 3, cv::LINE_AA);
  draw_text(canvas, text, {kLegendLeft + 32, y}, ap50 ? kInk : kMuted);
}

// The mean precision over classes with ground truth at each recall point; its mean is mAP50.
std::vector<double> mean_curve(const std::vector<ClassMetrics>& classes) {
  std::vector<double> sum(kRecallPointCount, 0.0);
  int count = 0;
  for (const auto& c : classes) {
    if (c.pr_curve50.empty()) continue;
    for (std::size_t k = 0; k < kRecallPointCount; ++k) sum[k] += c.pr_curve50[k];
    ++count;
  }
  for (double& s : sum) s /= count;
  return sum;
}

cv::Mat render_pr_curve(const EvaluationResult& result, const std::vector<std::string>& labels) {
  const int rows = static_cast<int>(result.classes.size()) + 1;
  const int height = std::max(kMinCanvasHeight, kLegendTop + rows * kLegendRow);
  cv::Mat canvas(height, kCanvasWidth, CV_8UC3, cv::Scalar(255, 255, 255));
  draw_axes(canvas);
  for (std::size_t c = 0; c < result.classes.size(); ++c) {
    const auto& m = result.classes[c];
    const cv::Scalar color = m.ap50 ? class_color(c) : kMuted;
    if (m.ap50) draw_curve(canvas, m.pr_curve50, color, 2);
    draw_legend_row(canvas, static_cast<int>(c) + 1, color, label_name(labels, c), m.ap50);
  }
  if (result.map50) draw_curve(canvas, mean_curve(result.classes), kInk, 3);
  draw_legend_row(canvas, 0, kInk, "all classes", result.map50);
  return canvas;
}

}  // namespace

Status write_pr_curve_png(const EvaluationResult& result, const std::vector<std::string>& labels,
                          const std::filesystem::path& png) {
  if (png.extension() != ".png")
    return make_error(ErrorCode::kInvalidArgument,
                      png.string() + ": the precision-recall plot is written as .png");
  return write_image(png, render_pr_curve(result, labels));
}

}  // namespace canopy::vision
