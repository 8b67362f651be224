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

namespace {

// A TIFF integer of `size` bytes at `at`, in the byte order the header named.
std::uint32_t tiff_int(std::string_view tiff, std::size_t at, int size, bool little_endian) {
  std::uint32_t value = 0;
  for (int i = 0; i < size; ++i) {
    const auto byte = static_cast<unsigned char>(tiff[at + static_cast<std::size_t>(i)]);
    value |= static_cast<std::uint32_t>(byte) << (8 * (little_endian ? i : size - 1 - i));
  }
  return value;
}

// Tag 0x0112 of IFD0 in an Exif block's TIFF data; 1 when absent or out of range.
int orientation_in_tiff(std::string_view tiff) {
  if (tiff.size() < 8) return 1;
  const bool little_endian = tiff.substr(0, 2) == "II";
  if (!little_endian && tiff.substr(0, 2) != "MM") return 1;
  const std::uint32_t ifd = tiff_int(tiff, 4, 4, little_endian);
  if (ifd + 2 > tiff.size()) return 1;
  const std::uint32_t entries = tiff_int(tiff, ifd, 2, little_endian);
  for (std::uint32_t i = 0; i < entries; ++i) {
    const std::size_t entry = ifd + 2 + 12 * std::size_t{i};
    if (entry + 12 > tiff.size()) return 1;
    if (tiff_int(tiff, entry, 2, little_endian) != 0x0112) continue;
    const std::uint32_t value = tiff_int(tiff, entry + 8, 2, little_endian);
    return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
  }
  return 1;
}

}  // namespace

int jpeg_orientation(std::string_view bytes) {
  if (bytes.size() < 4 || static_cast<unsigned char>(bytes[0]) != 0xFF || static_cast<unsigned char>(bytes[1]) != 0xD8)
    return 1;
  std::size_t at = 2;
  // Segments up to the image data: APP1 "Exif" comes before it.
  while (at + 4 <= bytes.size() && static_cast<unsigned char>(bytes[at]) == 0xFF) {
    const auto marker = static_cast<unsigned char>(bytes[at + 1]);
    if (marker == 0xDA || marker == 0xD9) break;  // start of scan, end of image
    const std::size_t length = (static_cast<unsigned char>(bytes[at + 2]) << 8) | static_cast<unsigned char>(bytes[at + 3]);
    if (length < 2 || at + 2 + length > bytes.size()) break;
    const std::string_view segment = bytes.substr(at + 4, length - 2);
    if (marker == 0xE1 && segment.size() > 6 && segment.substr(0, 6) == std::string_view("Exif\0\0", 6))
      return orientation_in_tiff(segment.substr(6));
    at += 2 + length;
  }
  return 1;
}

cv::Mat apply_orientation(const cv::Mat& image, int orientation) {
  cv::Mat out;
  switch (orientation) {
    case 2:
      cv::flip(image, out, 1);
      return out;
    case 3:
      cv::rotate(image, out, cv::ROTATE_180);
      return out;
    case 4:
      cv::flip(image, out, 0);
      return out;
    case 5:
      cv::transpose(image, out);
      return out;
    case 6:
      cv::rotate(image, out, cv::ROTATE_90_CLOCKWISE);
      return out;
    case 7:
      cv::transpose(image, out);
      cv::rotate(out, out, cv::ROTATE_180);
      return out;
    case 8:
      cv::rotate(image, out, cv::ROTATE_90_COUNTERCLOCKWISE);
      return out;
    default:
      return image;
  }
}

}  // namespace canopy::vision
