// SHA-256 (libsodium) and hex encoding. Sha256 is a streaming hasher: feed it
// bytes as they arrive (an upload, an archive entry) and never hold the whole
// input in memory. Thread-safety: one Sha256 object per thread.
#pragma once

#include <sodium.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"

namespace canopy {

// Initialises libsodium once; safe to call from many threads and many times.
Status init_crypto();

std::string to_hex(const unsigned char* data, size_t size);
// Decodes lowercase or uppercase hex; fails on odd length or non-hex characters.
Result<std::string> from_hex(std::string_view hex);

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  // Returns the lowercase hex digest; the hasher must not be used afterwards.
  std::string finish_hex();

 private:
  crypto_hash_sha256_state state_;
};

std::string sha256_hex(std::string_view data);
Result<std::string> sha256_file_hex(const std::filesystem::path& path);

// True for a 64-character lowercase hex string (the form digests are stored in).
bool is_sha256_hex(std::string_view text);

}  // namespace canopy
