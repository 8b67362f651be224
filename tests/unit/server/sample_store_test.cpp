// The sample store on its own, with a manual clock: samples are stored once
// with their images decoded first, content-addressed, queried by what they
// say, kept within quotas and retention; every bad input is refused with the
// store unchanged. No HTTP.
#include "server/samples/sample_store.h"

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "common/keys.h"
#include "test_support.h"
#include "vision/image_codec.h"

namespace canopy::server {
namespace {

constexpr std::int64_t kT0 = 1'780'000'000'000;
constexpr std::int64_t kDay = 86'400'000;

std::string jpeg_of(int width, int height, int shade) {
  cv::Mat image(height, width, CV_8UC3, cv::Scalar(40, shade, 60));
  cv::circle(image, {width / 2, height / 2}, height / 4, cv::Scalar(30, 200, 40), cv::FILLED);
  return vision::encode_image(image, vision::ImageFormat::kJpeg, 85).value();
}

api::Sample sample(const std::string& device, std::int64_t captured_ms, int shade = 100,
                   const std::string& strategy = "uncertainty", const std::string& label = "diseased",
                   double score = 0.3) {
  api::Sample s;
  s.camera = "row-1";
  s.captured_ms = captured_ms;
  s.id = api::sample_id(device, s.camera, captured_ms);
  s.field = "north";
  s.zone = "z1";
  s.model = "detector:2";
  s.predictions = {{label, score, 0.1, 0.1, 0.4, 0.4}, {"healthy", 0.9, 0.5, 0.5, 0.8, 0.8}};
  s.reasons = {{strategy, 0.8, ""}};
  s.width = 64;
  s.height = 48;
  s.jpeg_base64 = base64_encode(jpeg_of(64, 48, shade));
  return s;
}

template <typename Set>
api::SampleQuery where(Set set) {
  api::SampleQuery query;
  set(query);
  return query;
}

class SampleStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  void reopen(SampleStoreOptions options = {}) {
    store_.reset();
    auto db = Database::open_in(dir_.path());
    ASSERT_TRUE(db.ok()) << db.error().message;
    auto store = SampleStore::open(std::move(db).value(), dir_.path() / "samples", clock_, options);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
  }

  std::vector<api::StoredSample> list(api::SampleQuery query = {}) {
    auto rows = store_->list(query);
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    return rows.ok() ? *rows : std::vector<api::StoredSample>{};
  }

  std::int64_t blob_files() const {
    std::int64_t n = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_.path() / "samples" / "blobs"))
      n += entry.is_regular_file();
    return n;
  }

  testing::TempDir dir_;
  ManualClock clock_{kT0};
  std::unique_ptr<SampleStore> store_;
};

TEST_F(SampleStoreTest, StoresOnceAnswersTheImageAndIsIdempotentPerId) {
  const api::Sample a = sample("dev-1", kT0);
  ASSERT_TRUE(store_->ingest("dev-1", {a}).ok());
  ASSERT_TRUE(store_->ingest("dev-1", {a}).ok()) << "a batch resent after a lost answer";
  const auto rows = list();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].device_id, "dev-1");
  EXPECT_EQ(rows[0].sample.predictions.size(), 2u);
  EXPECT_TRUE(rows[0].sample.jpeg_base64.empty()) << "the image is answered on its own";
  auto jpeg = store_->image(a.id, false);
  ASSERT_TRUE(jpeg.ok());
  EXPECT_EQ(*jpeg, base64_decode(a.jpeg_base64).value());
  auto thumbnail = store_->image(a.id, true);
  ASSERT_TRUE(thumbnail.ok());
  EXPECT_TRUE(vision::decode_image(*thumbnail).ok());
  EXPECT_EQ(store_->get("dev-1/row-1/1").error().code, ErrorCode::kNotFound);
}

TEST_F(SampleStoreTest, IdenticalImagesAreStoredOnce) {
  api::Sample a = sample("dev-1", kT0), b = sample("dev-1", kT0 + 60'000);
  b.jpeg_base64 = a.jpeg_base64;
  ASSERT_TRUE(store_->ingest("dev-1", {a, b}).ok());
  EXPECT_EQ(list().size(), 2u);
  EXPECT_EQ(blob_files(), 2) << "one image and one thumbnail for both";
  auto stats = store_->stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->bytes, static_cast<std::int64_t>(base64_decode(a.jpeg_base64)->size()));
}

