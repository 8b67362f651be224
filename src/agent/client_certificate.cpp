#include "agent/client_certificate.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <memory>
#include <string>

#include "common/files.h"
#include "common/openssl_handles.h"
#include "common/self_signed.h"

namespace canopy::agent {

namespace fs = std::filesystem;

namespace {

constexpr const char* kCertName = "tls-client.crt";
constexpr const char* kKeyName = "tls-client.key";

BioPtr read_bio(const fs::path& file) {
  auto text = read_file(file);
  if (!text.ok()) return nullptr;
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio) BIO_write(bio.get(), text->data(), static_cast<int>(text->size()));
  return bio;
}

// Whether the files hold a certificate over `public_key` and that
// certificate's private key: a pair left by an earlier start, to be reused.
bool holds_pair_for(const fs::path& cert_file, const fs::path& key_file, const PublicKey& public_key) {
  BioPtr cert_bio = read_bio(cert_file), key_bio = read_bio(key_file);
  if (!cert_bio || !key_bio) return false;
  X509Ptr certificate(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  KeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  const bool pair = certificate && key &&
                    raw_ed25519_public(X509_get0_pubkey(certificate.get())) == public_key.bytes &&
                    X509_check_private_key(certificate.get(), key.get()) == 1;
  ERR_clear_error();
  return pair;
}

// The 32-byte seed of the identity's secret: libsodium keeps an Ed25519
// secret key as 64 bytes, the seed followed by the public key; OpenSSL's raw
// private key is the seed alone. The public key is derived from the seed
// again and must be the identity's, or the certificate would name a key the
// server never enrolled.
Result<std::string> seed_of(const KeyPair& identity) {
  if (identity.secret_bytes.size() != crypto_sign_SECRETKEYBYTES)
    return make_error(ErrorCode::kInvalidArgument, "the device's identity key is not a 64-byte Ed25519 key");
  std::string seed(crypto_sign_SEEDBYTES, '\0');
  auto* seed_bytes = reinterpret_cast<unsigned char*>(seed.data());
  crypto_sign_ed25519_sk_to_seed(seed_bytes,
                                 reinterpret_cast<const unsigned char*>(identity.secret_bytes.data()));
  unsigned char derived_public[crypto_sign_PUBLICKEYBYTES], derived_secret[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(derived_public, derived_secret, seed_bytes);
  sodium_memzero(derived_secret, sizeof derived_secret);
  if (std::string_view(reinterpret_cast<const char*>(derived_public), sizeof derived_public) !=
      identity.public_key.bytes) {
    sodium_memzero(seed.data(), seed.size());
    return make_error(ErrorCode::kInternal,
                      "the device's identity key and its public half disagree (identity.key is damaged)");
  }
  return seed;
}

}  // namespace

Result<ClientCertificateFiles> ensure_client_certificate(const fs::path& data_dir, const KeyPair& identity) {
  const ClientCertificateFiles files{data_dir / kCertName, data_dir / kKeyName};
  if (holds_pair_for(files.cert_file, files.key_file, identity.public_key)) return files;

  SelfSignedRequest request;
  // The key id in the name lets an operator tell whose certificate a capture shows.
  request.common_name = "canopy-device " + identity.public_key.key_id();
  request.client_auth = true;
  // The server checks the key, not the dates: no lifetime, so a device
  // whose clock is unset still presents a certificate valid "now".
  CANOPY_ASSIGN_OR_RETURN(request.ed25519_seed, seed_of(identity));
  Status written = write_self_signed(request, files.cert_file, files.key_file);
  sodium_memzero(request.ed25519_seed.data(), request.ed25519_seed.size());
  CANOPY_TRY(written);
  return files;
}

}  // namespace canopy::agent
