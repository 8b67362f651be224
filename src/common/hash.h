// SHA-256 and hex encoding. Sha256 is a streaming hasher: feed it bytes as
// they arrive (an upload, an archive entry) and never hold the whole input in
// memory. It uses OpenSSL's libcrypto, already linked through cpp-httplib,
// because its SHA-NI/AVX2 code hashes about 5x faster than libsodium's
// portable one, and every byte of every package is hashed on upload,
// download and install. libsodium stays for ed25519 and randomness.
// Thread-safety: one Sha256 object per thread.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace canopy {

// Initialises libsodium once; safe to call from many threads and many times.
Status init_crypto();

std::string to_hex(const unsigned char* data, size_t size);
// Decodes lowercase or uppercase hex; fails on odd length or non-hex characters.
Result<std::string> from_hex(std::string_view hex);

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  // Returns the lowercase hex digest; the hasher must not be used afterwards.
  std::string finish_hex();

 private:
  ::evp_md_ctx_st* context_;
};

std::string sha256_hex(std::string_view data);
Result<std::string> sha256_file_hex(const std::filesystem::path& path);

// `bytes` bytes from the operating system's secure random source, as
// lowercase hex: ids, secrets and tokens.
std::string random_hex(std::size_t bytes);

// True for exactly `digits` lowercase hex digits.
bool is_lower_hex(std::string_view text, std::size_t digits);
// True for a 64-character lowercase hex string (the form digests are stored in).
bool is_sha256_hex(std::string_view text);

}  // namespace canopy
