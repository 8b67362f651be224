// The labeling queue over a real sample store, with a manual clock: order,
// leases that expire, revisions, review, the corrections that measure the
// model, and samples retention removes under it. No HTTP.
#include "server/labeling/label_queue.h"

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "common/keys.h"
#include "server/area_links.h"
#include "server/labeling/corrections.h"
#include "server/samples/sample_store.h"
#include "test_support.h"
#include "vision/image_codec.h"

namespace canopy::server {
namespace {

constexpr std::int64_t kT0 = 1'780'000'000'000;
constexpr std::int64_t kMinute = 60'000;

api::SampleBox box(const std::string& label, double score, double x1, double y1, double x2, double y2) {
  return {label, score, x1, y1, x2, y2};
}

struct SampleSpec {
  std::string device = "cam-1";
  std::int64_t captured_ms = kT0;
  double score = 0.5;  // the selection score
  std::string strategy = "uncertainty";
  std::string top = "diseased";
  std::string field = "north";
  std::string camera = "row-1";
};

api::Sample make_sample(const SampleSpec& spec) {
  cv::Mat image(48, 64, CV_8UC3, cv::Scalar(40, static_cast<int>(spec.captured_ms / 1000 % 200), 60));
  api::Sample s;
  s.camera = spec.camera;
  s.captured_ms = spec.captured_ms;
  s.id = api::sample_id(spec.device, s.camera, s.captured_ms);
  s.field = spec.field;
  s.model = "detector:2";
  s.predictions = {box(spec.top, 0.8, 0.1, 0.1, 0.4, 0.4), box("healthy", 0.6, 0.5, 0.5, 0.8, 0.8),
                   box("healthy", 0.2, 0.0, 0.6, 0.2, 0.9)};
  s.reasons = {{spec.strategy, spec.score, ""}};
  s.width = 64;
  s.height = 48;
  s.jpeg_base64 = base64_encode(vision::encode_image(image, vision::ImageFormat::kJpeg, 85).value());
  return s;
}

class LabelQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto samples_db = Database::open_in(dir_.path());
    ASSERT_TRUE(samples_db.ok());
    auto store = SampleStore::open(std::move(samples_db).value(), dir_.path() / "samples", clock_);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
    source_ = std::make_unique<SampleStoreSource>(*store_);
    auto db = Database::open_in(dir_.path());
    ASSERT_TRUE(db.ok());
    auto queue = LabelQueue::open(std::move(db).value(), *source_, clock_);
    ASSERT_TRUE(queue.ok()) << queue.error().message;
    queue_ = std::move(queue).value();
  }

  void add(const SampleSpec& spec) {
    Status stored = store_->ingest(spec.device, {make_sample(spec)});
    ASSERT_TRUE(stored.ok()) << stored.error().message;
  }

  std::string next_id(const std::string& actor, api::TaskFilter filter = {}) {
    auto task = queue_->next(actor, filter);
    EXPECT_TRUE(task.ok()) << task.error().message;
    return task.ok() && *task ? (*task)->sample_id : "";
  }

  static std::string id(std::int64_t captured_ms, const std::string& device = "cam-1") {
    return api::sample_id(device, "row-1", captured_ms);
  }

  api::LabelTask submit(const std::string& sample_id, const std::string& actor,
                        std::vector<api::SampleBox> boxes) {
    api::LabelSubmission submission;
    submission.boxes = std::move(boxes);
    submission.spent_ms = 4000;
    auto task = queue_->submit(sample_id, actor, submission);
    EXPECT_TRUE(task.ok()) << task.error().message;
    return task.ok() ? *task : api::LabelTask{};
  }

  testing::TempDir dir_;
  ManualClock clock_{kT0};
  std::unique_ptr<SampleStore> store_;
  std::unique_ptr<SampleStoreSource> source_;
  std::unique_ptr<LabelQueue> queue_;
};

