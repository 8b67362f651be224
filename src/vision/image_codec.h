// JPEG (libjpeg-turbo) and PNG (libpng) in memory, to and from 8-bit BGR
// cv::Mat. These two libraries rather than OpenCV's imgcodecs: Debian's
// imgcodecs links GDAL, Poppler, HDF5 and 130 more libraries, which cost an
// edge device about 40 MB of resident memory for formats it never sees.
// Untrusted bytes are bounded (100 megapixels) and any decoder complaint is
// an Error. Thread-safety: the functions are stateless; an ImageDecoder is
// used by one thread at a time.
#pragma once

#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <string_view>

#include "common/error.h"

namespace canopy::vision {

enum class ImageFormat { kJpeg, kPng };

Result<cv::Mat> decode_image(std::string_view bytes);
// Width and height from the header alone, without decoding pixels. `bytes`
// may be just the start of the file, as long as it holds the whole header.
Result<cv::Size> decode_image_size(std::string_view bytes);
// Whether the bytes stop before the image's end: a JPEG without its end
// marker, a PNG without its IEND chunk. The JPEG decoder tolerates such a
// file (it fills the missing rows with grey); a camera frame like that is
// better refused than judged.
bool is_truncated_image(std::string_view bytes);
// Decodes frame after frame with one libjpeg-turbo handle and into one
// buffer, so that frames of a steady size cost no allocation after the
// first. A JPEG can be decoded at a reduced size: libjpeg-turbo scales by
// 1/2, 1/4 or 1/8 inside its inverse DCT, which costs less than decoding
// the whole image and shrinking it afterwards.
class ImageDecoder {
 public:
  ImageDecoder();
  ~ImageDecoder();
  ImageDecoder(const ImageDecoder&) = delete;
  ImageDecoder& operator=(const ImageDecoder&) = delete;

  // As decode_image_size.
  Result<cv::Size> size(std::string_view bytes);
  // Decodes `bytes` to 8-bit BGR at the smallest of the JPEG's sizes (1,
  // 1/2, 1/4, 1/8 of each side) that is at least `at_least` in both
  // dimensions, or at full size when none of the smaller ones is; a PNG is
  // always decoded at full size. The default decodes at full size. Errors as
  // decode_image. The image shares the decoder's buffer: its pixels change
  // at the next decode (clone it to keep them).
  Result<cv::Mat> decode(std::string_view bytes, cv::Size at_least = {1 << 30, 1 << 30});

 private:
  struct Jpeg;
  std::unique_ptr<Jpeg> jpeg_;
  cv::Mat buffer_;
};

Result<std::string> encode_image(const cv::Mat& bgr, ImageFormat format, int jpeg_quality = 90);

// The EXIF orientation of a JPEG (1-8: how the stored pixels must be turned
// to stand upright, as cameras and phones record it), 1 when the bytes hold
// none or are no JPEG. `bytes` may be just the start of the file.
int jpeg_orientation(std::string_view bytes);
// Whether `orientation` turns the image a quarter (5-8): width and height swap.
inline bool orientation_swaps_sides(int orientation) { return orientation >= 5 && orientation <= 8; }
// `image` turned upright from EXIF `orientation`.
cv::Mat apply_orientation(const cv::Mat& image, int orientation);

}  // namespace canopy::vision
