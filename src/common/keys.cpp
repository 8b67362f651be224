#include "common/keys.h"

#include <sodium.h>

#include "common/files.h"
#include "common/hash.h"
#include "common/text.h"

namespace canopy {

namespace {

constexpr std::string_view kPublicTag = "canopy-ed25519-public ";
constexpr std::string_view kSecretTag = "canopy-ed25519-secret ";

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // drop the terminating NUL
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  std::string out(text.size(), '\0');
  size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(),
                        nullptr, &length, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return make_error(ErrorCode::kInvalidArgument, "not valid base64");
  }
  out.resize(length);
  return out;
}

std::string PublicKey::key_id() const { return sha256_hex(bytes).substr(0, 16); }

std::string PublicKey::to_text() const { return to_line() + "\n"; }

std::string PublicKey::to_line() const { return std::string(kPublicTag) + base64_encode(bytes); }

Result<PublicKey> PublicKey::from_text(std::string_view text) {
  text = trim(text);
  if (text.substr(0, kPublicTag.size()) != kPublicTag)
    return make_error(ErrorCode::kInvalidArgument,
                      "not a canopy public key (expected a line starting with 'canopy-ed25519-public')");
  auto raw = base64_decode(trim(text.substr(kPublicTag.size())));
  if (!raw.ok() || raw->size() != crypto_sign_PUBLICKEYBYTES)
    return make_error(ErrorCode::kInvalidArgument, "public key is not 32 bytes of base64");
  return PublicKey{*raw};
}

KeyPair KeyPair::generate() {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  KeyPair pair{PublicKey{std::string(reinterpret_cast<char*>(pk), sizeof pk)},
               std::string(reinterpret_cast<char*>(sk), sizeof sk)};
  sodium_memzero(sk, sizeof sk);
  return pair;
}

std::string KeyPair::secret_to_text() const {
  return std::string(kSecretTag) + base64_encode(secret_bytes) + "\n";
}

Result<KeyPair> KeyPair::from_secret_text(std::string_view text) {
  text = trim(text);
  if (text.substr(0, kSecretTag.size()) != kSecretTag)
    return make_error(ErrorCode::kInvalidArgument,
                      "not a canopy secret key (expected a line starting with 'canopy-ed25519-secret')");
  auto raw = base64_decode(trim(text.substr(kSecretTag.size())));
  if (!raw.ok() || raw->size() != crypto_sign_SECRETKEYBYTES)
    return make_error(ErrorCode::kInvalidArgument, "secret key is not 64 bytes of base64");
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_ed25519_sk_to_pk(pk, reinterpret_cast<const unsigned char*>(raw->data()));
  return KeyPair{PublicKey{std::string(reinterpret_cast<char*>(pk), sizeof pk)}, *raw};
}

Status save_key_pair(const KeyPair& pair, const std::filesystem::path& prefix) {
  auto secret_path = std::filesystem::path(prefix.string() + ".key");
  auto public_path = std::filesystem::path(prefix.string() + ".pub");
  for (const auto& path : {secret_path, public_path}) {
    if (std::filesystem::exists(path))
      return make_error(ErrorCode::kAlreadyExists,
                        path.string() + " already exists; choose another name or remove it first");
  }
  CANOPY_TRY(write_file_atomic(secret_path, pair.secret_to_text(), 0600));
  return write_file_atomic(public_path, pair.public_key.to_text(), 0644);
}

Result<KeyPair> load_key_pair(const std::filesystem::path& secret_file) {
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(secret_file));
  auto pair = KeyPair::from_secret_text(text);
  if (!pair.ok()) return pair.error().with_context(secret_file.string());
  return pair;
}

Result<PublicKey> load_public_key(const std::filesystem::path& public_file) {
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(public_file));
  auto key = PublicKey::from_text(text);
  if (!key.ok()) return key.error().with_context(public_file.string());
  return key;
}

std::string sign_detached(const KeyPair& pair, std::string_view message) {
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       reinterpret_cast<const unsigned char*>(pair.secret_bytes.data()));
  return std::string(reinterpret_cast<char*>(sig), sizeof sig);
}

bool verify_detached(const PublicKey& key, std::string_view message, std::string_view signature) {
  if (signature.size() != crypto_sign_BYTES || key.bytes.size() != crypto_sign_PUBLICKEYBYTES) return false;
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                                     reinterpret_cast<const unsigned char*>(key.bytes.data())) == 0;
}

}  // namespace canopy
