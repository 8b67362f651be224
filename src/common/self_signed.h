// Self-signed X.509 certificates (docs/security.md), made the one way both
// kinds need: the server's for first use (`canopy server --self-signed`: a
// new ECDSA P-256 key, its host names and addresses as subjectAltName, ten
// years) and each device's TLS client certificate (over its own Ed25519
// identity key, for mutual TLS, never expiring). The pair is written
// atomically, the key first, so a crash between the two files never leaves a
// certificate without its key.
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace canopy {

struct SelfSignedRequest {
  std::string common_name;
  std::vector<std::string> alt_names;  // host names and IP addresses; none: no subjectAltName
  bool client_auth = false;            // keyUsage digitalSignature, extendedKeyUsage clientAuth
  // From an hour ago (clients' clocks run a little behind) for this long;
  // nullopt: from the epoch and never expiring (RFC 5280's 99991231235959Z),
  // for a holder whose clock may be unset and whose key, not its dates, is checked.
  std::optional<std::int64_t> lifetime_s;
  // The key: the 32-byte seed of an Ed25519 key; empty for a new ECDSA P-256 key.
  std::string ed25519_seed;
};

// Makes the certificate and writes it to `cert_file` (0644) and its key to
// `key_file` (0600), creating their folders. kInternal naming the step
// OpenSSL refused; kIo when a file cannot be written.
Status write_self_signed(const SelfSignedRequest& request, const std::filesystem::path& cert_file,
                         const std::filesystem::path& key_file);

// OpenSSL's reason for its last failure, or `when_none` when it gave none;
// its error queue is left empty.
std::string openssl_error(std::string_view when_none);

}  // namespace canopy
