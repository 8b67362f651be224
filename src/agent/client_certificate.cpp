#include "agent/client_certificate.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include <functional>
#include <memory>
#include <string>

#include "common/files.h"

namespace canopy::agent {

namespace fs = std::filesystem;

namespace {

constexpr const char* kCertName = "tls-client.crt";
constexpr const char* kKeyName = "tls-client.key";

template <class T, void (*Free)(T*)>
struct Freer {
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Freer<BIO, BIO_free_all>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Freer<X509, X509_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Freer<BIGNUM, BN_free>>;

// OpenSSL's reason for the last failure, and the error queue left empty.
std::string openssl_reason() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no reason given";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

Error failed(const std::string& step) {
  return make_error(ErrorCode::kInternal,
                    "cannot make the device's TLS client certificate (" + step + "): " + openssl_reason());
}

// The raw public key of an Ed25519 EVP_PKEY; "" for any other key.
std::string raw_ed25519_public(const EVP_PKEY* key) {
  unsigned char bytes[32];
  std::size_t size = sizeof bytes;
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519 ||
      EVP_PKEY_get_raw_public_key(key, bytes, &size) != 1)
    return "";
  return std::string(reinterpret_cast<const char*>(bytes), size);
}

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

// The identity's secret as an OpenSSL key. libsodium keeps an Ed25519
// secret key as 64 bytes, the 32-byte seed followed by the public key;
// OpenSSL's raw private key is the seed alone.
Result<KeyPtr> openssl_key_of(const KeyPair& identity) {
  if (identity.secret_bytes.size() != crypto_sign_SECRETKEYBYTES)
    return make_error(ErrorCode::kInvalidArgument, "the device's identity key is not a 64-byte Ed25519 key");
  unsigned char seed[crypto_sign_SEEDBYTES];
  crypto_sign_ed25519_sk_to_seed(seed, reinterpret_cast<const unsigned char*>(identity.secret_bytes.data()));
  KeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed, sizeof seed));
  sodium_memzero(seed, sizeof seed);
  if (!key) return failed("key");
  // Both libraries derive the public key from the seed: they must agree,
  // or the certificate would name a key the server never enrolled.
  if (raw_ed25519_public(key.get()) != identity.public_key.bytes)
    return make_error(ErrorCode::kInternal,
                      "the device's identity key and its public half disagree (identity.key is damaged)");
  return key;
}

std::string pem_of(const std::function<int(BIO*)>& write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return "";
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

Status add_extension(X509* x, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (extension == nullptr) return failed("extensions");
  const int added = X509_add_ext(x, extension, -1);
  X509_EXTENSION_free(extension);
  if (added != 1) return failed("extensions");
  return {};
}

}  // namespace

Result<ClientCertificateFiles> ensure_client_certificate(const fs::path& data_dir, const KeyPair& identity) {
  const ClientCertificateFiles files{data_dir / kCertName, data_dir / kKeyName};
  if (holds_pair_for(files.cert_file, files.key_file, identity.public_key)) return files;

  CANOPY_ASSIGN_OR_RETURN(KeyPtr key, openssl_key_of(identity));
  X509Ptr certificate(X509_new());
  X509* x = certificate.get();
  if (x == nullptr || X509_set_version(x, X509_VERSION_3) != 1) return failed("certificate");
  BignumPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x)) == nullptr)
    return failed("serial number");
  // The server checks the key, not the dates: the certificate never
  // expires (RFC 5280's 99991231235959Z), and a device whose clock is unset
  // still presents a certificate valid "now". notBefore is the epoch.
  if (ASN1_TIME_set_string_X509(X509_getm_notBefore(x), "19700101000000Z") != 1 ||
      ASN1_TIME_set_string_X509(X509_getm_notAfter(x), "99991231235959Z") != 1)
    return failed("validity");
  if (X509_set_pubkey(x, key.get()) != 1) return failed("public key");
  // The key id in the name lets an operator tell whose certificate a capture shows.
  const std::string common_name = "canopy-device " + identity.public_key.key_id();
  X509_NAME* subject = X509_get_subject_name(x);
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(x, subject) != 1)
    return failed("name");
  CANOPY_TRY(add_extension(x, NID_basic_constraints, "critical,CA:FALSE"));
  CANOPY_TRY(add_extension(x, NID_key_usage, "critical,digitalSignature"));
  CANOPY_TRY(add_extension(x, NID_ext_key_usage, "clientAuth"));
  // Ed25519 signs the message itself: no digest is named.
  if (X509_sign(x, key.get(), nullptr) == 0) return failed("signature");

  const std::string key_pem = pem_of([&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  const std::string cert_pem = pem_of([&](BIO* bio) { return PEM_write_bio_X509(bio, x); });
  if (key_pem.empty() || cert_pem.empty()) return failed("PEM");
  // The key first: a crash between the two leaves no certificate without
  // its key, and the next start makes the pair again.
  CANOPY_TRY(write_file_atomic(files.key_file, key_pem, 0600));
  CANOPY_TRY(write_file_atomic(files.cert_file, cert_pem, 0644));
  return files;
}

}  // namespace canopy::agent
