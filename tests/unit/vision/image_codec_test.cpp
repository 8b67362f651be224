// JPEG and PNG in memory: what the decoder accepts, and the truncation a
// camera frame is refused for even though the JPEG decoder would fill it in.
#include "vision/image_codec.h"

#include <gtest/gtest.h>

namespace canopy::vision {
namespace {

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

}  // namespace
}  // namespace canopy::vision