TEST(CorrectionsTest, EachBoxIsKeptMovedRelabeledDeletedOrAdded) {
  const std::vector<api::SampleBox> proposed = {
      box("diseased", 0.9, 0.10, 0.10, 0.30, 0.30),  // kept exactly
      box("healthy", 0.8, 0.50, 0.50, 0.70, 0.70),   // moved a little
      box("healthy", 0.7, 0.00, 0.70, 0.20, 0.90),   // given another class
      box("diseased", 0.6, 0.80, 0.00, 1.00, 0.20),  // deleted
      box("diseased", 0.1, 0.40, 0.40, 0.45, 0.45),  // below the threshold: never shown
  };
  const std::vector<api::SampleBox> final_boxes = {
      box("diseased", 1, 0.10, 0.10, 0.30, 0.30), box("healthy", 1, 0.52, 0.52, 0.72, 0.72),
      box("water_stressed", 1, 0.00, 0.70, 0.20, 0.90), box("healthy", 1, 0.40, 0.00, 0.50, 0.10),  // added
  };
  const api::Corrections c = compare_boxes(proposed, 0.5, final_boxes);
  EXPECT_EQ(c.accepted, 1);
  EXPECT_EQ(c.moved, 1);
  EXPECT_EQ(c.relabeled, 1);
  EXPECT_EQ(c.deleted, 1);
  EXPECT_EQ(c.added, 1);
  EXPECT_EQ(c.proposed(), 4);
  EXPECT_EQ(c.final_boxes(), 4);

  EXPECT_EQ(compare_boxes({}, 0.5, {}).proposed(), 0);
  const api::Corrections all_deleted = compare_boxes(proposed, 0.0, {});
  EXPECT_EQ(all_deleted.deleted, 5);
  EXPECT_EQ(compare_boxes({}, 0.5, final_boxes).added, 4);
  EXPECT_DOUBLE_EQ(box_iou(proposed[0], proposed[0]), 1.0);
  EXPECT_DOUBLE_EQ(box_iou(proposed[0], proposed[3]), 0.0);
}

TEST_F(LabelQueueTest, TasksComeHardestFirstThenOldestAndTwoPeopleNeverShareOne) {
  add({.captured_ms = kT0, .score = 0.4});
  add({.captured_ms = kT0 + kMinute, .score = 0.9});
  add({.captured_ms = kT0 + 2 * kMinute, .score = 0.4});

  EXPECT_EQ(next_id("ana"), id(kT0 + kMinute)) << "the highest selection score first";
  EXPECT_EQ(next_id("ana"), id(kT0 + kMinute)) << "a person holding a task gets it again (a reloaded page)";
  EXPECT_EQ(next_id("bob"), id(kT0)) << "then the older of two equals, and not ana's";
  EXPECT_EQ(next_id("cid"), id(kT0 + 2 * kMinute));
  EXPECT_EQ(next_id("dan"), "") << "every task is leased";

  auto held = queue_->task(id(kT0 + kMinute));
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held->state, api::kTaskInProgress);
  EXPECT_EQ(held->leased_by, "ana");

  clock_.advance_ms(15 * kMinute);
  EXPECT_EQ(next_id("dan"), id(kT0 + kMinute)) << "an abandoned lease returns its task to the queue";
}

TEST_F(LabelQueueTest, FiltersChooseByFieldDeviceStrategyAndPredictedClass) {
  add({.device = "cam-1",
       .captured_ms = kT0,
       .score = 0.9,
       .strategy = "novelty",
       .top = "healthy",
       .field = "north"});
  add({.device = "cam-2",
       .captured_ms = kT0,
       .score = 0.5,
       .strategy = "uncertainty",
       .top = "diseased",
       .field = "south"});
  const auto filter = [](auto set) {
    api::TaskFilter f;
    set(f);
    return f;
  };
  EXPECT_EQ(next_id("a", filter([](auto& f) { f.field = "south"; })), id(kT0, "cam-2"));
  ASSERT_TRUE(queue_->release(id(kT0, "cam-2"), "a").ok());
  EXPECT_EQ(next_id("b", filter([](auto& f) { f.device_id = "cam-2"; })), id(kT0, "cam-2"));
  EXPECT_EQ(next_id("c", filter([](auto& f) { f.strategy = "novelty"; })), id(kT0, "cam-1"));
  EXPECT_EQ(next_id("d", filter([](auto& f) { f.predicted_class = "water_stressed"; })), "");
}

