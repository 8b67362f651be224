#include "vision/image.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace canopy::vision {

namespace {

constexpr std::int64_t kMaxPixels = 100'000'000;

}  // namespace

Result<cv::Mat> read_image(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open image " + path.string());
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty()) return make_error(ErrorCode::kInvalidArgument, path.string() + " is empty");
  cv::Mat image;
  try {
    image = cv::imdecode(bytes, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    return make_error(ErrorCode::kInvalidArgument, path.string() + " is not a readable image: " + e.what());
  }
  if (image.empty()) return make_error(ErrorCode::kInvalidArgument, path.string() + " is not a readable image");
  if (static_cast<std::int64_t>(image.rows) * image.cols > kMaxPixels)
    return make_error(ErrorCode::kTooLarge, path.string() + " is larger than 100 megapixels");
  return image;
}

Status write_image(const std::filesystem::path& path, const cv::Mat& image) {
  try {
    if (!cv::imwrite(path.string(), image)) return make_error(ErrorCode::kIo, "cannot write image " + path.string());
  } catch (const cv::Exception& e) {
    return make_error(ErrorCode::kIo, "cannot write image " + path.string() + ": " + e.what());
  }
  return {};
}

cv::Mat fit_to_input(const cv::Mat& image, int width, int height, bool letterbox, Placement& placement) {
  cv::Mat out;
  if (!letterbox) {
    placement = {static_cast<float>(width) / static_cast<float>(image.cols),
                 static_cast<float>(height) / static_cast<float>(image.rows), 0, 0};
    cv::resize(image, out, cv::Size(width, height), 0, 0, cv::INTER_LINEAR);
    return out;
  }
  const float scale = std::min(static_cast<float>(width) / static_cast<float>(image.cols),
                               static_cast<float>(height) / static_cast<float>(image.rows));
  const int new_w = std::max(1, static_cast<int>(std::round(static_cast<float>(image.cols) * scale)));
  const int new_h = std::max(1, static_cast<int>(std::round(static_cast<float>(image.rows) * scale)));
  cv::Mat resized;
  cv::resize(image, resized, cv::Size(new_w, new_h), 0, 0, cv::INTER_LINEAR);
  const int left = (width - new_w) / 2, top = (height - new_h) / 2;
  cv::copyMakeBorder(resized, out, top, height - new_h - top, left, width - new_w - left, cv::BORDER_CONSTANT,
                     cv::Scalar(114, 114, 114));
  placement = {scale, scale, static_cast<float>(left), static_cast<float>(top)};
  return out;
}

Box to_image(const Box& box, const Placement& p, int image_width, int image_height) {
  auto clip = [](float v, int limit) { return std::min(std::max(v, 0.0f), static_cast<float>(limit)); };
  return Box{clip((box.x1 - p.pad_x) / p.scale, image_width), clip((box.y1 - p.pad_y) / p.scale_y, image_height),
             clip((box.x2 - p.pad_x) / p.scale, image_width), clip((box.y2 - p.pad_y) / p.scale_y, image_height)};
}

void to_nchw(const cv::Mat& image, const Normalization& n, float* out) {
  const int plane = image.rows * image.cols;
  for (int y = 0; y < image.rows; ++y) {
    const auto* row = image.ptr<cv::Vec3b>(y);
    for (int x = 0; x < image.cols; ++x) {
      for (int c = 0; c < 3; ++c) {
        // OpenCV holds BGR; channel c of an RGB model is BGR channel 2 - c.
        const int source = n.rgb ? 2 - c : c;
        out[c * plane + y * image.cols + x] = (static_cast<float>(row[x][source]) * n.scale - n.mean[c]) / n.std[c];
      }
    }
  }
}

void draw_detections(cv::Mat& image, const std::vector<Detection>& detections, const std::vector<std::string>& labels) {
  static const cv::Scalar colors[] = {{80, 200, 60}, {40, 40, 220}, {0, 190, 255}, {220, 120, 40}, {200, 60, 200}};
  for (const auto& d : detections) {
    const cv::Scalar color = colors[static_cast<size_t>(d.label) % 5];
    cv::rectangle(image, cv::Point(static_cast<int>(d.box.x1), static_cast<int>(d.box.y1)),
                  cv::Point(static_cast<int>(d.box.x2), static_cast<int>(d.box.y2)), color, 2);
    const std::string name = d.label >= 0 && static_cast<size_t>(d.label) < labels.size()
                                 ? labels[static_cast<size_t>(d.label)]
                                 : "class " + std::to_string(d.label);
    char text[128];
    std::snprintf(text, sizeof text, "%s %.2f", name.c_str(), d.score);
    cv::putText(image, text, cv::Point(static_cast<int>(d.box.x1), std::max(12, static_cast<int>(d.box.y1) - 4)),
                cv::FONT_HERSHEY_SIMPLEX, 0.45, color, 1);
  }
}

}  // namespace canopy::vision
