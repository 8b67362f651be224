// Detection metrics against values computed by hand. Each AP test spells out
// its derivation, following pycocotools: detections of a class sorted by score
// (ties in image order), precision and recall after each counted detection,
// precision made non-increasing from the right, then sampled at the first
// detection whose recall reaches r for r = 0, 0.01, ..., 1 (0 past the final
// recall); AP is the mean of those 101 samples.
#include "vision/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

#include "test_support.h"
#include "vision/image.h"

namespace canopy::vision {
namespace {

using testing::TempDir;

constexpr double kTolerance = 1e-12;

GroundTruth truth(int label, Box box, bool crowd = false) { return {box, label, crowd}; }
Detection detection(int label, Box box, float score) { return {box, label, score}; }

// Adds the images to a fresh evaluator and evaluates at the default operating point.
EvaluationResult evaluate_images(
    std::size_t classes,
    const std::vector<std::pair<std::vector<GroundTruth>, std::vector<Detection>>>& images,
    float score_threshold = 0.25f) {
  DetectionEvaluator evaluator(classes);
  for (const auto& [truths, detections] : images) EXPECT_TRUE(evaluator.add_image(truths, detections).ok());
  return evaluator.evaluate(score_threshold);
}

void expect_counts(const OperatingCounts& counts, std::int64_t tp, std::int64_t fp, std::int64_t fn) {
  EXPECT_EQ(counts.true_positives, tp);
  EXPECT_EQ(counts.false_positives, fp);
  EXPECT_EQ(counts.false_negatives, fn);
}

// Every object found with its exact box: precision 1 at every recall, so AP is
// 1 at every IoU threshold and every mean is 1.
TEST(DetectionMetrics, PerfectDetectionsScoreOne) {
  const Box a{0, 0, 10, 10}, b{20, 20, 40, 50}, c{5, 5, 30, 15};
  const auto result =
      evaluate_images(2, {{{truth(0, a), truth(1, b)}, {detection(1, b, 0.8f), detection(0, a, 0.9f)}},
                          {{truth(0, c)}, {detection(0, c, 0.7f)}}});
  EXPECT_EQ(result.images, 2u);
  EXPECT_NEAR(*result.map50, 1, kTolerance);
  EXPECT_NEAR(*result.map75, 1, kTolerance);
  EXPECT_NEAR(*result.map50_95, 1, kTolerance);
  for (const auto& metrics : result.classes) {
    EXPECT_NEAR(*metrics.ap50_95, 1, kTolerance);
    EXPECT_EQ(metrics.pr_curve50, std::vector<double>(kRecallPointCount, 1.0));
  }
  EXPECT_EQ(result.classes[0].ground_truths, 2);
  EXPECT_EQ(result.classes[0].detections, 2);
  expect_counts(result.operating, 3, 0, 0);
  EXPECT_EQ(result.operating.f1(), 1.0);
  EXPECT_EQ(result.confusion, (std::vector<std::vector<std::int64_t>>{{2, 0, 0}, {0, 1, 0}, {0, 0, 0}}));
}

// The only detection misses the only object: precision [0], recall [0]; the
// sample at recall 0 is 0 and there is nothing beyond, so AP = 0. At the
// operating point it is one false positive (background row) and one miss.
TEST(DetectionMetrics, AllMissedScoresZero) {
  const auto result =
      evaluate_images(1, {{{truth(0, {0, 0, 10, 10})}, {detection(0, {20, 20, 30, 30}, 0.9f)}}});
  EXPECT_NEAR(*result.map50, 0, kTolerance);
  EXPECT_NEAR(*result.map50_95, 0, kTolerance);
  EXPECT_EQ(result.classes[0].pr_curve50, std::vector<double>(kRecallPointCount, 0.0));
  expect_counts(result.operating, 0, 1, 1);
  EXPECT_EQ(result.operating.precision(), 0.0);
  EXPECT_EQ(result.operating.recall(), 0.0);
  EXPECT_EQ(result.operating.f1(), 0.0);
  EXPECT_EQ(result.confusion, (std::vector<std::vector<std::int64_t>>{{0, 1}, {1, 0}}));
}

// Objects and no detections: no sample is ever reached, AP = 0 (the class has
// ground truth, so it counts in the mean). Precision is undefined, recall 0,
// F1 = 2*0 / (0 + 0 + 2) = 0.
TEST(DetectionMetrics, NoDetectionsScoreZero) {
  const auto result = evaluate_images(1, {{{truth(0, {0, 0, 10, 10}), truth(0, {30, 30, 50, 50})}, {}}});
  EXPECT_NEAR(*result.map50, 0, kTolerance);
  EXPECT_EQ(result.classes[0].detections, 0);
  expect_counts(result.operating, 0, 0, 2);
  EXPECT_FALSE(result.operating.precision());
  EXPECT_EQ(result.operating.recall(), 0.0);
  EXPECT_EQ(result.operating.f1(), 0.0);
}

// Image 1: object A, detected at 0.9 and again (same box) at 0.8. Image 2:
// object B, detected at 0.7. Two objects. In score order: 0.9 TP, 0.8 FP (A is
// taken), 0.7 TP. Precision [1, 1/2, 2/3], recall [1/2, 1/2, 1]; from the
// right: [1, 2/3, 2/3]. Recall points 0 .. 0.50 (51 of them) reach the first
// detection: 1; points 0.51 .. 1 (50) reach the third: 2/3.
// AP = (51 + 50 * 2/3) / 101 = 253/303 at every threshold (the boxes are exact).
// Operating point: TP 2, FP 1 -> precision 2/3, recall 1, F1 = 4/5.
TEST(DetectionMetrics, DuplicateDetectionIsFalsePositive) {
  const Box a{0, 0, 10, 10}, b{50, 50, 70, 60};
  const auto result = evaluate_images(1, {{{truth(0, a)}, {detection(0, a, 0.9f), detection(0, a, 0.8f)}},
                                          {{truth(0, b)}, {detection(0, b, 0.7f)}}});
  EXPECT_NEAR(*result.map50, 253.0 / 303, kTolerance);
  EXPECT_NEAR(*result.map50_95, 253.0 / 303, kTolerance);
  const auto& curve = result.classes[0].pr_curve50;
  EXPECT_EQ(curve[50], 1.0);
  EXPECT_NEAR(curve[51], 2.0 / 3, kTolerance);
  EXPECT_NEAR(curve[100], 2.0 / 3, kTolerance);
  expect_counts(result.operating, 2, 1, 0);
  EXPECT_NEAR(*result.operating.f1(), 0.8, kTolerance);
}

// Overlapping objects G1 = x[0,10], G2 = x[5,15] and detections D1 = x[4,14]
// (0.9), D2 = x[3,13] (0.8), all 10 high, so IoU is the overlap of x ranges:
// D1-G2 9/11 = .818, D1-G1 6/14 = .429, D2-G2 8/12 = .667, D2-G1 7/13 = .538.
// Greedy by score, D1 takes G2 (its best); D2, its best taken, falls back to G1
// only while the threshold is <= .538, i.e. at 0.50.
//   t = 0.50: TP, TP -> precision [1, 1], recall [.5, 1] -> AP 1.
//   t = 0.55 .. 0.80 (6 thresholds): TP, FP -> precision [1, .5], recall
//     [.5, .5] -> 51 points reach 1, 50 reach nothing -> AP 51/101.
//   t = 0.85 .. 0.95 (3): FP, FP -> AP 0.
// AP75 = 51/101; AP50:95 = (1 + 6 * 51/101) / 10 = 407/1010.
// With the scores swapped D2 goes first and takes G2 (.667 > .538), D1 has
// nothing left at 0.50: TP, FP -> AP50 = 51/101. The order matters.
TEST(DetectionMetrics, GreedyMatchingFollowsScoreOrder) {
  const std::vector<GroundTruth> truths{truth(0, {0, 0, 10, 10}), truth(0, {5, 0, 15, 10})};
  const Box d1{4, 0, 14, 10}, d2{3, 0, 13, 10};
  auto result = evaluate_images(1, {{truths, {detection(0, d1, 0.9f), detection(0, d2, 0.8f)}}});
  EXPECT_NEAR(*result.map50, 1, kTolerance);
  EXPECT_NEAR(*result.map75, 51.0 / 101, kTolerance);
  EXPECT_NEAR(*result.map50_95, 407.0 / 1010, kTolerance);
  expect_counts(result.operating, 2, 0, 0);

  result = evaluate_images(1, {{truths, {detection(0, d1, 0.8f), detection(0, d2, 0.9f)}}});
  EXPECT_NEAR(*result.map50, 51.0 / 101, kTolerance);
  expect_counts(result.operating, 1, 1, 1);
}

// A crowd region C = [0,0,60,40] (listed first) around one regular object
// G = [0,0,10,10]. Detections: D2 (0.95) and D3 (0.9) lie inside C only
// (intersection over their own area = 1, at every threshold: ignored, a crowd
// can absorb any number); D1 (0.8) = [0,0,10,11] has IoU 100/110 = .909 with
// G and 1 with C; D4 (0.6) is far away. One counted object.
//   t = 0.50 .. 0.90 (9 thresholds): regular objects are tried first and, once
//     D1 holds G, C cannot replace it: D1 TP, D4 FP -> precision [1, .5],
//     recall [1, 1] -> AP 1.
//   t = 0.95: G is out of reach, C absorbs D1 (ignored); D4 FP alone ->
//     precision [0], recall [0] -> AP 0.
// AP50 = AP75 = 1; AP50:95 = 9/10. Treating C as an object instead would
// make D2 and D3 false positives ahead of D1 (AP50 1/3).
TEST(DetectionMetrics, CrowdRegionsAbsorbDetectionsWithoutCounting) {
  const auto result =
      evaluate_images(1, {{{truth(0, {0, 0, 60, 40}, true), truth(0, {0, 0, 10, 10})},
                           {detection(0, {25, 5, 35, 15}, 0.95f), detection(0, {40, 20, 50, 30}, 0.9f),
                            detection(0, {0, 0, 10, 11}, 0.8f), detection(0, {100, 100, 110, 110}, 0.6f)}}});
  EXPECT_NEAR(*result.map50, 1, kTolerance);
  EXPECT_NEAR(*result.map75, 1, kTolerance);
  EXPECT_NEAR(*result.map50_95, 0.9, kTolerance);
  EXPECT_EQ(result.classes[0].ground_truths, 1);
  EXPECT_EQ(result.classes[0].detections, 4);
  expect_counts(result.operating, 1, 1, 0);
  EXPECT_EQ(result.confusion, (std::vector<std::vector<std::int64_t>>{{1, 0}, {1, 0}}));
}

// A cat (0) boxed exactly but called a dog (1): a false positive for dog, a
// miss for cat, and one count at confusion[cat][dog]. Cat has ground truth and
// no cat detection: AP 0. Dog has no ground truth: AP undefined, outside the
// mean, so mAP50 = 0 (cat alone).
TEST(DetectionMetrics, WrongClassIsConfusion) {
  const Box a{0, 0, 10, 10};
  const auto result = evaluate_images(2, {{{truth(0, a)}, {detection(1, a, 0.9f)}}});
  EXPECT_NEAR(*result.classes[0].ap50, 0, kTolerance);
  EXPECT_FALSE(result.classes[1].ap50);
  EXPECT_NEAR(*result.map50, 0, kTolerance);
  expect_counts(result.classes[0].operating, 0, 0, 1);
  expect_counts(result.classes[1].operating, 0, 1, 0);
  EXPECT_FALSE(result.classes[0].operating.precision());
  EXPECT_FALSE(result.classes[1].operating.recall());
  // Rows cat, dog, background; columns cat, dog, missed.
  EXPECT_EQ(result.confusion, (std::vector<std::vector<std::int64_t>>{{0, 1, 0}, {0, 0, 0}, {0, 0, 0}}));
}

// Confusions pair left-over detections and objects by descending IoU, and only
// after each class has taken its true positives.
// Image 1: a cat (0) at [0,0,10,10]; a dog (1) detection [0,0,10,11] (IoU .909,
// score 0.9) and a bird (2) detection [0,0,10,10] (IoU 1, score 0.5): the bird
// pairs with the cat, the dog is background.
// Image 2: a dog at [0,0,10,10]; a cat detection on it exactly (0.9) and a dog
// detection [0,0,10,12] (IoU .833, 0.6): the dog detection is a true positive
// and the cat detection background, not a confusion that would steal it.
TEST(DetectionMetrics, ConfusionsPairByIouAfterTruePositives) {
  const auto result = evaluate_images(
      3,
      {{{truth(0, {0, 0, 10, 10})}, {detection(1, {0, 0, 10, 11}, 0.9f), detection(2, {0, 0, 10, 10}, 0.5f)}},
       {{truth(1, {0, 0, 10, 10})},
        {detection(0, {0, 0, 10, 10}, 0.9f), detection(1, {0, 0, 10, 12}, 0.6f)}}});
  // Rows cat, dog, bird, background; columns cat, dog, bird, missed.
  EXPECT_EQ(result.confusion,
            (std::vector<std::vector<std::int64_t>>{{0, 0, 1, 0}, {0, 1, 0, 0}, {0, 0, 0, 0}, {1, 1, 0, 0}}));
  expect_counts(result.classes[1].operating, 1, 1, 0);
}

// Image 1: object G detected exactly at 0.6. Image 2: no objects, detections
// at 0.9 and 0.3. One object. Score order: 0.9 FP, 0.6 TP, 0.3 FP ->
// precision [0, 1/2, 1/3], recall [0, 1, 1]; from the right [1/2, 1/2, 1/3].
// Recall 0 reaches the first detection (1/2), every other point the second
// (1/2): AP = 1/2. At score >= 0.25: TP 1, FP 2 (both background); at >= 0.5
// the 0.3 detection drops out: FP 1.
TEST(DetectionMetrics, DetectionsOnEmptyImagesAreFalsePositives) {
  const Box g{0, 0, 10, 10};
  const std::vector<std::pair<std::vector<GroundTruth>, std::vector<Detection>>> images{
      {{truth(0, g)}, {detection(0, g, 0.6f)}},
      {{}, {detection(0, {5, 5, 20, 20}, 0.9f), detection(0, {30, 30, 40, 40}, 0.3f)}}};
  auto result = evaluate_images(1, images);
  EXPECT_NEAR(*result.map50, 0.5, kTolerance);
  expect_counts(result.operating, 1, 2, 0);
  EXPECT_EQ(result.confusion, (std::vector<std::vector<std::int64_t>>{{1, 0}, {2, 0}}));

  result = evaluate_images(1, images, 0.5f);
  expect_counts(result.operating, 1, 1, 0);
  EXPECT_NEAR(*result.operating.precision(), 0.5, kTolerance);
}

// Class 0 perfect (AP 1), class 1 has objects and no detections (AP 0), class
// 2 has only a stray detection and no objects: excluded, so mAP = (1 + 0) / 2,
// not (1 + 0 + 0) / 3. With no objects at all, no mean is defined.
TEST(DetectionMetrics, ClassWithoutGroundTruthLeftOutOfMean) {
  const Box a{0, 0, 10, 10}, b{20, 20, 30, 30};
  auto result =
      evaluate_images(3, {{{truth(0, a), truth(1, b)}, {detection(0, a, 0.9f), detection(2, b, 0.4f)}}});
  EXPECT_NEAR(*result.map50, 0.5, kTolerance);
  EXPECT_NEAR(*result.map50_95, 0.5, kTolerance);
  EXPECT_FALSE(result.classes[2].ap50_95);
  EXPECT_TRUE(result.classes[2].pr_curve50.empty());
  EXPECT_EQ(result.classes[2].detections, 1);

  result = evaluate_images(3, {{{}, {detection(2, b, 0.4f)}}});
  EXPECT_FALSE(result.map50);
  EXPECT_FALSE(result.map50_95);
}

// IoU 7200/10000 = 0.72 clears 0.50, 0.55, 0.60, 0.65, 0.70 (AP 1 each) and
// fails 0.75 .. 0.95 (the lone detection is a FP: AP 0): AP50:95 = 5/10.
// IoU exactly 0.5 (100/200) clears 0.50 only: AP50:95 = 1/10.
TEST(DetectionMetrics, IouBetweenThresholdsCountsForThoseBelow) {
  auto result = evaluate_images(1, {{{truth(0, {0, 0, 100, 100})}, {detection(0, {0, 0, 72, 100}, 0.9f)}}});
  EXPECT_NEAR(*result.map50, 1, kTolerance);
  EXPECT_NEAR(*result.map75, 0, kTolerance);
  EXPECT_NEAR(*result.map50_95, 0.5, kTolerance);

  result = evaluate_images(1, {{{truth(0, {0, 0, 10, 10})}, {detection(0, {0, 0, 10, 20}, 0.9f)}}});
  EXPECT_NEAR(*result.map50, 1, kTolerance);
  EXPECT_NEAR(*result.map50_95, 0.1, kTolerance);
}

// Two images, one object each, both detections scoring 0.5: the FP in image 1
// and the TP in image 2. Equal scores keep image order: FP, TP -> precision
// [0, 1/2], recall [0, 1/2]; from the right [1/2, 1/2]; 51 points reach 1/2,
// the rest nothing: AP = 25.5/101. In the other image order, TP, FP: precision
// [1, 1/2] -> AP = 51/101.
TEST(DetectionMetrics, EqualScoresKeepImageOrder) {
  const Box a{0, 0, 10, 10};
  const std::pair<std::vector<GroundTruth>, std::vector<Detection>> missed{
      {truth(0, a)}, {detection(0, {50, 50, 60, 60}, 0.5f)}};
  const std::pair<std::vector<GroundTruth>, std::vector<Detection>> found{{truth(0, a)},
                                                                          {detection(0, a, 0.5f)}};
  EXPECT_NEAR(*evaluate_images(1, {missed, found}).map50, 25.5 / 101, kTolerance);
  EXPECT_NEAR(*evaluate_images(1, {found, missed}).map50, 51.0 / 101, kTolerance);
}

// With a cap of 2 per class and image, of the class-0 detections at 0.9 (FP),
// 0.8 (FP) and 0.7 (TP) the TP is dropped: AP 0. Uncapped: precision
// [0, 0, 1/3], recall [0, 0, 1], from the right all 1/3: AP = 1/3. The class-1
// detection has its own cap.
TEST(DetectionMetrics, CapsDetectionsPerClassAndImage) {
  const Box a{0, 0, 10, 10}, b{40, 40, 50, 50};
  const std::vector<GroundTruth> truths{truth(0, a), truth(1, b)};
  const std::vector<Detection> detections{detection(0, {20, 20, 30, 30}, 0.9f), detection(0, a, 0.7f),
                                          detection(0, {60, 60, 70, 70}, 0.8f), detection(1, b, 0.1f)};
  DetectionEvaluator capped(2, 2);
  ASSERT_TRUE(capped.add_image(truths, detections).ok());
  auto result = capped.evaluate();
  EXPECT_NEAR(*result.classes[0].ap50, 0, kTolerance);
  EXPECT_EQ(result.classes[0].detections, 2);
  EXPECT_NEAR(*result.classes[1].ap50, 1, kTolerance);

  result = evaluate_images(2, {{truths, detections}});
  EXPECT_NEAR(*result.classes[0].ap50, 1.0 / 3, kTolerance);
}

TEST(DetectionMetrics, RejectsBadLabelsAndScores) {
  DetectionEvaluator evaluator(2);
  auto status = evaluator.add_image({truth(2, {0, 0, 1, 1})}, {});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(evaluator.add_image({}, {detection(-1, {0, 0, 1, 1}, 0.5f)}).ok());
  EXPECT_FALSE(evaluator.add_image({}, {detection(0, {0, 0, 1, 1}, std::nanf(""))}).ok());
  EXPECT_EQ(evaluator.image_count(), 0u);
}

TEST(DetectionMetrics, JsonNamesClassesAndMarksUndefinedAsNull) {
  const Box a{0, 0, 10, 10};
  const auto result = evaluate_images(2, {{{truth(0, a)}, {detection(1, a, 0.9f)}}});
  const Json json = to_json(result, {"cat"});
  EXPECT_EQ(json["map50"], 0.0);
  EXPECT_TRUE(json["per_class"]["class 1"]["ap50"].is_null());
  EXPECT_TRUE(json["per_class"]["cat"]["precision"].is_null());
  EXPECT_EQ(json["per_class"]["cat"]["recall"], 0.0);
  EXPECT_EQ(json["per_class"]["cat"]["ground_truths"], 1);
  EXPECT_EQ(json["per_class"]["cat"]["pr_curve50"].size(), kRecallPointCount);
  EXPECT_EQ(json["operating_point"]["score_threshold"], 0.25);
  EXPECT_EQ(json["operating_point"]["false_positives"], 1);
  EXPECT_EQ(json["confusion_matrix"]["row_labels"], (Json{"cat", "class 1", "background"}));
  EXPECT_EQ(json["confusion_matrix"]["column_labels"], (Json{"cat", "class 1", "missed"}));
  EXPECT_EQ(json["confusion_matrix"]["matrix"], (Json{{0, 1, 0}, {0, 0, 0}, {0, 0, 0}}));
}

// The plot is 960 wide and max(640, 60 + 20 * (classes + 1)) high.
TEST(DetectionMetrics, WritesPrCurvePng) {
  TempDir dir;
  const Box a{0, 0, 10, 10}, b{20, 20, 30, 30};
  auto result =
      evaluate_images(3, {{{truth(0, a), truth(1, b)}, {detection(0, a, 0.9f), detection(1, a, 0.8f)}}});
  ASSERT_TRUE(write_pr_curve_png(result, {"cat", "dog", "bird"}, dir / "pr.png").ok());
  auto image = read_image(dir / "pr.png");
  ASSERT_TRUE(image.ok()) << image.error().message;
  EXPECT_EQ(image->cols, 960);
  EXPECT_EQ(image->rows, 640);
  double darkest = 255;
  cv::minMaxLoc(image->reshape(1), &darkest);
  EXPECT_LT(darkest, 100) << "something is drawn";

  result = evaluate_images(40, {{{truth(0, a)}, {detection(0, a, 0.9f)}}});
  ASSERT_TRUE(write_pr_curve_png(result, {}, dir / "many.png").ok());
  EXPECT_EQ(read_image(dir / "many.png")->rows, 60 + 20 * 41);

  EXPECT_EQ(write_pr_curve_png(result, {}, dir / "pr.jpg").error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace canopy::vision