TEST_F(SampleStoreTest, EveryBadSampleIsRefusedAndNothingOfItsBatchIsStored) {
  const api::Sample good = sample("dev-1", kT0);
  auto refused = [&](api::Sample bad, ErrorCode code, const std::string& says) {
    Status stored = store_->ingest("dev-1", {good, bad});
    ASSERT_FALSE(stored.ok()) << says;
    EXPECT_EQ(stored.error().code, code) << stored.error().message;
    EXPECT_NE(stored.error().message.find(says), std::string::npos) << stored.error().message;
    EXPECT_TRUE(list().empty()) << "the good sample of the batch is not stored either";
  };
  api::Sample truncated = sample("dev-1", kT0 + 1);
  const std::string whole = base64_decode(truncated.jpeg_base64).value();
  truncated.jpeg_base64 = base64_encode(whole.substr(0, whole.size() / 2));
  refused(truncated, ErrorCode::kInvalidArgument, "truncated");

  api::Sample not_image = sample("dev-1", kT0 + 2);
  not_image.jpeg_base64 = base64_encode("GIF89a, or a shell script, or anything else");
  refused(not_image, ErrorCode::kInvalidArgument, "not a JPEG");
  not_image.jpeg_base64 = base64_encode(std::string("\xFF\xD8\xFF") + "no JPEG inside" + "\xFF\xD9");
  refused(not_image, ErrorCode::kInvalidArgument, "not an image");

  // An image, but a PNG: it would be answered as image/jpeg.
  api::Sample png = sample("dev-1", kT0 + 7);
  cv::Mat pixels(48, 64, CV_8UC3, cv::Scalar(40, 100, 60));
  png.jpeg_base64 = base64_encode(vision::encode_image(pixels, vision::ImageFormat::kPng).value());
  refused(png, ErrorCode::kInvalidArgument, "not a JPEG");

  api::Sample bad_base64 = sample("dev-1", kT0 + 3);
  bad_base64.jpeg_base64 = "***";
  refused(bad_base64, ErrorCode::kInvalidArgument, "base64");

  // A JPEG header declaring 30000x30000 pixels: refused before any decoding.
  api::Sample bomb = sample("dev-1", kT0 + 4);
  std::string header = whole;
  const std::size_t sof = header.find("\xFF\xC0", 2);
  ASSERT_NE(sof, std::string::npos);
  header[sof + 5] = static_cast<char>(30000 >> 8), header[sof + 6] = static_cast<char>(30000 & 0xFF);
  header[sof + 7] = static_cast<char>(30000 >> 8), header[sof + 8] = static_cast<char>(30000 & 0xFF);
  bomb.jpeg_base64 = base64_encode(header);
  refused(bomb, ErrorCode::kTooLarge, "30000x30000");

  api::Sample wrong_size = sample("dev-1", kT0 + 5);
  wrong_size.width = 640;
  refused(wrong_size, ErrorCode::kInvalidArgument, "not the 640x48");

  refused(sample("dev-2", kT0 + 6), ErrorCode::kInvalidArgument, "under its own name");

  // A replay: an id already stored, with another image.
  ASSERT_TRUE(store_->ingest("dev-1", {good}).ok());
  api::Sample replay = sample("dev-1", kT0, 200);
  Status again = store_->ingest("dev-1", {replay});
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("replay"), std::string::npos);
  ASSERT_EQ(list().size(), 1u);
  EXPECT_EQ(store_->image(good.id, false).value(), base64_decode(good.jpeg_base64).value());
}

