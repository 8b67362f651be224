// Images for detection: decoding (libjpeg-turbo, libpng), letterbox resizing to the model's
// input size while keeping the aspect ratio, conversion to a normalized NCHW
// float tensor as the model's manifest says, and drawing detections.
// Thread-safety: pure functions over cv::Mat values; an InputWriter is used
// by one thread at a time.
#pragma once

#include <array>
#include <filesystem>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "vision/boxes.h"

namespace canopy::vision {

// Reads a JPEG or PNG file into an 8-bit BGR image (see image_codec.h),
// turned upright by its EXIF orientation: boxes of a dataset are drawn on
// the image as people and labeling tools see it, which is upright.
Result<cv::Mat> read_image(const std::filesystem::path& path);
// Width and height of a JPEG or PNG file from its header, upright (EXIF
// orientation 5-8 swaps them). Reads the first 64 KiB, and the whole file
// only when the header runs past them (a large EXIF block before a JPEG's
// frame header).
Result<cv::Size> read_image_size(const std::filesystem::path& path);
// Writes .jpg or .png (by extension), atomically.
Status write_image(const std::filesystem::path& path, const cv::Mat& image);

// How an image was placed into the model input, to map boxes back.
struct Placement {
  float scale = 1;           // model pixels per image pixel (x and y for stretch)
  float scale_y = 1;
  float pad_x = 0, pad_y = 0;
};

// Where an image of `image` pixels goes in a width x height input: the size
// it is resized to (all of the input for stretch) and its placement.
cv::Size fitted_size(cv::Size image, int width, int height, bool letterbox, Placement& placement);

// Resizes `image` to width x height: letterbox keeps the aspect ratio and
// pads with grey (114), stretch does not.
cv::Mat fit_to_input(const cv::Mat& image, int width, int height, bool letterbox, Placement& placement);

// Maps a box from model-input pixels back to the original image, clipped.
Box to_image(const Box& box, const Placement& placement, int image_width, int image_height);

struct Normalization {
  bool rgb = true;            // channel order the model expects
  float scale = 1.0f / 255;   // applied first
  float mean[3] = {0, 0, 0};
  float std[3] = {1, 1, 1};
};

// Writes `image` (8-bit BGR, already model-sized) into `out` as NCHW float:
// ((pixel * scale) - mean) / std per channel.
void to_nchw(const cv::Mat& image, const Normalization& normalization, float* out);

// fit_to_input then to_nchw, frame after frame, without allocating once its
// buffers have their size: the image is resized (only when its size is not
// already the one it takes in the input, as when it was decoded at that
// size), split into its channels, and each channel normalized straight into
// its place in the output; the padding is written around it. The result is
// fit_to_input and to_nchw's to float rounding.
class InputWriter {
 public:
  InputWriter(int width, int height, bool letterbox, const Normalization& normalization);

  // Writes `image` (8-bit BGR, any size) into `out`, 3 x height x width
  // floats. Returns where the image landed.
  Placement write(const cv::Mat& image, float* out);

 private:
  int width_, height_;
  bool letterbox_;
  bool rgb_;
  // ((pixel * scale) - mean) / std as pixel * gain + offset, per model channel.
  std::array<float, 3> gain_{}, offset_{};
  cv::Mat resized_;
  std::array<cv::Mat, 3> channels_;
};

// Draws boxes with their label names and scores.
void draw_detections(cv::Mat& image, const std::vector<Detection>& detections, const std::vector<std::string>& labels);

}  // namespace canopy::vision
