// ed25519 keys (libsodium): generate, save, load, sign, verify.
//
// Files are one line of text so they can be pasted into provisioning tools:
//   public:  "canopy-ed25519-public <base64 32 bytes>"
//   secret:  "canopy-ed25519-secret <base64 64 bytes>"   (mode 0600)
// A key id is the first 16 hex digits of SHA-256 over the public key bytes.
// Thread-safety: values only.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace canopy {

struct PublicKey {
  std::string bytes;  // 32 raw bytes
  std::string key_id() const;
  std::string to_text() const;  // "canopy-ed25519-public BASE64\n", the .pub file
  std::string to_line() const;  // the same without the newline, as JSON fields carry it
  static Result<PublicKey> from_text(std::string_view text);
};

struct KeyPair {
  PublicKey public_key;
  std::string secret_bytes;  // 64 raw bytes (libsodium's seed+public form)

  static KeyPair generate();
  std::string secret_to_text() const;
  static Result<KeyPair> from_secret_text(std::string_view text);
};

// Writes PREFIX.key (0600) and PREFIX.pub atomically; refuses to overwrite.
Status save_key_pair(const KeyPair& pair, const std::filesystem::path& prefix);
Result<KeyPair> load_key_pair(const std::filesystem::path& secret_file);
Result<PublicKey> load_public_key(const std::filesystem::path& public_file);

// Returns the 64-byte detached signature of `message`.
std::string sign_detached(const KeyPair& pair, std::string_view message);
bool verify_detached(const PublicKey& key, std::string_view message, std::string_view signature);

std::string base64_encode(std::string_view bytes);
Result<std::string> base64_decode(std::string_view text);

}  // namespace canopy
