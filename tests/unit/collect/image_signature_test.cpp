#include "collect/image_signature.h"

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

namespace canopy::collect {
namespace {

// A field-like frame: soil with rows of green plants, one of them `tint`.
cv::Mat scene(cv::Scalar tint = {40, 160, 60}, int shift = 0, double brightness = 1.0) {
  cv::Mat frame(240, 320, CV_8UC3, cv::Scalar(40, 70, 110));
  for (int row = 0; row < 3; ++row)
    for (int col = 0; col < 5; ++col)
      cv::circle(frame, {30 + col * 60 + shift, 50 + row * 70}, 22,
                 row == 1 && col == 2 ? tint : cv::Scalar(40, 160, 60), cv::FILLED);
  frame.convertTo(frame, -1, brightness, 0);
  return frame;
}

TEST(ImageSignatureTest, TheSameSceneDarkerOrShiftedIsANearDuplicate) {
  const std::uint64_t base = perceptual_hash(scene());
  EXPECT_EQ(hamming_distance(base, perceptual_hash(scene())), 0);
  EXPECT_LE(hamming_distance(base, perceptual_hash(scene({40, 160, 60}, 0, 0.6))), 4);
  EXPECT_LE(hamming_distance(base, perceptual_hash(scene({40, 160, 60}, 3))), 10);
}

TEST(ImageSignatureTest, ADifferentSceneIsFarInHashAndEmbedding) {
  cv::Mat other(240, 320, CV_8UC3, cv::Scalar(200, 200, 200));
  cv::rectangle(other, {0, 120, 320, 120}, cv::Scalar(20, 20, 20), cv::FILLED);
  EXPECT_GT(hamming_distance(perceptual_hash(scene()), perceptual_hash(other)), 10);
  EXPECT_GT(embedding_distance(colour_embedding(scene()), colour_embedding(other)), 0.3);
}

TEST(ImageSignatureTest, TheEmbeddingIgnoresBrightnessButSeesAPlantChangeColour) {
  const Embedding base = colour_embedding(scene());
  EXPECT_LT(embedding_distance(base, colour_embedding(scene({40, 160, 60}, 0, 0.7))), 0.05);
  const double sick = embedding_distance(base, colour_embedding(scene({30, 90, 150})));
  EXPECT_GT(sick, 0.05);
  EXPECT_LE(sick, 1.0);
  EXPECT_EQ(embedding_distance(base, base), 0);
}

TEST(ImageSignatureTest, AFlatFrameHasAZeroEmbeddingAndGreyInputWorks) {
  cv::Mat flat(50, 50, CV_8UC3, cv::Scalar(90, 90, 90));
  for (float v : colour_embedding(flat)) EXPECT_EQ(v, 0);
  cv::Mat grey;
  cv::cvtColor(scene(), grey, cv::COLOR_BGR2GRAY);
  EXPECT_EQ(perceptual_hash(grey), perceptual_hash(scene()));
}

TEST(ImageSignatureTest, HashHexRoundTripsAndRefusesAnythingElse) {
  EXPECT_EQ(hash_hex(0x0123456789abcdefull), "0123456789abcdef");
  EXPECT_EQ(parse_hash_hex("0123456789abcdef"), 0x0123456789abcdefull);
  EXPECT_FALSE(parse_hash_hex("0123456789ABCDEF"));
  EXPECT_FALSE(parse_hash_hex("0123"));
  EXPECT_FALSE(parse_hash_hex("0123456789abcdeg"));
}

}  // namespace
}  // namespace canopy::collect
