#include "server/http/http_server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "server/http/middleware.h"
#include "server/http/paced_server.h"
#include "server/http/routes.h"

namespace canopy::server {

namespace {

using httplib::Request;
using httplib::Response;

// Every open connection holds a worker while it waits for its next request,
// so a fleet of pollers needs far more workers than cores (the work per poll
// is microseconds); idle keep-alive connections are let go after 2 s so they
// cannot hold the pool.
constexpr std::size_t kHttpWorkers = 128;
// Connections waiting for a worker: beyond them a connection is closed as
// soon as it is accepted, so a flood cannot take every file descriptor.
// Each waits at most the head deadline unless its request has arrived.
constexpr std::size_t kMaxWaitingConnections = 1'024;
// Connections the kernel completes before the server accepts them (capped
// by net.core.somaxconn, 4,096 on current kernels).
constexpr int kListenBacklog = 1'024;
// Event streams hold their worker for minutes: a quarter of the pool at most.
constexpr int kMaxEventStreams = static_cast<int>(kHttpWorkers / 4);

void install_error_handlers(httplib::Server& http) {
  // Errors httplib produces itself (no route, body over the payload limit) get a JSON body too.
  http.set_error_handler([](const Request&, Response& res) {
    if (!res.body.empty()) return;
    ErrorCode code = res.status == 404   ? ErrorCode::kNotFound
                     : res.status == 413 ? ErrorCode::kTooLarge
                     : res.status >= 500 ? ErrorCode::kInternal
                                         : ErrorCode::kInvalidArgument;
    std::string message = res.status == 404 ? "no such endpoint; see docs/api.md"
                          : res.status == 413
                              ? "request body is larger than the server's limit"
                              : "request could not be processed (HTTP " + std::to_string(res.status) + ")";
    send_error(res, make_error(code, message), res.status);
  });
  // A handler bug must still answer in JSON, and be logged.
  http.set_exception_handler([](const Request& req, Response& res, std::exception_ptr error) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("http.exception method={} path={} what=\"{}\"", req.method, req.path, what);
    send_error(res, make_error(ErrorCode::kInternal, "internal error; the server log has details"));
  });
}

// `bind_errno` is errno after httplib's failed bind: its bind or listen call
// set it, and the close of the socket that follows leaves it as it was.
Error bind_error(const std::string& host, int port, int bind_errno) {
  const std::string address = host + ":" + std::to_string(port);
  if (bind_errno == EADDRINUSE)
    return make_error(ErrorCode::kConflict, "cannot listen on " + address + ": port " + std::to_string(port) +
                                                " is already in use (another canopy server?); stop that "
                                                "process or pass another --listen HOST:PORT");
  if (bind_errno == EADDRNOTAVAIL)
    return make_error(ErrorCode::kNetwork,
                      "cannot listen on " + address + ": " + host + " is not an address of this machine");
  return make_error(ErrorCode::kNetwork,
                    "cannot listen on " + address +
                        (bind_errno != 0 ? std::string(": ") + std::strerror(bind_errno)
                                         : std::string(" (in use, or not an address of this machine)")));
}

// Whether a 401 answered a guess: a wrong password, enrollment token, API
// key or device token. A credential that was issued and has been revoked or
// has expired since is no guess (a forgotten device or script that keeps
// trying must not shut out its neighbours behind the same address), nor is a
// request that presented nothing, or only a session cookie (a page whose
// session ended); all of these are random secrets no one can guess anyway.
// Nor is a credential presented where it is not taken, a device token on
// the API or an API key on the device routes: it was issued all the same.
bool is_guess(const Request& req, ApiKeys& keys, Fleet& fleet) {
  if (req.method == "POST" && (req.path == "/api/v1/session" || req.path == "/api/v1/enroll")) return true;
  auto issued = [&keys, &fleet](std::string_view secret) {
    return keys.was_issued(secret) || fleet.was_issued(secret);
  };
  const std::string authorization = req.get_header_value("Authorization");
  if (req.path.starts_with("/api/v1/device/") && authorization.starts_with("Bearer "))
    return !issued(std::string_view(authorization).substr(7));
  const std::string key = presented_key(req);
  return !key.empty() && !issued(key);
}

// A head with too many headers gets 431 (the connection loop stopped reading
// it after one too many, paced_server.h); and, as docs/security.md "Brute
// force" says, an address shut out by the limiter gets 429 for every request,
// before its credentials are looked at.
httplib::Server::HandlerResponse refuse_before_routing(FailureLimiter& failures, const Request& req,
                                                       Response& res) {
  if (client_header_count(req) > kMaxRequestHeaders) {
    send_error(res,
               make_error(ErrorCode::kTooLarge,
                          "a request may have at most " + std::to_string(kMaxRequestHeaders) + " headers"),
               431);
    return httplib::Server::HandlerResponse::Handled;
  }
  const std::int64_t wait = failures.wait_ms(req.remote_addr);
  if (wait == 0) return httplib::Server::HandlerResponse::Unhandled;
  failures.record_refused();
  const std::int64_t wait_s = (wait + 999) / 1000;
  res.set_header("Retry-After", std::to_string(wait_s));
  send_json(res, 429,
            {{"error",
              {{"code", "rate_limited"},
               {"message", "too many failed authentications from " + req.remote_addr + "; try again in " +
                               std::to_string(wait_s) + " s"}}}});
  return httplib::Server::HandlerResponse::Handled;
}

// cpp-httplib 0.11 compresses with brotli at its slowest quality (11)
// whenever a client accepts br, which browsers always do: 180 ms per request
// for a 50 KB script, on every page load (docs/benchmarks.md, "Dashboard").
// gzip at zlib's default level takes about a millisecond and compresses the
// pages' files within a tenth of brotli, so the server offers gzip alone.
// httplib hands the handler a const request it owns, and reads
// Accept-Encoding only after routing.
void prefer_gzip(const Request& req) {
  auto& headers = const_cast<Request&>(req).headers;
  auto it = headers.find("Accept-Encoding");
  if (it == headers.end() || it->second.find("br") == std::string::npos) return;
  it->second = it->second.find("gzip") == std::string::npos ? "identity" : "gzip";
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::bind(const ServerAreas& areas,
                                                     const HttpServerOptions& options) {
  std::unique_ptr<TlsCredentials> tls;
  std::unique_ptr<httplib::Server> http;
  if (options.tls_cert_file.empty() != options.tls_key_file.empty())
    return make_error(ErrorCode::kInvalidArgument, "HTTPS needs both a certificate and a key file");
  CANOPY_TRY(
      check_device_certificates_transport(options.device_certificates, !options.tls_cert_file.empty()));
  if (!options.tls_cert_file.empty()) {
    CANOPY_ASSIGN_OR_RETURN(tls, TlsCredentials::load(options.tls_cert_file, options.tls_key_file));
    auto https = std::make_unique<PacedServer<httplib::SSLServer>>(
        options.pace, WorkerLimits{kHttpWorkers, kMaxWaitingConnections}, areas.clock,
        [&credentials = *tls, certificates = options.device_certificates](SSL_CTX& context) {
          if (certificates != DeviceCertificates::kOff) request_client_certificates(context);
          return credentials.configure(context);
        });
    if (!https->is_valid())
      return make_error(ErrorCode::kInternal, "cannot set up TLS: OpenSSL refused the context");
    http = std::move(https);
  } else {
    http = std::make_unique<PacedServer<httplib::Server>>(
        options.pace, WorkerLimits{kHttpWorkers, kMaxWaitingConnections}, areas.clock);
  }
  http->set_read_timeout(30);
  http->set_write_timeout(30);
  http->set_keep_alive_timeout(2);
  http->set_keep_alive_max_count(1000);

  auto access = std::make_unique<Access>(Access{areas.keys, areas.accounts, areas.audit});
  auto metrics = std::make_unique<RequestMetrics>();
  auto failures = std::make_unique<FailureLimiter>(areas.clock);
  Routes routes(*http, *access, areas.fleet, *metrics, options.device_certificates);
  routes.get("/api/v1/health", kPublic, [](const Request&, Response& res) {
    send_json(res, 200, {{"status", "ok"}});
  });
  install_registry_routes(routes, areas.registry, options.max_upload_bytes);
  install_auth_routes(routes, areas.keys, areas.audit);
  install_session_routes(routes, areas.accounts, areas.clock);
  install_runs_routes(routes, areas.runs);
  install_fleet_routes(routes, areas.fleet, areas.registry);
  install_field_data_routes(routes, areas.fleet, areas.field_data, areas.samples, areas.drift);
  install_samples_routes(routes, areas.samples, areas.field_data);
  install_labeling_routes(routes, areas.labeling, areas.samples, areas.prelabeler);
  install_dataset_routes(routes, areas.datasets, areas.samples);
  install_retrain_routes(routes, areas.retrain, areas.drift);
  auto changes = std::make_unique<ChangeFeed>();
  install_event_routes(routes, *changes, kMaxEventStreams, areas.clock);
  install_metrics_routes(
      routes, MetricsSources{*metrics, *failures, areas.fleet, areas.labeling, areas.retrain, areas.runs});
  if (!options.web_dir.empty()) CANOPY_TRY(install_web_files(routes, options.web_dir));

  // Refuse an upload before its body is sent (curl sends Expect: 100-continue
  // for large bodies), so a bad key or an oversize file costs no transfer.
  http->set_expect_100_continue_handler(
      [&access = *access, max_upload_bytes = options.max_upload_bytes](const Request& req, Response& res) {
        if (!is_upload_route(req)) return 100;
        auto key = authorize(access, req, Role::kPublisher);
        if (!key.ok()) {
          send_error(res, key.error());
          return res.status;
        }
        if (req.get_header_value<std::uint64_t>("Content-Length") > max_upload_bytes) {
          send_error(res, upload_too_large(max_upload_bytes));
          return res.status;
        }
        return 100;
      });
  install_error_handlers(*http);
  http->set_payload_max_length(static_cast<size_t>(options.max_upload_bytes));
  http->set_pre_routing_handler([&failures = *failures](const Request& req, Response& res) {
    prefer_gzip(req);
    return refuse_before_routing(failures, req, res);
  });
  // The post-routing handler sees every request's final status, whichever
  // route (or none) answered, before the answer is sent: a guess is counted
  // before the guesser can send the next one.
  http->set_post_routing_handler(
      [&failures = *failures, &keys = areas.keys, &fleet = areas.fleet](const Request& req, Response& res) {
        if (res.status == 401 && is_guess(req, keys, fleet))
          failures.record_failure(req.remote_addr, req.path.starts_with("/api/v1/device/") ? "device token"
                                                   : req.path == "/api/v1/enroll"  ? "enrollment token"
                                                   : req.path == "/api/v1/session" ? "password"
                                                                                   : "api key");
      });
  http->set_logger([&changes = *changes](const Request& req, const Response& res) {
    spdlog::debug("http.request method={} path={} status={}", req.method, req.path, res.status);
    if (res.status >= 200 && res.status < 300 && req.method != "GET" && req.method != "HEAD")
      if (auto topic = change_topic(req.path))
        changes.publish(*topic, req.method, *topic == "access" ? "" : req.path);
  });

  // httplib's default sets SO_REUSEPORT, with which a second server binds the
  // same port and the kernel splits requests between the two stores.
  // SO_REUSEADDR alone still allows a quick restart over TIME_WAIT connections.
  // TCP_NODELAY (inherited by accepted sockets): httplib writes a response's
  // headers and body separately, and over TLS each is a record of its own;
  // with Nagle's algorithm the second waits for the client's delayed ACK,
  // 40 ms per request.
  // The socket is remembered for the backlog below: httplib calls this for
  // each address it tries and keeps the last socket it made.
  auto listening = std::make_shared<socket_t>(-1);
  http->set_socket_options([listening](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    *listening = sock;
  });

  int port = options.port;
  errno = 0;
  if (port == 0) {
    port = http->bind_to_any_port(options.host);
    if (port <= 0) return bind_error(options.host, 0, errno);
  } else if (!http->bind_to_port(options.host, port)) {
    return bind_error(options.host, port, errno);
  }
  // Debian's libcpp-httplib is built to listen with a backlog of 5. When
  // handshakes keep both cores busy, a burst of new connections (a fleet
  // reconnecting after an outage) overflows it, and each dropped SYN waits a
  // second for its retransmission (docs/benchmarks.md, "TLS"). listen() on a
  // listening socket sets a new backlog.
  if (::listen(*listening, kListenBacklog) != 0)
    spdlog::warn("http.backlog_unchanged backlog={} error=\"{}\"", kListenBacklog, std::strerror(errno));
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(http), std::move(access), std::move(metrics),
                                                    std::move(tls), std::move(failures), std::move(changes),
                                                    routes.list(), port));
}

