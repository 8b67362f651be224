#include "server/http/tls_credentials.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "common/files.h"
#include "common/hash.h"
#include "common/keys.h"
#include "common/self_signed.h"

namespace canopy::server {

namespace fs = std::filesystem;

struct TlsCredentials::Pair {
  X509* certificate = nullptr;
  EVP_PKEY* key = nullptr;
  STACK_OF(X509) * chain = nullptr;  // the certificates after the first in the file
  Pair() = default;
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;
  ~Pair() {
    X509_free(certificate);
    EVP_PKEY_free(key);
    sk_X509_pop_free(chain, X509_free);
  }
};

namespace {

// Why OpenSSL could not read a PEM file; it says nothing when the text is not PEM at all.
std::string openssl_reason() { return openssl_error("not in PEM format"); }

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

Result<std::string> read_pem(const fs::path& file, const char* what) {
  auto text = read_file(file);
  if (!text.ok())
    return make_error(ErrorCode::kInvalidArgument, std::string("cannot read the TLS ") + what + " " +
                                                       file.string() + ": " + text.error().message);
  return text;
}

Result<std::shared_ptr<const TlsCredentials::Pair>> load_pair(const fs::path& cert_file,
                                                              const fs::path& key_file) {
  CANOPY_ASSIGN_OR_RETURN(std::string cert_text, read_pem(cert_file, "certificate"));
  CANOPY_ASSIGN_OR_RETURN(std::string key_text, read_pem(key_file, "key"));
  auto pair = std::make_shared<TlsCredentials::Pair>();
  BioPtr certs(BIO_new_mem_buf(cert_text.data(), static_cast<int>(cert_text.size())));
  pair->certificate = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr);
  if (pair->certificate == nullptr)
    return make_error(ErrorCode::kInvalidArgument,
                      "TLS certificate " + cert_file.string() + " holds no certificate: " + openssl_reason());
  pair->chain = sk_X509_new_null();
  while (X509* next = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr))
    sk_X509_push(pair->chain, next);
  ERR_clear_error();  // the end of the file ends the loop with an error
  BioPtr key(BIO_new_mem_buf(key_text.data(), static_cast<int>(key_text.size())));
  pair->key = PEM_read_bio_PrivateKey(key.get(), nullptr, nullptr, nullptr);
  if (pair->key == nullptr)
    return make_error(ErrorCode::kInvalidArgument,
                      "TLS key " + key_file.string() + " holds no private key: " + openssl_reason());
  if (X509_check_private_key(pair->certificate, pair->key) != 1) {
    ERR_clear_error();
    return make_error(
        ErrorCode::kInvalidArgument,
        "TLS key " + key_file.string() + " is not the key of the certificate " + cert_file.string());
  }
  return std::shared_ptr<const TlsCredentials::Pair>(std::move(pair));
}

std::string pin_of(X509* certificate) {
  unsigned char* der = nullptr;
  const int size = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(certificate), &der);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  EVP_Digest(der, static_cast<size_t>(size), digest, &digest_size, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  return "sha256//" + base64_encode(std::string_view(reinterpret_cast<const char*>(digest), digest_size));
}

}  // namespace

TlsCredentials::TlsCredentials(fs::path cert_file, fs::path key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}

TlsCredentials::~TlsCredentials() = default;

Result<std::unique_ptr<TlsCredentials>> TlsCredentials::load(fs::path cert_file, fs::path key_file) {
  std::unique_ptr<TlsCredentials> credentials(new TlsCredentials(std::move(cert_file), std::move(key_file)));
  CANOPY_TRY(credentials->reload());
  return credentials;
}

Status TlsCredentials::reload() {
  CANOPY_ASSIGN_OR_RETURN(auto pair, load_pair(cert_file_, key_file_));
  std::lock_guard lock(mutex_);
  pair_ = std::move(pair);
  return {};
}

std::shared_ptr<const TlsCredentials::Pair> TlsCredentials::current() const {
  std::lock_guard lock(mutex_);
  return pair_;
}

std::string TlsCredentials::pin() const { return pin_of(current()->certificate); }

bool TlsCredentials::configure(SSL_CTX& context) {
  SSL_CTX_set_min_proto_version(&context, TLS1_2_VERSION);
  SSL_CTX_set_options(&context, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // The callback runs at each handshake, after the client's hello: the SSL
  // takes its own references, so a reload may free the old pair at once.
  SSL_CTX_set_cert_cb(
      &context,
      [](SSL* ssl, void* self) {
        auto pair = static_cast<const TlsCredentials*>(self)->current();
        return SSL_use_certificate(ssl, pair->certificate) == 1 && SSL_use_PrivateKey(ssl, pair->key) == 1 &&
                       SSL_set1_chain(ssl, pair->chain) == 1
                   ? 1
                   : 0;
      },
      this);
  return true;
}

Result<std::string> public_key_pin(const fs::path& cert_file) {
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_pem(cert_file, "certificate"));
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (certificate == nullptr)
    return make_error(ErrorCode::kInvalidArgument,
                      "TLS certificate " + cert_file.string() + " holds no certificate: " + openssl_reason());
  std::string pin = pin_of(certificate);
  X509_free(certificate);
  return pin;
}

Result<bool> ensure_self_signed(const fs::path& cert_file, const fs::path& key_file,
                                const std::vector<std::string>& names) {
  if (fs::exists(cert_file) && fs::exists(key_file)) return false;
  SelfSignedRequest request;
  request.common_name = "canopy server";
  request.alt_names = names;
  request.lifetime_s = 10LL * 365 * 86'400;
  CANOPY_TRY(write_self_signed(request, cert_file, key_file));
  return true;
}

}  // namespace canopy::server
