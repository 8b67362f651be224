// The device's TLS client certificate: over the identity key (libsodium's
// key, as OpenSSL reads it), self-signed, its key private, made once and
// reused, and made again when it is damaged or over another key.
#include "agent/client_certificate.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <memory>

#include "common/hash.h"
#include "test_support.h"

namespace canopy::agent {
namespace {

using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::unique_ptr<X509, X509Free> read_certificate(const std::filesystem::path& file) {
  const std::string pem = read_bytes(file);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  std::unique_ptr<X509, X509Free> certificate(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return certificate;
}

std::unique_ptr<EVP_PKEY, KeyFree> read_private_key(const std::filesystem::path& file) {
  const std::string pem = read_bytes(file);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  std::unique_ptr<EVP_PKEY, KeyFree> key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return key;
}

std::string raw_public(const EVP_PKEY* key) {
  std::string bytes(32, '\0');
  std::size_t size = bytes.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(bytes.data()), &size) != 1) return "";
  bytes.resize(size);
  return bytes;
}

class ClientCertificateTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(init_crypto().ok()); }

  ClientCertificateFiles ensure(const KeyPair& identity) {
    auto files = ensure_client_certificate(dir_.path(), identity);
    EXPECT_TRUE(files.ok()) << files.error().message;
    return files.ok() ? *files : ClientCertificateFiles{};
  }

  TempDir dir_;
  KeyPair identity_ = KeyPair::generate();
};

TEST_F(ClientCertificateTest, TheCertificateIsSelfSignedOverTheIdentityKeyWithAPrivateKeyFile) {
  const ClientCertificateFiles files = ensure(identity_);
  EXPECT_EQ(files.cert_file, dir_ / "tls-client.crt");
  EXPECT_EQ(files.key_file, dir_ / "tls-client.key");
  auto certificate = read_certificate(files.cert_file);
  ASSERT_TRUE(certificate);
  EVP_PKEY* public_key = X509_get0_pubkey(certificate.get());
  ASSERT_NE(public_key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_id(public_key), EVP_PKEY_ED25519);
  EXPECT_EQ(raw_public(public_key), identity_.public_key.bytes) << "the key the device enrolls with";
  EXPECT_EQ(X509_verify(certificate.get(), public_key), 1) << "signed by its own key";
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(certificate.get()), X509_get_subject_name(certificate.get())),
            0)
      << "self-issued";

  char name[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(certificate.get()), NID_commonName, name, sizeof name);
  EXPECT_EQ(std::string(name), "canopy-device " + identity_.public_key.key_id());
  // Valid from long ago to RFC 5280's "no expiry": a device clock that is
  // off, or a device that runs for decades, keeps a usable certificate.
  EXPECT_LT(X509_cmp_time(X509_get0_notBefore(certificate.get()), nullptr), 0);
  ASN1_TIME* far = ASN1_TIME_new();
  ASSERT_EQ(ASN1_TIME_set_string_X509(far, "99991231235959Z"), 1);
  EXPECT_EQ(ASN1_TIME_compare(X509_get0_notAfter(certificate.get()), far), 0);
  ASN1_TIME_free(far);

  auto private_key = read_private_key(files.key_file);
  ASSERT_TRUE(private_key);
  EXPECT_EQ(X509_check_private_key(certificate.get(), private_key.get()), 1);
  // OpenSSL's key from the seed signs as libsodium's secret key does: Ed25519 is deterministic.
  const std::string message = "canopy";
  unsigned char signature[64];
  std::size_t signature_size = sizeof signature;
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestSignInit(context, nullptr, nullptr, nullptr, private_key.get()), 1);
  ASSERT_EQ(EVP_DigestSign(context, signature, &signature_size,
                           reinterpret_cast<const unsigned char*>(message.data()), message.size()),
            1);
  EVP_MD_CTX_free(context);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(signature), signature_size),
            sign_detached(identity_, message));

  struct stat key_stat {};
  ASSERT_EQ(::stat(files.key_file.c_str(), &key_stat), 0);
  EXPECT_EQ(key_stat.st_mode & 0777, 0600u);
}

TEST_F(ClientCertificateTest, ThePairIsMadeOnceAndReused) {
  const ClientCertificateFiles first = ensure(identity_);
  const std::string cert = read_bytes(first.cert_file), key = read_bytes(first.key_file);
  const ClientCertificateFiles again = ensure(identity_);
  EXPECT_EQ(read_bytes(again.cert_file), cert) << "a restart reuses the certificate";
  EXPECT_EQ(read_bytes(again.key_file), key);
}

TEST_F(ClientCertificateTest, ADamagedOrForeignPairIsMadeAgainOverTheIdentityKey) {
  const ClientCertificateFiles files = ensure(identity_);
  write_bytes(files.cert_file, "not a certificate\n");
  ensure(identity_);
  auto remade = read_certificate(files.cert_file);
  ASSERT_TRUE(remade) << "a damaged certificate is made again";
  EXPECT_EQ(raw_public(X509_get0_pubkey(remade.get())), identity_.public_key.bytes);

  std::filesystem::remove(files.key_file);
  ensure(identity_);
  ASSERT_TRUE(read_private_key(files.key_file)) << "a lost key is made again";
  EXPECT_EQ(
      X509_check_private_key(read_certificate(files.cert_file).get(), read_private_key(files.key_file).get()),
      1);

  // A pair left over another key (a data directory given a new identity).
  const KeyPair other = KeyPair::generate();
  ensure(other);
  auto foreign = read_certificate(files.cert_file);
  ASSERT_TRUE(foreign);
  ASSERT_EQ(raw_public(X509_get0_pubkey(foreign.get())), other.public_key.bytes);
  ensure(identity_);
  auto own = read_certificate(files.cert_file);
  ASSERT_TRUE(own);
  EXPECT_EQ(raw_public(X509_get0_pubkey(own.get())), identity_.public_key.bytes);
  EXPECT_EQ(X509_check_private_key(own.get(), read_private_key(files.key_file).get()), 1);
}

TEST_F(ClientCertificateTest, AnIdentityWhoseHalvesDisagreeIsRefused) {
  KeyPair damaged = identity_;
  damaged.public_key = KeyPair::generate().public_key;
  auto refused = ensure_client_certificate(dir_.path(), damaged);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("disagree"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "tls-client.crt"));
}

}  // namespace
}  // namespace canopy::agent
