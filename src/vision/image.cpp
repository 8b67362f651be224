#include "vision/image.h"

#include "common/files.h"
#include "vision/image_codec.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace canopy::vision {

Result<cv::Mat> read_image(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return make_error(ErrorCode::kNotFound, "cannot open image " + path.string());
  CANOPY_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  auto image = decode_image(bytes);
  if (!image.ok()) return image.error().with_context(path.string());
  return apply_orientation(*image, jpeg_orientation(bytes));
}

Result<cv::Size> read_image_size(const std::filesystem::path& path) {
  constexpr std::streamsize kHeaderBytes = 64 * 1024;
  std::ifstream file(path, std::ios::binary);
  if (!file) return make_error(ErrorCode::kNotFound, "cannot open image " + path.string());
  std::string head(kHeaderBytes, '\0');
  file.read(head.data(), kHeaderBytes);
  head.resize(static_cast<size_t>(file.gcount()));
  auto size = decode_image_size(head);
  if (!size.ok() && file.gcount() == kHeaderBytes) {
    CANOPY_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
    size = decode_image_size(bytes);
  }
  if (!size.ok()) return size.error().with_context(path.string());
  // The EXIF block comes before the frame header, so `head` holds it too.
  if (orientation_swaps_sides(jpeg_orientation(head))) return cv::Size(size->height, size->width);
  return size;
}

Status write_image(const std::filesystem::path& path, const cv::Mat& image) {
  std::string extension = path.extension().string();
  for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool png = extension == ".png";
  if (!png && extension != ".jpg" && extension != ".jpeg")
    return make_error(ErrorCode::kInvalidArgument, path.string() + ": write .jpg or .png images");
  CANOPY_ASSIGN_OR_RETURN(std::string bytes, encode_image(image, png ? ImageFormat::kPng : ImageFormat::kJpeg));
  return write_file_atomic(path, bytes);
}

cv::Size fitted_size(cv::Size image, int width, int height, bool letterbox, Placement& placement) {
  if (!letterbox) {
    placement = {static_cast<float>(width) / static_cast<float>(image.width),
                 static_cast<float>(height) / static_cast<float>(image.height), 0, 0};
    return {width, height};
  }
  const float scale = std::min(static_cast<float>(width) / static_cast<float>(image.width),
                               static_cast<float>(height) / static_cast<float>(image.height));
  const int new_w = std::max(1, static_cast<int>(std::round(static_cast<float>(image.width) * scale)));
  const int new_h = std::max(1, static_cast<int>(std::round(static_cast<float>(image.height) * scale)));
  const int left = (width - new_w) / 2, top = (height - new_h) / 2;
  placement = {scale, scale, static_cast<float>(left), static_cast<float>(top)};
  return {new_w, new_h};
}

cv::Mat fit_to_input(const cv::Mat& image, int width, int height, bool letterbox, Placement& placement) {
  const cv::Size size = fitted_size(image.size(), width, height, letterbox, placement);
  cv::Mat resized;
  cv::resize(image, resized, size, 0, 0, cv::INTER_LINEAR);
  if (!letterbox) return resized;
  const int left = static_cast<int>(placement.pad_x), top = static_cast<int>(placement.pad_y);
  cv::Mat out;
  cv::copyMakeBorder(resized, out, top, height - size.height - top, left, width - size.width - left,
                     cv::BORDER_CONSTANT, cv::Scalar(114, 114, 114));
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

InputWriter::InputWriter(int width, int height, bool letterbox, const Normalization& n)
    : width_(width), height_(height), letterbox_(letterbox), rgb_(n.rgb) {
  for (int c = 0; c < 3; ++c) {
    gain_[c] = n.scale / n.std[c];
    offset_[c] = -n.mean[c] / n.std[c];
  }
}

Placement InputWriter::write(const cv::Mat& image, float* out) {
  Placement placement;
  const cv::Size size = fitted_size(image.size(), width_, height_, letterbox_, placement);
  const cv::Mat* fitted = &image;
  if (image.size() != size) {
    cv::resize(image, resized_, size, 0, 0, cv::INTER_LINEAR);
    fitted = &resized_;
  }
  cv::split(*fitted, channels_.data());
  const int left = static_cast<int>(placement.pad_x), top = static_cast<int>(placement.pad_y);
  const std::size_t plane = static_cast<std::size_t>(width_) * static_cast<std::size_t>(height_);
  for (int c = 0; c < 3; ++c) {
    float* target = out + static_cast<std::size_t>(c) * plane;
    // The padding: whole rows above and below, the sides of the rows between.
    const float grey = 114 * gain_[c] + offset_[c];
    std::fill(target, target + static_cast<std::ptrdiff_t>(top) * width_, grey);
    std::fill(target + static_cast<std::ptrdiff_t>(top + size.height) * width_, target + plane, grey);
    if (size.width < width_)
      for (int y = top; y < top + size.height; ++y) {
        float* row = target + static_cast<std::ptrdiff_t>(y) * width_;
        std::fill(row, row + left, grey);
        std::fill(row + left + size.width, row + width_, grey);
      }
    // A header over the image's place in the plane: convertTo writes there,
    // since its size and type already match.
    cv::Mat place(size, CV_32F, target + static_cast<std::ptrdiff_t>(top) * width_ + left,
                  static_cast<std::size_t>(width_) * sizeof(float));
    // OpenCV holds BGR; channel c of an RGB model is BGR channel 2 - c.
    channels_[static_cast<std::size_t>(rgb_ ? 2 - c : c)].convertTo(place, CV_32F, gain_[c], offset_[c]);
  }
  return placement;
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
