// Mutual TLS for devices: the binding decision for every mode, certificate
// and enrolled key; the option's names; the refusals' messages; and the
// certificate as peer_certificate reads it after a real TLS handshake (in
// memory, TLS 1.2 and 1.3) on a context set up by request_client_certificates.
#include "server/http/device_certificates.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "common/openssl_handles.h"

namespace canopy::server {
namespace {

using Mode = DeviceCertificates;
using Decision = CertificateDecision;

const std::string kEnrolled(32, 'e');
const std::string kOther(32, 'o');

PeerCertificate no_certificate() { return {}; }
PeerCertificate certificate_over(std::string key) { return {true, std::move(key)}; }
// A certificate whose key is RSA or ECDSA: presented, but no Ed25519 key.
PeerCertificate certificate_of_another_kind() { return {true, ""}; }

TEST(DeviceCertificatesTest, EachModeDecidesEveryKindOfCertificate) {
  struct Case {
    Mode mode;
    PeerCertificate peer;
    std::string enrolled;
    Decision expected;
    const char* what;
  };
  std::string last_byte_differs = kEnrolled;
  last_byte_differs.back() = 'x';
  const std::vector<Case> cases = {
      // Off: the server asked for nothing and looks at nothing.
      {Mode::kOff, no_certificate(), kEnrolled, Decision::kAccepted, "off, none"},
      {Mode::kOff, certificate_over(kEnrolled), kEnrolled, Decision::kAccepted, "off, the enrolled key"},
      {Mode::kOff, certificate_over(kOther), kEnrolled, Decision::kAccepted, "off, another key"},
      {Mode::kOff, certificate_of_another_kind(), kEnrolled, Decision::kAccepted, "off, not Ed25519"},
      {Mode::kOff, no_certificate(), "", Decision::kAccepted, "off, no enrolled key"},
      // Optional: the token alone suffices, but a certificate shown must match.
      {Mode::kOptional, no_certificate(), kEnrolled, Decision::kAccepted, "optional, none"},
      {Mode::kOptional, certificate_over(kEnrolled), kEnrolled, Decision::kAccepted,
       "optional, the enrolled key"},
      {Mode::kOptional, certificate_over(kOther), kEnrolled, Decision::kOtherKey, "optional, another key"},
      {Mode::kOptional, certificate_over(last_byte_differs), kEnrolled, Decision::kOtherKey,
       "optional, one byte off"},
      {Mode::kOptional, certificate_over(kEnrolled.substr(0, 31)), kEnrolled, Decision::kOtherKey,
       "optional, a prefix"},
      {Mode::kOptional, certificate_of_another_kind(), kEnrolled, Decision::kOtherKey,
       "optional, not Ed25519"},
      {Mode::kOptional, no_certificate(), "", Decision::kAccepted, "optional, none, no enrolled key"},
      {Mode::kOptional, certificate_over(kEnrolled), "", Decision::kOtherKey, "optional, no enrolled key"},
      {Mode::kOptional, certificate_of_another_kind(), "", Decision::kOtherKey,
       "optional, not Ed25519, no enrolled key"},
      // Required: a certificate over the enrolled key, nothing else.
      {Mode::kRequired, no_certificate(), kEnrolled, Decision::kMissing, "required, none"},
      {Mode::kRequired, certificate_over(kEnrolled), kEnrolled, Decision::kAccepted,
       "required, the enrolled key"},
      {Mode::kRequired, certificate_over(kOther), kEnrolled, Decision::kOtherKey, "required, another key"},
      {Mode::kRequired, certificate_over(last_byte_differs), kEnrolled, Decision::kOtherKey,
       "required, one byte off"},
      {Mode::kRequired, certificate_over(kEnrolled + "e"), kEnrolled, Decision::kOtherKey,
       "required, one byte more"},
      {Mode::kRequired, certificate_of_another_kind(), kEnrolled, Decision::kOtherKey,
       "required, not Ed25519"},
      {Mode::kRequired, no_certificate(), "", Decision::kMissing, "required, none, no enrolled key"},
      {Mode::kRequired, certificate_over(kEnrolled), "", Decision::kOtherKey, "required, no enrolled key"},
      {Mode::kRequired, certificate_of_another_kind(), "", Decision::kOtherKey,
       "required, not Ed25519, no enrolled key"},
  };
  for (const Case& c : cases)
    EXPECT_EQ(decide_device_certificate(c.mode, c.peer, c.enrolled), c.expected) << c.what;
}

TEST(DeviceCertificatesTest, TheOptionTakesItsThreeNamesAndNothingElse) {
  for (Mode mode : {Mode::kOff, Mode::kOptional, Mode::kRequired}) {
    auto parsed = parse_device_certificates(device_certificates_name(mode));
    ASSERT_TRUE(parsed.ok()) << device_certificates_name(mode);
    EXPECT_EQ(*parsed, mode);
  }
  for (const char* text : {"", "OFF", "Required", "on", "yes", "true", "require", "optional "}) {
    auto parsed = parse_device_certificates(text);
    ASSERT_FALSE(parsed.ok()) << "'" << text << "'";
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message.find("must be off, optional or required"), std::string::npos)
        << parsed.error().message;
  }
}

TEST(DeviceCertificatesTest, AnyModeButOffNeedsTheServerToServeHttps) {
  EXPECT_TRUE(check_device_certificates_transport(Mode::kOff, false).ok());
  for (Mode mode : {Mode::kOff, Mode::kOptional, Mode::kRequired})
    EXPECT_TRUE(check_device_certificates_transport(mode, true).ok()) << device_certificates_name(mode);
  for (Mode mode : {Mode::kOptional, Mode::kRequired}) {
    Status refused = check_device_certificates_transport(mode, false);
    ASSERT_FALSE(refused.ok()) << device_certificates_name(mode);
    EXPECT_NE(refused.error().message.find("needs the server to serve HTTPS itself"), std::string::npos)
        << refused.error().message;
  }
}

TEST(DeviceCertificatesTest, ARefusalIsUnauthenticatedAndSaysWhy) {
  const Error missing = device_certificate_refusal(Decision::kMissing);
  EXPECT_EQ(missing.code, ErrorCode::kUnauthenticated);
  EXPECT_NE(missing.message.find("this server requires the device's certificate"), std::string::npos)
      << missing.message;
  const Error other = device_certificate_refusal(Decision::kOtherKey);
  EXPECT_EQ(other.code, ErrorCode::kUnauthenticated);
  EXPECT_NE(other.message.find("is not the key this device enrolled with"), std::string::npos)
      << other.message;
}

// --- the certificate of a real handshake -----------------------------------

using ContextPtr = std::unique_ptr<SSL_CTX, OpenSslFree<SSL_CTX, SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpenSslFree<SSL, SSL_free>>;

KeyPtr ed25519_key() { return KeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")); }
KeyPtr p256_key() { return KeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); }

std::string raw_public(EVP_PKEY* key) {
  std::string bytes(32, '\0');
  std::size_t size = bytes.size();
  EXPECT_EQ(EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(bytes.data()), &size), 1);
  bytes.resize(size);
  return bytes;
}

