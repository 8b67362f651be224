#include "collect/image_signature.h"

#include <bit>
#include <cmath>
#include <cstdio>
#include <opencv2/imgproc.hpp>

namespace canopy::collect {

std::uint64_t perceptual_hash(const cv::Mat& bgr) {
  cv::Mat grey, small;
  if (bgr.channels() == 3)
    cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
  else
    grey = bgr;
  cv::resize(grey, small, cv::Size(9, 8), 0, 0, cv::INTER_AREA);
  std::uint64_t hash = 0;
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x)
      hash = (hash << 1) | (small.at<std::uint8_t>(y, x) > small.at<std::uint8_t>(y, x + 1) ? 1u : 0u);
  return hash;
}

int hamming_distance(std::uint64_t a, std::uint64_t b) { return std::popcount(a ^ b); }

std::string hash_hex(std::uint64_t hash) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

std::optional<std::uint64_t> parse_hash_hex(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  std::uint64_t hash = 0;
  for (char c : text) {
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return std::nullopt;
    hash = (hash << 4) | static_cast<std::uint64_t>(digit);
  }
  return hash;
}

Embedding colour_embedding(const cv::Mat& bgr) {
  cv::Mat colour, small;
  if (bgr.channels() == 1)
    cv::cvtColor(bgr, colour, cv::COLOR_GRAY2BGR);
  else
    colour = bgr;
  cv::resize(colour, small, cv::Size(4, 4), 0, 0, cv::INTER_AREA);
  Embedding e{};
  double mean = 0;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) {
        const float v = small.at<cv::Vec3b>(y, x)[c];
        e[(y * 4 + x) * 3 + c] = v;
        mean += v;
      }
  mean /= kEmbeddingSize;
  double norm = 0;
  for (float& v : e) {
    v = static_cast<float>(v - mean);
    norm += static_cast<double>(v) * v;
  }
  norm = std::sqrt(norm);
  // A flat frame (all one colour) has no direction: it stays the zero vector.
  if (norm > 1e-6)
    for (float& v : e) v = static_cast<float>(v / norm);
  return e;
}

double embedding_distance(const Embedding& a, const Embedding& b) {
  double sum = 0;
  for (int i = 0; i < kEmbeddingSize; ++i) sum += (static_cast<double>(a[i]) - b[i]) * (a[i] - b[i]);
  return std::min(1.0, std::sqrt(sum) / 2);
}

ImageSignature sign_image(const cv::Mat& bgr) { return {perceptual_hash(bgr), colour_embedding(bgr)}; }

}  // namespace canopy::collect
