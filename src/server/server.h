// `canopy server`: opens the data directory, composes the server's areas
// (auth, registry, runs, fleet, field data: each with its own database connection, lock
// and schema migrations) behind the HTTP API, and serves until SIGINT or
// SIGTERM. docs/architecture.md, "Server areas", describes the areas.
//
// Data directory layout:
//   server.lock            held (flock) by the server using the directory; a second one is refused
//   registry.db            SQLite (WAL): every area's tables, and schema_versions
//   blobs/sha256/ab/...    package files by SHA-256
//   tmp/                   uploads in flight (emptied at every start)
//   keys/publisher.key     the server's ed25519 key; signs unsigned uploads
//   keys/retired/, keys/endorsements.json   its earlier keys and rotations (publishing_keys.h)
//   trusted/*.pub          publisher keys whose signed packages are accepted
//   tls/server.crt, .key   the self-signed certificate of --self-signed
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "package/package.h"
#include "server/http/device_certificates.h"

namespace canopy::server {

struct ServerOptions {
  std::filesystem::path data_dir;
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 picks a free port
  std::uint64_t max_upload_bytes = 4ull << 30;
  package::Limits limits;
  std::vector<std::filesystem::path> trusted_key_files;
  std::string admin_key;              // registered as an admin key when non-empty
  std::int64_t poll_interval_s = 30;  // how often devices are told to poll
  // The sample store (docs/samples.md): an unlabeled sample is kept this
  // long; the images together, and one device's, at most this large; one
  // device at most this many samples.
  std::int64_t sample_days = 90;
  std::int64_t drift_window_s = 86'400;  // the drift monitor's windows, in device time
  std::int64_t job_lease_s = 60;         // a worker's lease on a retrain job
  std::int64_t samples_max_bytes = 50ll << 30;
  std::int64_t samples_device_max_bytes = 2ll << 30;
  std::int64_t samples_per_device = 50'000;
  std::filesystem::path web_dir;  // the web pages (labeling); empty: none served
  // HTTPS (docs/security.md): a certificate and key in PEM files, or with
  // `self_signed` a pair the server makes once in DATA/tls/ (or at these
  // paths when given). Without them plain HTTP, which a host other than a
  // loopback address gets only with `allow_plain_http`.
  std::filesystem::path tls_cert_file, tls_key_file;
  bool self_signed = false;
  bool allow_plain_http = false;
  // Mutual TLS for devices (docs/security.md): whether the server asks
  // clients for a certificate and binds a device's to its enrolled key.
  // Anything but off needs HTTPS.
  DeviceCertificates device_certificates = DeviceCertificates::kOff;
  // Slow clients (docs/security.md): a request head within this many
  // seconds of the accept or the previous response; a body's first bytes
  // within as many, then at least this many bytes a second on average; a
  // response taken by the client at least min_download_rate after as many.
  std::int64_t request_timeout_s = 10;
  std::int64_t min_upload_rate = 1'024;
  std::int64_t min_download_rate = 1'024;
};

class HttpServer;

// The server composed: its data directory locked, every area open on it and
// the HTTP API bound to its port, not serving yet. run_server makes one and
// serves it until a stop signal; a test can make one in its own process to
// ask it what it serves (http().routes()).
// Thread-safety: http().stop() may be called from any thread; the rest from
// the thread that opened it.
class Server {
 public:
  // Prints the bootstrap admin key on stdout, once, on the first start.
  static Result<std::unique_ptr<Server>> open(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  HttpServer& http();
  // Serves requests until http().stop(), then saves the devices' last_seen;
  // false when the listener failed.
  bool serve();

 private:
  struct Parts;
  explicit Server(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

// Blocks until a stop signal; SIGHUP reads the TLS certificate and key
// again. Prints "listening on http://HOST:PORT" (https with TLS, after a line
// "tls pin sha256//...") on stdout once ready (and the bootstrap admin key,
// once, on the first start). Returns the process exit code.
int run_server(ServerOptions options);

// `canopy publishing-key rotate`: rotates the publishing key of the server
// whose data directory this is (publishing_keys.h). The server must be
// stopped (kConflict while it runs); devices learn the new key from their
// next desired state once it starts again. Returns the new key's id.
Result<std::string> rotate_publishing_key_of(const std::filesystem::path& data_dir);

}  // namespace canopy::server
