// The device's TLS client certificate (docs/security.md, "Mutual TLS for
// devices"): a self-signed X.509 certificate over the device's own Ed25519
// identity key, offered in every handshake with an https server. A server
// that asks for it checks that its key is the one the device enrolled with,
// so a device token copied off the device is refused without the key. No CA
// signs it: the binding to the enrolled key is the trust.
// The certificate and key live in the data directory as tls-client.crt and
// tls-client.key (PEM; the key 0600), made once and reused; a pair over
// another key than the identity's is made again.
// Thread-safety: stateless; one agent per data directory.
#pragma once

#include <filesystem>

#include "common/error.h"
#include "common/keys.h"

namespace canopy::agent {

struct ClientCertificateFiles {
  std::filesystem::path cert_file, key_file;
};

// The pair for `identity` under `data_dir`, made (written atomically, the
// key first) when missing or not over `identity`'s key. kIo when the files
// cannot be written, kInternal when OpenSSL refuses a step.
Result<ClientCertificateFiles> ensure_client_certificate(const std::filesystem::path& data_dir,
                                                         const KeyPair& identity);

}  // namespace canopy::agent
