// Mutual TLS for devices (docs/security.md, "Mutual TLS for devices"): the
// server may ask each client for a TLS certificate and, on the device routes
// and at enrollment, require that the certificate's key be the Ed25519 key
// the device enrolled with. Trust comes from that binding, not from a CA:
// any certificate passes the handshake (the handshake itself proves the
// client holds the certificate's private key), and the routes then compare
// its key with the enrolled one. A stolen device token is then of no use
// without the device's identity key.
//
// The decision is decide_device_certificate, a pure function of the mode,
// what the client presented and the enrolled key; the rest reads the
// certificate from OpenSSL and sets up the context.
// Private to src/server/http/ (and ServerOptions, which names the mode).
// Thread-safety: stateless functions.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;

namespace canopy::server {

// `canopy server --device-certificates`; the default is kOff.
enum class DeviceCertificates {
  kOff,       // no certificate is asked for; the device token alone authenticates
  kOptional,  // asked for; a device without one gets by on its token, one presented must match
  kRequired,  // a device must present a certificate over its enrolled key
};

// "off", "optional" or "required"; kInvalidArgument for anything else.
Result<DeviceCertificates> parse_device_certificates(std::string_view text);
const char* device_certificates_name(DeviceCertificates mode);

// kInvalidArgument when `mode` is not off and the server does not serve
// HTTPS itself (`https` false): a client certificate reaches the server only
// in its own TLS handshake, so over plain HTTP, or behind a proxy that ends
// TLS, there would be none to check.
Status check_device_certificates_transport(DeviceCertificates mode, bool https);

// The certificate a client presented in its TLS handshake, as far as the
// binding cares.
struct PeerCertificate {
  bool presented = false;
  // The raw 32 bytes of its Ed25519 public key; empty when the
  // certificate's key is of another kind (RSA, ECDSA), which can never be a
  // device's.
  std::string ed25519_key;
};

// The certificate of the TLS connection `ssl`; none for nullptr (plain
// HTTP) or when the client sent none.
PeerCertificate peer_certificate(const SSL* ssl);

enum class CertificateDecision {
  kAccepted,  // off; optional without a certificate; or the key is the enrolled one
  kMissing,   // required, and the client presented no certificate
  kOtherKey,  // the certificate's key is not the enrolled one (or not Ed25519 at all)
};

// Whether a client that presented `peer` may act as the device whose
// enrolled public key is `enrolled_key` (32 raw bytes).
CertificateDecision decide_device_certificate(DeviceCertificates mode, const PeerCertificate& peer,
                                              std::string_view enrolled_key);

// kUnauthenticated with the message a refused client gets; `decision` is
// not kAccepted.
Error device_certificate_refusal(CertificateDecision decision);

// Has every handshake on `context` ask the client for a certificate, any
// certificate accepted (the routes check its key) and none required, so
// browsers and API-key clients without one still connect.
void request_client_certificates(SSL_CTX& context);

}  // namespace canopy::server
