#include "server/http/device_certificates.h"

#include <openssl/ssl.h>

#include "common/openssl_handles.h"

namespace canopy::server {

Result<DeviceCertificates> parse_device_certificates(std::string_view text) {
  if (text == "off") return DeviceCertificates::kOff;
  if (text == "optional") return DeviceCertificates::kOptional;
  if (text == "required") return DeviceCertificates::kRequired;
  return make_error(ErrorCode::kInvalidArgument,
                    "--device-certificates '" + std::string(text) + "' must be off, optional or required");
}

const char* device_certificates_name(DeviceCertificates mode) {
  switch (mode) {
    case DeviceCertificates::kOff:
      return "off";
    case DeviceCertificates::kOptional:
      return "optional";
    case DeviceCertificates::kRequired:
      return "required";
  }
  return "off";
}

Status check_device_certificates_transport(DeviceCertificates mode, bool https) {
  if (https || mode == DeviceCertificates::kOff) return {};
  return make_error(
      ErrorCode::kInvalidArgument,
      std::string("--device-certificates ") + device_certificates_name(mode) +
          " needs the server to serve HTTPS itself (--tls-cert and --tls-key, or --self-signed): "
          "over plain HTTP, or behind a proxy that ends TLS, no client certificate reaches it");
}

PeerCertificate peer_certificate(const SSL* ssl) {
  PeerCertificate peer;
  if (ssl == nullptr) return peer;
  // The session's certificate: a resumed session keeps the one its first
  // handshake verified the client's possession of.
  X509* certificate = SSL_get0_peer_certificate(ssl);
  if (certificate == nullptr) return peer;
  peer.presented = true;
  peer.ed25519_key = raw_ed25519_public(X509_get0_pubkey(certificate));
  return peer;
}

CertificateDecision decide_device_certificate(DeviceCertificates mode, const PeerCertificate& peer,
                                              std::string_view enrolled_key) {
  // Off: the server never asked, so nothing a client sent is looked at.
  if (mode == DeviceCertificates::kOff) return CertificateDecision::kAccepted;
  if (!peer.presented)
    return mode == DeviceCertificates::kRequired ? CertificateDecision::kMissing
                                                 : CertificateDecision::kAccepted;
  // A certificate presented is checked in either mode: a client that offers
  // one it does not own the enrolled key of is not the device.
  if (peer.ed25519_key.empty() || enrolled_key.empty() || peer.ed25519_key != enrolled_key)
    return CertificateDecision::kOtherKey;
  return CertificateDecision::kAccepted;
}

Error device_certificate_refusal(CertificateDecision decision) {
  if (decision == CertificateDecision::kMissing)
    return make_error(ErrorCode::kUnauthenticated,
                      "this server requires the device's certificate: present the TLS client certificate "
                      "made from the device's identity key (canopy-agent does so over https)");
  return make_error(ErrorCode::kUnauthenticated,
                    "the TLS client certificate's key is not the key this device enrolled with");
}

void request_client_certificates(SSL_CTX& context) {
  // SSL_VERIFY_PEER on a server asks for a certificate; without
  // SSL_VERIFY_FAIL_IF_NO_PEER_CERT a client may send none. The callback
  // accepts whatever chain arrives, self-signed included: no CA vouches for
  // devices, and the handshake has already checked that the client holds the
  // certificate's private key, which is all the routes rely on.
  SSL_CTX_set_verify(&context, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
  // With SSL_VERIFY_PEER, OpenSSL refuses to resume a session on a context
  // that has no session id context, and the handshake fails.
  static constexpr unsigned char kSessionContext[] = "canopy-device-certificates";
  SSL_CTX_set_session_id_context(&context, kSessionContext,
                                 static_cast<unsigned int>(sizeof kSessionContext - 1));
}

}  // namespace canopy::server
