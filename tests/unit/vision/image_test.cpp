// The input writer against the reference it replaces in the detector:
// fit_to_input then to_nchw, for letterbox and stretch, both channel
// orders, an image that needs resizing and one already at its size.
#include "vision/image.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace canopy::vision {
namespace {

cv::Mat noise(int width, int height, unsigned seed) {
  cv::Mat image(height, width, CV_8UC3);
  cv::RNG(seed).fill(image, cv::RNG::UNIFORM, 0, 256);
  return image;
}

struct Case {
  cv::Size image;
  int width, height;
  bool letterbox, rgb;
};

TEST(InputWriterTest, WritesWhatFitToInputAndToNchwWrite) {
  Normalization imagenet;
  imagenet.scale = 1.0f / 255;
  const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
  for (int c = 0; c < 3; ++c) {
    imagenet.mean[c] = mean[c];
    imagenet.std[c] = std[c];
  }
  const Case cases[] = {
      {{320, 240}, 320, 320, true, true},   // decoded at its size in the input: no resize
      {{640, 480}, 320, 320, true, true},   // shrunk, padded above and below
      {{640, 480}, 320, 320, true, false},  // the same for a BGR model
      {{100, 300}, 64, 64, true, true},     // padded left and right
      {{256, 256}, 64, 64, false, true},    // stretch
      {{300, 200}, 96, 64, false, false},   // stretch, a different aspect
      {{64, 64}, 64, 64, true, true},       // exactly the input
  };
  unsigned seed = 1;
  for (const Case& c : cases) {
    for (const Normalization& base : {Normalization{}, imagenet}) {
      Normalization n = base;
      n.rgb = c.rgb;
      const cv::Mat image = noise(c.image.width, c.image.height, seed++);
      const std::size_t size = 3 * static_cast<std::size_t>(c.width) * static_cast<std::size_t>(c.height);
      Placement expected_placement;
      const cv::Mat fitted = fit_to_input(image, c.width, c.height, c.letterbox, expected_placement);
      std::vector<float> expected(size);
      to_nchw(fitted, n, expected.data());

      InputWriter writer(c.width, c.height, c.letterbox, n);
      // Twice into one output that starts as garbage: every element is written each time.
      std::vector<float> out(size, std::numeric_limits<float>::quiet_NaN());
      for (int pass = 0; pass < 2; ++pass) {
        const Placement placement = writer.write(image, out.data());
        EXPECT_EQ(placement.scale, expected_placement.scale);
        EXPECT_EQ(placement.scale_y, expected_placement.scale_y);
        EXPECT_EQ(placement.pad_x, expected_placement.pad_x);
        EXPECT_EQ(placement.pad_y, expected_placement.pad_y);
        double worst = 0;
        for (std::size_t i = 0; i < size; ++i)
          worst = std::isnan(out[i]) ? INFINITY : std::max(worst, std::fabs(double{out[i]} - expected[i]));
        EXPECT_LT(worst, 1e-5) << c.image << " into " << c.width << "x" << c.height
                               << (c.letterbox ? " letterbox" : " stretch") << (c.rgb ? " RGB" : " BGR");
        std::fill(out.begin(), out.end(), std::numeric_limits<float>::quiet_NaN());
      }
    }
  }
}

}  // namespace
}  // namespace canopy::vision
