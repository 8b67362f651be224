// Random numbers keyed by what they are for: every draw the world makes comes
// from a stream named by (seed, purpose, indices), e.g. (seed, "rain", day),
// so one part of the world never shifts another's numbers. Rendering an extra
// frame or reading a sensor twice leaves the weather and the disease exactly
// as they were; the same seed and configuration give the same world.
// splitmix64 (Steele, Lea, Flood 2014) mixes the key; it is small, fast and
// the same on every platform, unlike the standard library's distributions.
// Thread-safety: a StreamRandom is used by one thread at a time.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <numbers>
#include <string_view>

namespace canopy::world {

inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// FNV-1a of a purpose's name: the name, not an enum's number, keys the stream.
constexpr std::uint64_t purpose_key(std::string_view purpose) {
  std::uint64_t hash = 0xCBF29CE484222325ull;
  for (char c : purpose) hash = (hash ^ std::uint64_t(static_cast<unsigned char>(c))) * 0x100000001B3ull;
  return hash;
}

class StreamRandom {
 public:
  StreamRandom(std::uint64_t seed, std::string_view purpose, std::initializer_list<std::int64_t> indices = {})
      : state_(splitmix64(seed ^ purpose_key(purpose))) {
    for (std::int64_t index : indices) state_ = splitmix64(state_ ^ std::uint64_t(index));
  }

  std::uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    return splitmix64(state_);
  }
  // Uniform in [0, 1).
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  bool chance(double p) { return uniform() < p; }
  // Box-Muller; one draw per call keeps the stream's use simple to follow.
  double normal(double mean, double sd) {
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
  }

 private:
  std::uint64_t state_;
};

}  // namespace canopy::world
