// The server's TLS certificate and key (docs/security.md): read from PEM
// files and checked to be a pair, swapped in place when the files are read
// again (SIGHUP), and handed to each TLS handshake as it starts, so a reload
// reaches new connections while open ones keep the pair they began with.
// Also the self-signed pair `canopy server --self-signed` makes for first
// use, and the public-key pin clients are given instead of a CA.
// Thread-safety: reload() and the handshakes may run on any threads.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"

using SSL_CTX = struct ssl_ctx_st;

namespace canopy::server {

class TlsCredentials {
 public:
  // kInvalidArgument naming the file when either cannot be read or parsed,
  // or when the key is not the certificate's.
  static Result<std::unique_ptr<TlsCredentials>> load(std::filesystem::path cert_file,
                                                      std::filesystem::path key_file);
  ~TlsCredentials();
  TlsCredentials(const TlsCredentials&) = delete;
  TlsCredentials& operator=(const TlsCredentials&) = delete;

  // Reads both files again. On any error the pair in use stays.
  Status reload();
  // "sha256//BASE64": the SHA-256 of the certificate's public key (its
  // SubjectPublicKeyInfo), the form curl's --pinnedpubkey takes. It names
  // the key, so a certificate renewed over the same key keeps its pin.
  std::string pin() const;
  // Sets up a server context: TLS 1.2 at least, and this pair for every
  // handshake (the pair current when the handshake starts).
  bool configure(SSL_CTX& context);

  struct Pair;  // the certificate chain and key, reference-counted by OpenSSL

 private:
  TlsCredentials(std::filesystem::path cert_file, std::filesystem::path key_file);
  std::shared_ptr<const Pair> current() const;

  const std::filesystem::path cert_file_, key_file_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Pair> pair_;  // guarded by mutex_
};

// The pin (as TlsCredentials::pin) of the first certificate in a PEM file.
Result<std::string> public_key_pin(const std::filesystem::path& cert_file);

// Makes a self-signed certificate (ECDSA P-256, valid ten years) for `names`
// (host names and IP addresses, each a subjectAltName) and its key, written
// atomically to the two files (the key with mode 0600). Existing files are
// kept: a restart must not change the certificate clients have pinned.
// Returns whether it made them.
Result<bool> ensure_self_signed(const std::filesystem::path& cert_file, const std::filesystem::path& key_file,
                                const std::vector<std::string>& names);

}  // namespace canopy::server
