#include "vision/image_codec.h"

#include <png.h>
#include <turbojpeg.h>

#include <memory>

namespace canopy::vision {

namespace {

constexpr std::int64_t kMaxPixels = 100'000'000;

Error bad_image(const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument, "not a readable image: " + why);
}

using TurboHandle = std::unique_ptr<void, int (*)(tjhandle)>;

bool is_jpeg(std::string_view bytes) {
  return bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
         static_cast<unsigned char>(bytes[1]) == 0xD8;
}

bool is_png(std::string_view bytes) {
  return bytes.size() >= 8 && bytes.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8);
}

Result<cv::Mat> decode_png(std::string_view bytes, cv::Mat& buffer) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size())) return bad_image(png.message);
  if (static_cast<std::int64_t>(png.width) * png.height > kMaxPixels) {
    png_image_free(&png);
    return make_error(ErrorCode::kTooLarge, "image is larger than 100 megapixels");
  }
  png.format = PNG_FORMAT_BGR;
  buffer.create(static_cast<int>(png.height), static_cast<int>(png.width), CV_8UC3);
  if (!png_image_finish_read(&png, nullptr, buffer.data, 0, nullptr)) return bad_image(png.message);
  return buffer;
}

Result<cv::Size> png_size(std::string_view bytes) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size())) return bad_image(png.message);
  cv::Size size(static_cast<int>(png.width), static_cast<int>(png.height));
  png_image_free(&png);
  return size;
}

}  // namespace

struct ImageDecoder::Jpeg {
  TurboHandle handle{tjInitDecompress(), tjDestroy};
};

ImageDecoder::ImageDecoder() : jpeg_(std::make_unique<Jpeg>()) {}
ImageDecoder::~ImageDecoder() = default;

Result<cv::Size> ImageDecoder::size(std::string_view bytes) {
  if (is_png(bytes)) return png_size(bytes);
  if (!is_jpeg(bytes)) return bad_image("only JPEG and PNG are supported");
  tjhandle handle = jpeg_->handle.get();
  if (!handle) return make_error(ErrorCode::kInternal, "cannot start the JPEG decoder");
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), &width,
                          &height, &subsampling, &colorspace) != 0)
    return bad_image(tjGetErrorStr2(handle));
  // libjpeg-turbo reads a header cut short as an empty image.
  if (width <= 0 || height <= 0) return bad_image("the JPEG header is incomplete");
  return cv::Size(width, height);
}

Result<cv::Mat> ImageDecoder::decode(std::string_view bytes, cv::Size at_least) {
  if (is_png(bytes)) return decode_png(bytes, buffer_);
  CANOPY_ASSIGN_OR_RETURN(const cv::Size full, size(bytes));
  if (static_cast<std::int64_t>(full.width) * full.height > kMaxPixels)
    return make_error(ErrorCode::kTooLarge, "image is larger than 100 megapixels");
  // Only the power-of-two factors: for the others (3/8, 5/8, ...)
  // libjpeg-turbo has no SIMD inverse DCTs.
  cv::Size scaled = full;
  for (int denominator : {8, 4, 2}) {
    const tjscalingfactor factor{1, denominator};
    const cv::Size candidate(TJSCALED(full.width, factor), TJSCALED(full.height, factor));
    if (candidate.width >= at_least.width && candidate.height >= at_least.height) {
      scaled = candidate;
      break;
    }
  }
  buffer_.create(scaled, CV_8UC3);
  tjhandle handle = jpeg_->handle.get();
  // libjpeg-turbo picks the largest scaling whose size fits the one asked
  // for, which is the factor `scaled` was computed with. A warning (a
  // frame cut short fills with grey) is not an error here: is_truncated_image
  // is how callers refuse those.
  if (tjDecompress2(handle, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), buffer_.data,
                    scaled.width, 0, scaled.height, TJPF_BGR, 0) != 0 &&
      tjGetErrorCode(handle) == TJERR_FATAL)
    return bad_image(tjGetErrorStr2(handle));
  return buffer_;
}

Result<cv::Mat> decode_image(std::string_view bytes) { return ImageDecoder().decode(bytes); }

Result<cv::Size> decode_image_size(std::string_view bytes) { return ImageDecoder().size(bytes); }

Result<std::string> encode_image(const cv::Mat& bgr, ImageFormat format, int jpeg_quality) {
  if (bgr.type() != CV_8UC3 || !bgr.isContinuous())
    return make_error(ErrorCode::kInvalidArgument, "only continuous 8-bit BGR images can be encoded");
  if (format == ImageFormat::kPng) {
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    png.width = static_cast<png_uint_32>(bgr.cols);
    png.height = static_cast<png_uint_32>(bgr.rows);
    png.format = PNG_FORMAT_BGR;
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&png, nullptr, &size, 0, bgr.data, 0, nullptr))
      return make_error(ErrorCode::kInternal, std::string("PNG encoding failed: ") + png.message);
    std::string out(size, '\0');
    if (!png_image_write_to_memory(&png, out.data(), &size, 0, bgr.data, 0, nullptr))
      return make_error(ErrorCode::kInternal, std::string("PNG encoding failed: ") + png.message);
    out.resize(size);
    return out;
  }
  TurboHandle handle(tjInitCompress(), tjDestroy);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  if (!handle || tjCompress2(handle.get(), bgr.data, bgr.cols, 0, bgr.rows, TJPF_BGR, &buffer, &size,
                             TJSAMP_420, jpeg_quality, 0) != 0) {
    tjFree(buffer);
    return make_error(ErrorCode::kInternal, "JPEG encoding failed");
  }
  std::string out(reinterpret_cast<char*>(buffer), size);
  tjFree(buffer);
  return out;
}

bool is_truncated_image(std::string_view bytes) {
  // Encoders may pad after the end: a few trailing zero bytes are allowed.
  std::size_t end = bytes.size();
  while (end > 0 && end + 16 > bytes.size() && bytes[end - 1] == '\0') --end;
  const std::string_view image = bytes.substr(0, end);
  if (image.starts_with("\xFF\xD8")) return !image.ends_with("\xFF\xD9");
  if (image.starts_with("\x89PNG")) return image.size() < 12 || image.substr(image.size() - 8, 4) != "IEND";
  return false;
}

}  // namespace canopy::vision
