// JPEG and PNG in memory: what the decoder accepts, the truncation a
// camera frame is refused for even though the JPEG decoder would fill it in,
// and decoding at a reduced size against decoding whole and shrinking.
#include "vision/image_codec.h"

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

namespace canopy::vision {
namespace {

// A field-like picture: smooth light, a few plants, sensor grain.
cv::Mat scene(int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      image.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uchar>(40 + 60 * x / width), static_cast<uchar>(70 + 50 * y / height), 110);
  for (int i = 0; i < 6; ++i)
    cv::circle(image, {width * (i + 1) / 7, height / 2 + (i % 2 ? height / 5 : -height / 5)}, height / 9,
               cv::Scalar(30, 170 + 10 * i, 40), cv::FILLED);
  cv::Mat grain(image.size(), CV_16SC3);
  cv::RNG(7).fill(grain, cv::RNG::NORMAL, 0, 4);
  cv::Mat noisy;
  cv::add(image, grain, noisy, cv::noArray(), CV_8UC3);
  return noisy;
}

TEST(ImageCodecTest, ATruncatedFrameIsToldFromAWholeOne) {
  cv::Mat image(40, 60, CV_8UC3, cv::Scalar(30, 120, 200));
  for (ImageFormat format : {ImageFormat::kJpeg, ImageFormat::kPng}) {
    const std::string whole = *encode_image(image, format);
    EXPECT_FALSE(is_truncated_image(whole));
    EXPECT_FALSE(is_truncated_image(whole + std::string(4, '\0'))) << "padding after the end";
    EXPECT_TRUE(is_truncated_image(whole.substr(0, whole.size() / 2)));
    EXPECT_TRUE(is_truncated_image(whole.substr(0, whole.size() - 1)));
  }
  EXPECT_FALSE(is_truncated_image("not an image")) << "not an image is the decoder's error to give";
}

TEST(ImageDecoderTest, DecodesAJpegAtTheSmallestScaleThatIsAtLeastTheSizeAsked) {
  const std::string jpeg = *encode_image(scene(640, 480), ImageFormat::kJpeg);
  ImageDecoder decoder;
  ASSERT_EQ(*decoder.size(jpeg), cv::Size(640, 480));
  const std::pair<cv::Size, cv::Size> cases[] = {
      {{320, 240}, {320, 240}}, {{321, 240}, {640, 480}}, {{320, 180}, {320, 240}}, {{1, 1}, {80, 60}},
      {{100, 100}, {160, 120}}, {{640, 480}, {640, 480}}, {{2000, 10}, {640, 480}},
  };
  for (const auto& [at_least, expected] : cases) {
    auto image = decoder.decode(jpeg, at_least);
    ASSERT_TRUE(image.ok()) << image.error().message;
    EXPECT_EQ(image->size(), expected) << "at least " << at_least;
    EXPECT_EQ(image->type(), CV_8UC3);
  }
  EXPECT_EQ(decoder.decode(jpeg)->size(), cv::Size(640, 480)) << "full size unless asked otherwise";
  // Sides that do not divide: libjpeg-turbo rounds the scaled size up.
  const std::string odd = *encode_image(scene(641, 479), ImageFormat::kJpeg);
  EXPECT_EQ(decoder.decode(odd, {320, 240})->size(), cv::Size(321, 240));
  const std::string png = *encode_image(scene(64, 48), ImageFormat::kPng);
  EXPECT_EQ(decoder.decode(png, {8, 6})->size(), cv::Size(64, 48)) << "a PNG has no reduced sizes";
}

TEST(ImageDecoderTest, AReducedDecodeMatchesAWholeDecodeShrunk) {
  const std::string jpeg = *encode_image(scene(640, 480), ImageFormat::kJpeg);
  const cv::Mat whole = *decode_image(jpeg);
  ImageDecoder decoder;
  for (int denominator : {2, 4}) {
    const cv::Size size(640 / denominator, 480 / denominator);
    const cv::Mat reduced = decoder.decode(jpeg, size)->clone();
    ASSERT_EQ(reduced.size(), size);
    cv::Mat shrunk;
    cv::resize(whole, shrunk, size, 0, 0, cv::INTER_AREA);
    cv::Mat difference;
    cv::absdiff(reduced, shrunk, difference);
    const cv::Scalar mean = cv::mean(difference);
    double worst = 0;
    cv::minMaxLoc(difference.reshape(1), nullptr, &worst);
    for (int c = 0; c < 3; ++c) EXPECT_LT(mean[c], 2.0) << "1/" << denominator << ", channel " << c;
    // Plant edges are where the inverse DCT's shrinking and a pixel
    // average differ most.
    EXPECT_LT(worst, 40) << "1/" << denominator;
  }
}

TEST(ImageDecoderTest, FramesOfOneSizeReuseTheBuffer) {
  ImageDecoder decoder;
  const std::string first = *encode_image(scene(320, 240), ImageFormat::kJpeg);
  const std::string second = *encode_image(scene(320, 240) * 0.8, ImageFormat::kJpeg);
  const cv::Mat a = *decoder.decode(first, {160, 120});
  const uchar* pixels = a.data;
  const cv::Mat b = *decoder.decode(second, {160, 120});
  EXPECT_EQ(b.data, pixels) << "no allocation for a frame of the same size";
  EXPECT_EQ(decoder.decode(first)->size(), cv::Size(320, 240)) << "a new size takes a new buffer";
}

TEST(ImageDecoderTest, RefusesWhatIsNotAnImageOrStopsInItsHeaderWithAClearError) {
  ImageDecoder decoder;
  const std::string jpeg = *encode_image(scene(64, 48), ImageFormat::kJpeg);
  const std::string png = *encode_image(scene(64, 48), ImageFormat::kPng);
  const std::pair<std::string, std::string> cases[] = {
      {"not an image at all", "only JPEG and PNG are supported"},
      {"", "only JPEG and PNG are supported"},
      {jpeg.substr(0, 20), "not a readable image"},
      {png.substr(0, 40), "not a readable image"},
  };
  for (const auto& [bytes, says] : cases) {
    for (cv::Size at_least : {cv::Size(1, 1), cv::Size(1 << 30, 1 << 30)}) {
      auto image = decoder.decode(bytes, at_least);
      ASSERT_FALSE(image.ok()) << bytes.size() << " bytes";
      EXPECT_NE(image.error().message.find(says), std::string::npos) << image.error().message;
    }
    EXPECT_FALSE(decoder.size(bytes).ok());
  }
  // A frame cut in its scan still decodes (grey rows), at any scale; the
  // camera loop refuses it by is_truncated_image first.
  const std::string cut = jpeg.substr(0, jpeg.size() * 2 / 3);
  EXPECT_TRUE(is_truncated_image(cut));
  EXPECT_TRUE(decoder.decode(cut, {16, 12}).ok());
  EXPECT_TRUE(decoder.decode(jpeg, {16, 12}).ok()) << "the decoder works after refusing";
}

}  // namespace
}  // namespace canopy::vision