TEST_F(LabelQueueTest, ASubmissionIsARevisionWithItsCorrectionsAndTheStoreKeepsTheSample) {
  add({.captured_ms = kT0});
  ASSERT_EQ(next_id("ana"), id(kT0));
  // The model proposed diseased and healthy above 0.5; ana keeps the first,
  // drops the second and draws a water-stressed plant.
  api::LabelTask labeled = submit(
      id(kT0), "ana", {box("diseased", 1, 0.1, 0.1, 0.4, 0.4), box("water_stressed", 1, 0.6, 0.0, 0.9, 0.3)});
  EXPECT_EQ(labeled.state, api::kTaskLabeled);
  EXPECT_EQ(labeled.revision, 1);
  EXPECT_EQ(labeled.labeled_by, "ana");
  EXPECT_EQ(labeled.leased_by, "");
  ASSERT_EQ(labeled.labels.size(), 2u);
  EXPECT_EQ(store_->get(id(kT0))->label_state, "labeled") << "retention keeps labeled samples";

  auto revisions = queue_->revisions(id(kT0));
  ASSERT_TRUE(revisions.ok());
  ASSERT_EQ(revisions->size(), 1u);
  const api::LabelRevision& first = (*revisions)[0];
  EXPECT_EQ(first.kind, "submit");
  EXPECT_EQ(first.actor, "ana");
  EXPECT_EQ(first.started_from, "prelabels");
  EXPECT_EQ(first.spent_ms, 4000);
  EXPECT_EQ(first.corrections.accepted, 1);
  EXPECT_EQ(first.corrections.deleted, 1);
  EXPECT_EQ(first.corrections.added, 1);

  auto stats = queue_->stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->by_state.at("labeled"), 1);
  EXPECT_EQ(stats->boxes_by_class.at("water_stressed"), 1);
  ASSERT_EQ(stats->accuracy.size(), 1u);
  EXPECT_EQ(stats->accuracy[0].model, "detector:2");
  EXPECT_EQ(stats->accuracy[0].field, "north");
  EXPECT_DOUBLE_EQ(stats->accuracy[0].precision(), 0.5);
  EXPECT_DOUBLE_EQ(stats->accuracy[0].recall(), 0.5);
  EXPECT_EQ(stats->median_spent_ms, 4000);

  // A second revision replaces the labels and the class counts; the first stays.
  submit(id(kT0), "bob", {box("diseased", 1, 0.1, 0.1, 0.4, 0.4)});
  stats = queue_->stats();
  EXPECT_EQ(stats->boxes_by_class.count("water_stressed"), 0u);
  EXPECT_EQ(queue_->revisions(id(kT0))->size(), 2u);
}

TEST_F(LabelQueueTest, NobodySubmitsOverAnotherPersonsLease) {
  add({.captured_ms = kT0});
  ASSERT_EQ(next_id("ana"), id(kT0));
  api::LabelSubmission submission;
  auto refused = queue_->submit(id(kT0), "bob", submission);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find("ana"), std::string::npos);
  EXPECT_EQ(queue_->skip(id(kT0), "bob").error().code, ErrorCode::kConflict);
  EXPECT_EQ(queue_->release(id(kT0), "bob").error().code, ErrorCode::kConflict);
  EXPECT_EQ(queue_->revisions(id(kT0))->size(), 0u) << "nothing was recorded";
  EXPECT_EQ(queue_->submit("cam-1/row-1/1", "ana", submission).error().code, ErrorCode::kNotFound);
}

TEST_F(LabelQueueTest, AReviewerAcceptsOrSendsBackButNeverTheirOwnLabels) {
  add({.captured_ms = kT0});
  add({.captured_ms = kT0 + kMinute});
  submit(id(kT0), "ana", {box("diseased", 1, 0.1, 0.1, 0.4, 0.4)});
  submit(id(kT0 + kMinute), "ana", {});

  EXPECT_EQ(queue_->review(id(kT0), "ana", true, "").error().code, ErrorCode::kPermissionDenied);
  auto accepted = queue_->review(id(kT0), "rev", true, "");
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(accepted->state, api::kTaskReviewed);
  EXPECT_EQ(queue_->review(id(kT0), "rev", true, "").error().code, ErrorCode::kConflict);

  auto returned = queue_->review(id(kT0 + kMinute), "rev", false, "two plants are missing");
  ASSERT_TRUE(returned.ok());
  EXPECT_EQ(returned->state, api::kTaskUnlabeled);
  EXPECT_EQ(next_id("bob"), id(kT0 + kMinute)) << "a task sent back is in the queue again";
  auto revisions = queue_->revisions(id(kT0 + kMinute));
  ASSERT_EQ(revisions->size(), 2u);
  EXPECT_EQ((*revisions)[1].kind, "review_return");
  EXPECT_EQ((*revisions)[1].note, "two plants are missing");
}

