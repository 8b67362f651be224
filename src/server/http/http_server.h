// The server's HTTP API (docs/api.md, docs/fleet.md): cpp-httplib set up for
// a fleet of pollers, with every area's routes, API-key and device-token
// authentication, and JSON errors for whatever goes wrong, including errors
// httplib produces itself. This folder is the only place that includes
// cpp-httplib; the areas know nothing of HTTP.
// Thread-safety: handlers run on httplib's workers; the areas are
// thread-safe. stop() may be called from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "server/auth/accounts.h"
#include "server/auth/api_keys.h"
#include "server/auth/audit_log.h"
#include "server/auth/failure_limiter.h"
#include "server/datasets/dataset_versions.h"
#include "server/field_data/field_data.h"
#include "server/fleet/fleet.h"
#include "server/http/change_feed.h"
#include "server/http/client_pace.h"
#include "server/http/device_certificates.h"
#include "server/http/request_metrics.h"
#include "server/http/route_access.h"
#include "server/http/tls_credentials.h"
#include "server/labeling/label_queue.h"
#include "server/prelabel/prelabeler.h"
#include "server/registry/registry.h"
#include "server/retrain/drift_monitor.h"
#include "server/retrain/retrain_jobs.h"
#include "server/runs/run_records.h"
#include "server/samples/sample_store.h"

namespace httplib {
class Server;
}

namespace canopy::server {

struct Access;

// The areas the routes serve; each must outlive the HttpServer.
struct ServerAreas {
  ApiKeys& keys;
  Accounts& accounts;
  AuditLog& audit;
  Registry& registry;
  RunRecords& runs;
  Fleet& fleet;
  FieldData& field_data;
  SampleStore& samples;
  LabelQueue& labeling;
  DatasetVersions& datasets;
  Prelabeler& prelabeler;
  RetrainJobs& retrain;
  DriftMonitor& drift;
  Clock& clock;
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 picks a free port
  std::uint64_t max_upload_bytes = 4ull << 30;
  std::filesystem::path web_dir;  // the web pages; empty: none served
  // HTTPS with this certificate (chain) and key, both PEM; empty: plain HTTP.
  std::filesystem::path tls_cert_file, tls_key_file;
  // Mutual TLS for devices (device_certificates.h); needs HTTPS. Default off.
  DeviceCertificates device_certificates = DeviceCertificates::kOff;
  // How slow a client may be before it is dropped (client_pace.h).
  ClientPace pace;
};

class HttpServer {
 public:
  // Registers every route and binds the listening socket (kNetwork when the
  // address cannot be had).
  static Result<std::unique_ptr<HttpServer>> bind(const ServerAreas& areas, const HttpServerOptions& options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // "https" or "http".
  const char* scheme() const { return tls_ ? "https" : "http"; }
  // The certificate's public-key pin (TlsCredentials::pin); "" for HTTP.
  std::string tls_pin() const;
  // Every route the server answers, with who may call it, in the order
  // requests are matched against them.
  const std::vector<RouteInfo>& routes() const { return routes_; }
  // Reads the certificate and key files again for new connections; open
  // ones keep theirs. On an error the pair in use stays.
  Status reload_tls();
  // Failed authentications and the requests refused for them (docs/security.md).
  FailureLimiter::Counts failed_authentications() const;
  // Serves requests until stop(); false when the listener failed.
  bool serve();
  void stop();

 private:
  HttpServer(std::unique_ptr<httplib::Server> http, std::unique_ptr<Access> access,
             std::unique_ptr<RequestMetrics> metrics, std::unique_ptr<TlsCredentials> tls,
             std::unique_ptr<FailureLimiter> failures, std::unique_ptr<ChangeFeed> changes,
             std::vector<RouteInfo> routes, int port);
  std::unique_ptr<Access> access_;            // the routes hold references to it
  std::unique_ptr<RequestMetrics> metrics_;   // the routes count into it
  std::unique_ptr<TlsCredentials> tls_;       // the handshakes hold a pointer to it
  std::unique_ptr<FailureLimiter> failures_;  // the pre-routing handler and the logger hold references
  std::unique_ptr<ChangeFeed> changes_;       // the logger and the event streams hold references
  std::unique_ptr<httplib::Server> http_;
  std::vector<RouteInfo> routes_;
  int port_;
};

}  // namespace canopy::server
