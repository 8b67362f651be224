// JPEG (libjpeg-turbo) and PNG (libpng) in memory, to and from 8-bit BGR
// cv::Mat. These two libraries rather than OpenCV's imgcodecs: Debian's
// imgcodecs links GDAL, Poppler, HDF5 and 130 more libraries, which cost an
// edge device about 40 MB of resident memory for formats it never sees.
// Untrusted bytes are bounded (100 megapixels) and any decoder complaint is
// an Error. Thread-safety: stateless.
#pragma once

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
Result<std::string> encode_image(const cv::Mat& bgr, ImageFormat format, int jpeg_quality = 90);

}  // namespace canopy::vision