TEST_F(SampleStoreTest, QueriesFilterByWhatASampleSaysAndPageNewestFirst) {
  ASSERT_TRUE(store_
                  ->ingest("dev-1", {sample("dev-1", kT0, 10, "uncertainty", "diseased", 0.3),
                                     sample("dev-1", kT0 + 1000, 20, "novelty", "water_stressed", 0.7)})
                  .ok());
  api::Sample random = sample("dev-2", kT0 + 2000, 30, "random", "diseased", 0.95);
  random.random = true;
  random.field = "south";
  ASSERT_TRUE(store_->ingest("dev-2", {random}).ok());

  EXPECT_EQ(list().size(), 3u);
  EXPECT_EQ(list().front().sample.captured_ms, kT0 + 2000) << "newest first";
  EXPECT_EQ(list(where([](api::SampleQuery& q) { q.device_id = "dev-1"; })).size(), 2u);
  EXPECT_EQ(list(where([](api::SampleQuery& q) { q.field = "south"; })).size(), 1u);
  EXPECT_EQ(list(where([](api::SampleQuery& q) { q.strategy = "novelty"; })).size(), 1u);
  EXPECT_EQ(list(where([](api::SampleQuery& q) { q.predicted_class = "diseased"; })).size(), 2u);
  EXPECT_EQ(list(where([](api::SampleQuery& q) {
              q.predicted_class = "diseased";
              q.min_score = 0.5;
            })).size(),
            1u);
  EXPECT_EQ(list(where([](api::SampleQuery& q) { q.random = true; })).size(), 1u);
  EXPECT_EQ(list(where([](api::SampleQuery& q) { q.random = false; })).size(), 2u);
  EXPECT_EQ(list(where([](api::SampleQuery& q) { q.since_ms = kT0 + 1000; })).size(), 2u);
  EXPECT_EQ(list(where([](api::SampleQuery& q) { q.until_ms = kT0 + 1000; })).size(), 1u);
  EXPECT_EQ(list(where([](api::SampleQuery& q) { q.model = "detector:1"; })).size(), 0u);
  const auto first = list(where([](api::SampleQuery& q) { q.limit = 2; }));
  ASSERT_EQ(first.size(), 2u);
  const auto second = list(where([&](api::SampleQuery& q) {
    q.before = first.back().sample.id;
    q.limit = 2;
  }));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].sample.captured_ms, kT0);
  EXPECT_EQ(store_->list(where([](api::SampleQuery& q) { q.before = "dev-9/x/1"; })).error().code,
            ErrorCode::kNotFound);

  auto stats = store_->stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->samples, 3);
  EXPECT_EQ(stats->random, 1);
  EXPECT_EQ(stats->by_strategy.at("uncertainty"), 1);
  EXPECT_EQ(stats->by_device.at("dev-1"), 2);
  EXPECT_EQ(stats->by_predicted_class.at("healthy"), 2) << "the top box of a sample";
  EXPECT_EQ(stats->by_predicted_class.at("diseased"), 1);
}

TEST_F(SampleStoreTest, QuotasRefuseWhatADeviceSendsBeyondThem) {
  SampleStoreOptions options;
  options.max_samples_per_device = 2;
  reopen(options);
  ASSERT_TRUE(store_->ingest("dev-1", {sample("dev-1", kT0), sample("dev-1", kT0 + 1)}).ok());
  Status over = store_->ingest("dev-1", {sample("dev-1", kT0 + 2)});
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::kTooLarge);
  EXPECT_TRUE(store_->ingest("dev-2", {sample("dev-2", kT0 + 2)}).ok()) << "another device has its own";
  options.max_samples_per_device = 100;
  options.max_bytes_per_device = 100;  // less than one image
  reopen(options);
  EXPECT_EQ(store_->ingest("dev-3", {sample("dev-3", kT0)}).error().code, ErrorCode::kTooLarge);
}

TEST_F(SampleStoreTest, RetentionExpiresUnlabeledSamplesAndKeepsUnderTheSizeCap) {
  SampleStoreOptions options;
  options.unlabeled_ttl_ms = 10 * kDay;
  reopen(options);
  ASSERT_TRUE(store_->ingest("dev-1", {sample("dev-1", kT0, 10)}).ok());
  clock_.advance_ms(5 * kDay);
  ASSERT_TRUE(store_->ingest("dev-1", {sample("dev-1", kT0 + 1, 20), sample("dev-1", kT0 + 2, 30)}).ok());
  const std::int64_t before = blob_files();
  clock_.advance_ms(6 * kDay);
  EXPECT_EQ(store_->prune().value(), 1) << "the first is 11 days old";
  EXPECT_EQ(list().size(), 2u);
  EXPECT_EQ(blob_files(), before - 2) << "its image and thumbnail went with it";

  // A cap below two images: the oldest goes.
  const std::int64_t image_bytes = list().front().image_bytes;
  options.max_total_bytes = image_bytes + image_bytes / 2;
  reopen(options);
  EXPECT_EQ(store_->prune().value(), 1);
  ASSERT_EQ(list().size(), 1u);
  EXPECT_EQ(list().front().sample.captured_ms, kT0 + 2);
}

TEST_F(SampleStoreTest, ABlobLeftByAFailedIngestIsSweptAtTheNextOpen) {
  ASSERT_TRUE(store_->ingest("dev-1", {sample("dev-1", kT0)}).ok());
  const auto orphan = dir_.path() / "samples" / "blobs" / "sha256" / "ab" / (std::string(64, 'a') + ".zip");
  std::filesystem::create_directories(orphan.parent_path());
  testing::write_bytes(orphan, "left behind");
  reopen();
  EXPECT_FALSE(std::filesystem::exists(orphan));
  EXPECT_EQ(list().size(), 1u);
  EXPECT_TRUE(store_->image(list().front().sample.id, false).ok());
}

}  // namespace
}  // namespace canopy::server
