#include "vision/augment.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>

namespace canopy::vision {
namespace {

const cv::Scalar kPadColour(114, 114, 114);  // the letterbox grey, as at inference

double uniform(std::mt19937_64& random, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(random);
}
bool chance(std::mt19937_64& random, double p) { return p > 0 && uniform(random, 0, 1) < p; }

// Places `source` scaled by `scale` with its top-left at (dx, dy) on a
// width x height grey canvas; boxes follow.
LabeledImage place(const LabeledImage& source, double scale, double dx, double dy, int width, int height) {
  LabeledImage out;
  const cv::Matx23d transform(scale, 0, dx, 0, scale, dy);
  cv::warpAffine(source.image, out.image, transform, cv::Size(width, height), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                 kPadColour);
  out.labels = source.labels;
  out.boxes.reserve(source.boxes.size());
  for (const Box& b : source.boxes) {
    out.boxes.push_back({float(b.x1 * scale + dx), float(b.y1 * scale + dy), float(b.x2 * scale + dx),
                         float(b.y2 * scale + dy)});
  }
  return out;
}

// Clips boxes to the image and drops those mostly cut away.
void clip_boxes(LabeledImage& item) {
  const float w = float(item.image.cols), h = float(item.image.rows);
  std::vector<Box> boxes;
  std::vector<int> labels;
  for (size_t i = 0; i < item.boxes.size(); ++i) {
    const Box& b = item.boxes[i];
    const Box clipped{std::clamp(b.x1, 0.0f, w), std::clamp(b.y1, 0.0f, h), std::clamp(b.x2, 0.0f, w),
                      std::clamp(b.y2, 0.0f, h)};
    if (clipped.width() < 3 || clipped.height() < 3 || clipped.area() < 0.4f * b.area()) continue;
    boxes.push_back(clipped);
    labels.push_back(item.labels[i]);
  }
  item.boxes = std::move(boxes);
  item.labels = std::move(labels);
}

double letterbox_scale(const cv::Mat& image, int size) {
  return std::min(double(size) / image.cols, double(size) / image.rows);
}

// Letterbox with random extra scale and shift.
LabeledImage scale_and_translate(const LabeledImage& source, int size, const AugmentOptions& o, std::mt19937_64& random) {
  const double scale = letterbox_scale(source.image, size) * uniform(random, 1 - o.scale, 1 + o.scale);
  const double dx = (size - source.image.cols * scale) / 2 + uniform(random, -o.translate, o.translate) * size;
  const double dy = (size - source.image.rows * scale) / 2 + uniform(random, -o.translate, o.translate) * size;
  return place(source, scale, dx, dy, size, size);
}

// Four images around a random centre of a 2*size canvas, each at its
// letterbox scale, then a size x size window around the centre: objects keep
// their size, and every crop mixes backgrounds and neighbours.
LabeledImage mosaic(const LabeledImage& first, int size, std::mt19937_64& random,
                    const std::function<LabeledImage()>& another) {
  const int canvas = 2 * size;
  const double cx = uniform(random, 0.5 * size, 1.5 * size), cy = uniform(random, 0.5 * size, 1.5 * size);
  LabeledImage out;
  out.image = cv::Mat(canvas, canvas, CV_8UC3, kPadColour);
  for (int quadrant = 0; quadrant < 4; ++quadrant) {
    const LabeledImage tile = quadrant == 0 ? first : another();
    const double scale = letterbox_scale(tile.image, size);
    const double w = tile.image.cols * scale, h = tile.image.rows * scale;
    const double dx = (quadrant % 2 == 0) ? cx - w : cx, dy = (quadrant < 2) ? cy - h : cy;
    LabeledImage placed = place(tile, scale, dx, dy, canvas, canvas);
    const cv::Rect region = cv::Rect(int(dx), int(dy), int(w), int(h)) & cv::Rect(0, 0, canvas, canvas);
    placed.image(region).copyTo(out.image(region));
    out.boxes.insert(out.boxes.end(), placed.boxes.begin(), placed.boxes.end());
    out.labels.insert(out.labels.end(), placed.labels.begin(), placed.labels.end());
  }
  const int x0 = std::clamp(int(cx - size / 2.0), 0, canvas - size), y0 = std::clamp(int(cy - size / 2.0), 0, canvas - size);
  out.image = out.image(cv::Rect(x0, y0, size, size)).clone();
  for (Box& b : out.boxes) b = {b.x1 - x0, b.y1 - y0, b.x2 - x0, b.y2 - y0};
  return out;
}

void flip(LabeledImage& item, bool horizontal) {
  cv::flip(item.image, item.image, horizontal ? 1 : 0);
  const float w = float(item.image.cols), h = float(item.image.rows);
  for (Box& b : item.boxes) b = horizontal ? Box{w - b.x2, b.y1, w - b.x1, b.y2} : Box{b.x1, h - b.y2, b.x2, h - b.y1};
}

// Random gains on hue, saturation and value through one lookup table each.
void jitter_hsv(cv::Mat& image, const AugmentOptions& o, std::mt19937_64& random) {
  const double hue_gain = 1 + uniform(random, -o.hue, o.hue), sat_gain = 1 + uniform(random, -o.saturation, o.saturation),
               val_gain = 1 + uniform(random, -o.value, o.value);
  cv::Mat hsv;
  cv::cvtColor(image, hsv, cv::COLOR_BGR2HSV);
  cv::Mat lut(1, 256, CV_8UC3);
  for (int i = 0; i < 256; ++i) {
    lut.at<cv::Vec3b>(0, i) = cv::Vec3b(cv::saturate_cast<uchar>(int(i * hue_gain) % 180),
                                        cv::saturate_cast<uchar>(i * sat_gain), cv::saturate_cast<uchar>(i * val_gain));
  }
  cv::LUT(hsv, lut, hsv);
  cv::cvtColor(hsv, image, cv::COLOR_HSV2BGR);
}

}  // namespace

AugmentOptions AugmentOptions::none() {
  AugmentOptions o;
  o.flip_horizontal = o.flip_vertical = 0;
  o.hue = o.saturation = o.value = 0;
  o.scale = o.translate = 0;
  o.mosaic = o.blur = o.noise = 0;
  return o;
}

LabeledImage augment(const LabeledImage& source, int size, const AugmentOptions& o, std::mt19937_64& random,
                     const std::function<LabeledImage()>& another) {
  LabeledImage out = (another && chance(random, o.mosaic)) ? mosaic(source, size, random, another)
                                                           : scale_and_translate(source, size, o, random);
  clip_boxes(out);
  if (chance(random, o.flip_horizontal)) flip(out, true);
  if (chance(random, o.flip_vertical)) flip(out, false);
  if (o.hue > 0 || o.saturation > 0 || o.value > 0) jitter_hsv(out.image, o, random);
  if (chance(random, o.blur)) {
    const int k = std::uniform_int_distribution<int>(1, 2)(random) * 2 + 1;
    cv::GaussianBlur(out.image, out.image, cv::Size(k, k), 0);
  }
  if (chance(random, o.noise)) {
    cv::Mat noise(out.image.size(), CV_16SC3);
    cv::RNG rng(random());
    rng.fill(noise, cv::RNG::NORMAL, 0, uniform(random, 2, 8));
    cv::Mat widened;
    out.image.convertTo(widened, CV_16SC3);
    widened += noise;
    widened.convertTo(out.image, CV_8UC3);
  }
  return out;
}

}  // namespace canopy::vision
