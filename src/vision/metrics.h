// Detection quality, COCO-style. Average precision is computed exactly as
// pycocotools does (greedy matching per image and class, IoU thresholds
// 0.50:0.05:0.95, 101-point interpolated precision); on top of that come
// precision, recall, F1 and a confusion matrix at one operating point (a score
// threshold and an IoU), the metrics.json rendering and a precision-recall plot.
// Thread-safety: DetectionEvaluator is unsynchronized; add_image must not run
// concurrently with anything else, evaluate() is const and may run in parallel
// with other evaluate() calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "vision/boxes.h"

namespace canopy::vision {

// IoU thresholds of AP50:95: 0.50, 0.55, ..., 0.95.
inline constexpr std::size_t kIouThresholdCount = 10;
// Precision-recall curves are sampled at recall 0, 0.01, ..., 1.
inline constexpr std::size_t kRecallPointCount = 101;

struct GroundTruth {
  Box box;
  int label = 0;
  // COCO's iscrowd: one box around a group of objects. Detections inside it
  // (intersection over the detection's own area >= the IoU threshold) are
  // neither true nor false positives, and missing it is not a false negative.
  bool crowd = false;
};

// Counts at the operating point. A detection matched to a crowd box is in none of them.
struct OperatingCounts {
  std::int64_t true_positives = 0;
  std::int64_t false_positives = 0;  // includes detections of the wrong class on an object
  std::int64_t false_negatives = 0;  // includes objects detected only as another class

  std::optional<double> precision() const;  // nullopt without detections
  std::optional<double> recall() const;     // nullopt without ground truth
  // 2TP / (2TP + FP + FN): the harmonic mean of precision and recall, 0 when
  // either is 0 and the other undefined; nullopt when all three counts are 0.
  std::optional<double> f1() const;
};

struct ClassMetrics {
  // Average precision at IoU 0.5, 0.75 and averaged over 0.50:0.95; nullopt
  // when the class has no (non-crowd) ground truth in the whole set, which
  // also leaves it out of the means.
  std::optional<double> ap50, ap75, ap50_95;
  // Interpolated precision at recall i / 100 for IoU 0.5 (kRecallPointCount
  // values); empty when the class has no ground truth.
  std::vector<double> pr_curve50;
  std::int64_t ground_truths = 0;  // non-crowd boxes
  std::int64_t detections = 0;     // evaluated detections (after the per-class cap), any score
  OperatingCounts operating;
};

struct EvaluationResult {
  std::size_t images = 0;
  // Means over the classes that have ground truth; nullopt when none has.
  std::optional<double> map50, map75, map50_95;
  std::vector<ClassMetrics> classes;  // indexed by label

  float score_threshold = 0;  // the operating point evaluate() was asked for
  float iou_threshold = 0;
  OperatingCounts operating;  // summed over classes (micro average)
  // confusion[true][predicted], (classes + 1) x (classes + 1) at the operating
  // point. Row `classes` ("background") counts detections that match no object;
  // column `classes` ("missed") counts objects no detection matched.
  std::vector<std::vector<std::int64_t>> confusion;
};

// Collects ground truth and detections image by image, then scores them.
class DetectionEvaluator {
 public:
  // Labels are 0 .. num_classes - 1. Like pycocotools' maxDets, the cap keeps
  // the highest-scoring `max_detections_per_class` detections of each class in
  // each image (pycocotools documents maxDets as "per image" but slices per
  // image and category; this follows its code).
  explicit DetectionEvaluator(std::size_t num_classes, std::size_t max_detections_per_class = 100);

  // Adds one image; boxes are in the same pixel coordinates. Fails with
  // kInvalidArgument, adding nothing, for a label out of range or a NaN score.
  Status add_image(const std::vector<GroundTruth>& truth, const std::vector<Detection>& detections);

  std::size_t image_count() const { return images_.size(); }

  // Scores everything added so far. AP uses every detection; the operating
  // point counts detections scoring >= operating_score_threshold, matched to
  // objects of their class at IoU >= operating_iou first, then (as Ultralytics'
  // confusion matrix does) left-over detections and objects of different
  // classes are paired by descending IoU >= operating_iou as confusions.
  // Time: O(n log n) in the number of detections, plus per image and class
  // O(detections x boxes) for the overlaps.
  EvaluationResult evaluate(float operating_score_threshold = 0.25f, float operating_iou = 0.5f) const;

 private:
  // One image with truths ordered by (label, regular before crowd) and
  // detections by (label, score descending), capped per label.
  struct Image {
    std::vector<GroundTruth> truths;
    std::vector<Detection> detections;
  };

  std::size_t num_classes_;
  std::size_t max_detections_per_class_;
  std::vector<Image> images_;
};

// metrics.json: map50, map75, map50_95 (null when undefined), images,
// operating_point {score_threshold, iou_threshold, precision, recall, f1,
// true_positives, false_positives, false_negatives}, per_class {name: {ap50,
// ap75, ap50_95, precision, recall, f1, true_positives, false_positives,
// false_negatives, ground_truths, detections, pr_curve50}} and
// confusion_matrix {row_labels (names + "background"), column_labels (names +
// "missed"), matrix}. Labels missing from `labels` are named "class <i>".
Json to_json(const EvaluationResult& result, const std::vector<std::string>& labels);

// Draws the IoU 0.5 precision-recall curve of every class with ground truth,
// and their mean, with a legend of names and AP50, and writes it atomically as
// a PNG. The image is 960 pixels wide and max(640, 60 + 20 x (classes + 1))
// high, so that the legend (one row per class, plus the mean) always fits.
// Fails with kInvalidArgument unless `png` ends in .png, or with the write's error.
Status write_pr_curve_png(const EvaluationResult& result, const std::vector<std::string>& labels,
                          const std::filesystem::path& png);

}  // namespace canopy::vision
