// OpenSSL objects owned by std::unique_ptr, each freed by its own function,
// for the files that speak to OpenSSL (self_signed.cpp, the agent's client
// certificate, the server's device certificates, their tests), and the one
// thing Canopy reads from a key: its raw Ed25519 public half, the bytes a
// device enrolls with.
// Thread-safety: as the objects they hold.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstddef>
#include <memory>
#include <string>

namespace canopy {

template <class T, void (*Free)(T*)>
struct OpenSslFree {
  void operator()(T* object) const { Free(object); }
};

using BioPtr = std::unique_ptr<BIO, OpenSslFree<BIO, BIO_free_all>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslFree<X509, X509_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslFree<BIGNUM, BN_free>>;

// The 32 raw bytes of an Ed25519 key's public half; "" for no key or a key
// of another kind (RSA, ECDSA), which can never be a device's.
inline std::string raw_ed25519_public(const EVP_PKEY* key) {
  unsigned char bytes[32];
  std::size_t size = sizeof bytes;
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519 ||
      EVP_PKEY_get_raw_public_key(key, bytes, &size) != 1)
    return "";
  return std::string(reinterpret_cast<const char*>(bytes), size);
}

}  // namespace canopy