// A self-signed certificate over `key`, as `openssl req -x509` makes one.
X509Ptr self_signed(EVP_PKEY* key) {
  X509Ptr certificate(X509_new());
  X509* x = certificate.get();
  X509_set_version(x, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("test"), -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  const bool ed25519 = EVP_PKEY_get_id(key) == EVP_PKEY_ED25519;
  EXPECT_GT(X509_sign(x, key, ed25519 ? nullptr : EVP_sha256()), 0);
  return certificate;
}

// A handshake over a pair of memory BIOs between a server context set up
// by request_client_certificates and a client with `client_key` (none:
// no certificate), at most `max_version`. The server's view of the client's
// certificate; fails the test when the handshake does.
PeerCertificate handshake(EVP_PKEY* client_key, int max_version) {
  KeyPtr server_key = p256_key();
  X509Ptr server_cert = self_signed(server_key.get());
  ContextPtr server_context(SSL_CTX_new(TLS_server_method()));
  SSL_CTX_use_certificate(server_context.get(), server_cert.get());
  SSL_CTX_use_PrivateKey(server_context.get(), server_key.get());
  request_client_certificates(*server_context);

  ContextPtr client_context(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(client_context.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_max_proto_version(client_context.get(), max_version);
  X509Ptr client_cert;
  if (client_key != nullptr) {
    client_cert = self_signed(client_key);
    SSL_CTX_use_certificate(client_context.get(), client_cert.get());
    SSL_CTX_use_PrivateKey(client_context.get(), client_key);
  }

  SslPtr server(SSL_new(server_context.get())), client(SSL_new(client_context.get()));
  BIO *server_end = nullptr, *client_end = nullptr;
  BIO_new_bio_pair(&server_end, 0, &client_end, 0);
  SSL_set_bio(server.get(), server_end, server_end);
  SSL_set_bio(client.get(), client_end, client_end);
  SSL_set_accept_state(server.get());
  SSL_set_connect_state(client.get());
  bool server_done = false, client_done = false;
  for (int round = 0; round < 20 && !(server_done && client_done); ++round) {
    if (!client_done) {
      const int result = SSL_do_handshake(client.get());
      client_done = result == 1;
      if (!client_done) {
        EXPECT_EQ(SSL_get_error(client.get(), result), SSL_ERROR_WANT_READ) << "client";
      }
    }
    if (!server_done) {
      const int result = SSL_do_handshake(server.get());
      server_done = result == 1;
      if (!server_done) {
        EXPECT_EQ(SSL_get_error(server.get(), result), SSL_ERROR_WANT_READ) << "server";
      }
    }
  }
  EXPECT_TRUE(server_done && client_done) << "the handshake did not complete";
  EXPECT_EQ(SSL_version(server.get()), max_version);
  return peer_certificate(server.get());
}

TEST(DeviceCertificatesTest, TheServerAsksForACertificateAcceptsAnySelfSignedOneAndReadsItsKey) {
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    SCOPED_TRACE(version == TLS1_2_VERSION ? "TLS 1.2" : "TLS 1.3");
    KeyPtr device = ed25519_key();
    const PeerCertificate ed25519 = handshake(device.get(), version);
    EXPECT_TRUE(ed25519.presented);
    EXPECT_EQ(ed25519.ed25519_key, raw_public(device.get()));

    KeyPtr ecdsa = p256_key();
    const PeerCertificate other_kind = handshake(ecdsa.get(), version);
    EXPECT_TRUE(other_kind.presented);
    EXPECT_EQ(other_kind.ed25519_key, "") << "an ECDSA key is no device key";

    const PeerCertificate none = handshake(nullptr, version);
    EXPECT_FALSE(none.presented) << "a client without a certificate still connects";
    EXPECT_EQ(none.ed25519_key, "");
  }
  EXPECT_FALSE(peer_certificate(nullptr).presented) << "plain HTTP has no certificate";
}

}  // namespace
}  // namespace canopy::server