HttpServer::HttpServer(std::unique_ptr<httplib::Server> http, std::unique_ptr<Access> access,
                       std::unique_ptr<RequestMetrics> metrics, std::unique_ptr<TlsCredentials> tls,
                       std::unique_ptr<FailureLimiter> failures, std::unique_ptr<ChangeFeed> changes,
                       std::vector<RouteInfo> routes, int port)
    : access_(std::move(access)),
      metrics_(std::move(metrics)),
      tls_(std::move(tls)),
      failures_(std::move(failures)),
      changes_(std::move(changes)),
      http_(std::move(http)),
      routes_(std::move(routes)),
      port_(port) {}

FailureLimiter::Counts HttpServer::failed_authentications() const { return failures_->counts(); }

std::string HttpServer::tls_pin() const { return tls_ ? tls_->pin() : ""; }

Status HttpServer::reload_tls() {
  if (!tls_)
    return make_error(ErrorCode::kConflict,
                      "the server speaks plain HTTP; there is no certificate to reload");
  return tls_->reload();
}

HttpServer::~HttpServer() = default;

bool HttpServer::serve() { return http_->listen_after_bind(); }

void HttpServer::stop() {
  changes_->close();  // event streams end, so their workers are free to join
  http_->stop();
}

}  // namespace canopy::server
