// What a frame looks like, in a few bytes, so that a device can tell a frame
// it already sent from one it has not:
// - a perceptual hash (a difference hash: 64 bits, one per pair of
//   neighbouring cells of a 9x8 grey thumbnail, set where the left one is
//   brighter). Brightness and small shifts barely change it, so a fixed
//   camera's next frame of the same plants is a few bits away; imagededup
//   calls frames within 10 of 64 bits duplicates.
// - a compact embedding: the mean colour of each cell of a 4x4 grid, centred
//   and scaled to unit length. It tells a scene that changed colour (a
//   disease spreading, a flood, snow, a new growth stage) from the ones
//   this camera sent before, where the hash only tells near-copies.
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace canopy::collect {

std::uint64_t perceptual_hash(const cv::Mat& bgr);
int hamming_distance(std::uint64_t a, std::uint64_t b);
// 16 lower-case hex digits, and back (nullopt for anything else).
std::string hash_hex(std::uint64_t hash);
std::optional<std::uint64_t> parse_hash_hex(std::string_view text);

inline constexpr int kEmbeddingSize = 4 * 4 * 3;
using Embedding = std::array<float, kEmbeddingSize>;

Embedding colour_embedding(const cv::Mat& bgr);
// 0 for the same frame, up to 1 for the most different (half the
// Euclidean distance of the unit vectors).
double embedding_distance(const Embedding& a, const Embedding& b);

struct ImageSignature {
  std::uint64_t hash = 0;
  Embedding embedding{};
};

ImageSignature sign_image(const cv::Mat& bgr);

}  // namespace canopy::collect
