// Training augmentation: boxes move with the pixels and stay in the image.
#include "vision/augment.h"

#include <gtest/gtest.h>

namespace canopy::vision {
namespace {

LabeledImage test_image() {
  LabeledImage item;
  item.image = cv::Mat(200, 400, CV_8UC3, cv::Scalar(10, 20, 30));
  item.boxes = {{100, 50, 140, 90}, {300, 100, 380, 180}};
  item.labels = {0, 2};
  return item;
}

TEST(Augment, NoneIsAPlainLetterbox) {
  std::mt19937_64 random(1);
  const LabeledImage placed = augment(test_image(), 320, AugmentOptions::none(), random);
  ASSERT_EQ(placed.image.size(), cv::Size(320, 320));
  // Scale 0.8, padded by (320 - 160) / 2 = 80 vertically.
  ASSERT_EQ(placed.boxes.size(), 2u);
  EXPECT_NEAR(placed.boxes[0].x1, 80, 1e-3);
  EXPECT_NEAR(placed.boxes[0].y1, 120, 1e-3);
  EXPECT_NEAR(placed.boxes[1].x2, 304, 1e-3);
  EXPECT_NEAR(placed.boxes[1].y2, 224, 1e-3);
  EXPECT_EQ(placed.labels, (std::vector<int>{0, 2}));
  EXPECT_EQ(placed.image.at<cv::Vec3b>(0, 0), cv::Vec3b(114, 114, 114));
}

TEST(Augment, FlipsMoveBoxesWithThePixels) {
  AugmentOptions flip = AugmentOptions::none();
  flip.flip_horizontal = 1;
  LabeledImage source = test_image();
  source.image(cv::Rect(100, 50, 40, 40)).setTo(cv::Scalar(255, 255, 255));
  std::mt19937_64 random(1);
  const LabeledImage flipped = augment(source, 320, flip, random);
  const Box& b = flipped.boxes[0];
  EXPECT_NEAR(b.x1, 320 - 80 - 32, 1e-3);
  // The white square is where the box says.
  EXPECT_EQ(flipped.image.at<cv::Vec3b>(int((b.y1 + b.y2) / 2), int((b.x1 + b.x2) / 2)),
            cv::Vec3b(255, 255, 255));
}

TEST(Augment, EveryAugmentationKeepsBoxesInsideTheImage) {
  AugmentOptions all;
  all.mosaic = 0.5;
  all.blur = all.noise = 0.5;
  std::mt19937_64 random(9);
  for (int i = 0; i < 200; ++i) {
    const LabeledImage out = augment(test_image(), 160, all, random, [] { return test_image(); });
    ASSERT_EQ(out.image.size(), cv::Size(160, 160));
    ASSERT_EQ(out.boxes.size(), out.labels.size());
    for (const Box& b : out.boxes) {
      EXPECT_GE(b.x1, 0);
      EXPECT_GE(b.y1, 0);
      EXPECT_LE(b.x2, 160);
      EXPECT_LE(b.y2, 160);
      EXPECT_GE(b.width(), 3);
    }
  }
}

}  // namespace
}  // namespace canopy::vision