TEST_F(LabelQueueTest, SkippedAndRejectedTasksLeaveTheQueue) {
  add({.captured_ms = kT0, .score = 0.9});
  add({.captured_ms = kT0 + kMinute, .score = 0.8});
  add({.captured_ms = kT0 + 2 * kMinute, .score = 0.7});
  ASSERT_EQ(next_id("ana"), id(kT0));
  ASSERT_TRUE(queue_->skip(id(kT0), "ana").ok());
  ASSERT_EQ(next_id("ana"), id(kT0 + kMinute));
  auto rejected = queue_->reject(id(kT0 + kMinute), "ana", "lens covered in mud");
  ASSERT_TRUE(rejected.ok());
  EXPECT_EQ(rejected->state, api::kTaskRejected);
  EXPECT_EQ(next_id("ana"), id(kT0 + 2 * kMinute));
  auto stats = queue_->stats();
  EXPECT_EQ(stats->by_state.at("skipped"), 1);
  EXPECT_EQ(stats->by_state.at("rejected"), 1);
  EXPECT_EQ(stats->by_state.at("in_progress"), 1);
}

TEST_F(LabelQueueTest, ARareClassComesBeforeACommonOneOfTheSameScore) {
  add({.captured_ms = kT0, .score = 0.5, .top = "healthy"});
  add({.captured_ms = kT0 + kMinute, .score = 0.5, .top = "healthy"});
  add({.captured_ms = kT0 + 2 * kMinute, .score = 0.5, .top = "diseased"});
  ASSERT_EQ(next_id("ana"), id(kT0));
  submit(id(kT0), "ana",
         {box("healthy", 1, 0.1, 0.1, 0.4, 0.4), box("diseased", 1, 0.5, 0.5, 0.6, 0.6),
          box("healthy", 1, 0.6, 0.6, 0.7, 0.7)});
  EXPECT_EQ(next_id("ana"), id(kT0 + 2 * kMinute)) << "diseased is rarer in the labels than healthy";
}

TEST_F(LabelQueueTest, TheCamerasPreviousLabelsComeWithATaskForCopying) {
  add({.captured_ms = kT0, .score = 0.9});
  add({.captured_ms = kT0 + kMinute, .score = 0.5});
  add({.device = "cam-2", .captured_ms = kT0 + 2 * kMinute, .score = 0.1});
  ASSERT_EQ(next_id("ana"), id(kT0));
  submit(id(kT0), "ana", {box("diseased", 1, 0.1, 0.1, 0.4, 0.4)});
  auto second = queue_->next("ana", {});
  ASSERT_TRUE(second.ok() && *second);
  EXPECT_EQ((*second)->previous_sample_id, id(kT0));
  ASSERT_EQ((*second)->previous_labels.size(), 1u);
  EXPECT_EQ((*second)->previous_labels[0].label, "diseased");
  auto other_camera = queue_->task(id(kT0 + 2 * kMinute, "cam-2"));
  ASSERT_TRUE(other_camera.ok());
  EXPECT_EQ(other_camera->previous_sample_id, "") << "another device's camera has its own history";
}

TEST_F(LabelQueueTest, ASampleRetentionRemovedIsDroppedFromTheQueue) {
  add({.captured_ms = kT0, .score = 0.9});
  add({.captured_ms = kT0 + kMinute, .score = 0.1});
  ASSERT_TRUE(queue_->stats().ok());  // both are tasks now
  // Retention: unlabeled samples older than 90 days go.
  clock_.advance_ms(91ll * 86'400'000);
  add({.captured_ms = kT0 + 2 * kMinute, .score = 0.1});  // arrives now, so it stays
  ASSERT_TRUE(store_->prune().ok());
  EXPECT_EQ(next_id("ana"), id(kT0 + 2 * kMinute)) << "the two pruned samples' tasks are skipped";
  EXPECT_EQ(next_id("bob"), "");
}

TEST_F(LabelQueueTest, ManySamplesBecomeTasksOnceInBatches) {
  // Not a timing test: the sync reads forward in batches and never twice.
  for (int i = 0; i < 2500; ++i) add({.captured_ms = kT0 + i * 1000, .score = (i % 100) / 100.0});
  auto stats = queue_->stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->by_state.at("unlabeled"), 2500);
  EXPECT_EQ(next_id("ana"), id(kT0 + 99 * 1000));
  EXPECT_EQ(queue_->stats()->by_state.at("unlabeled"), 2499);
}

}  // namespace
}  // namespace canopy::server
