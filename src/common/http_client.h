// HTTP client on libcurl, for the CLI, the pipeline and the agent.
// - timeouts: connect and total per attempt, plus a stall detector;
// - retries with exponential backoff on network errors, 5xx, 408 and 429
//   (never on other 4xx: the request itself is wrong);
// - uploads stream from a file, downloads stream to a file, both with a
//   progress callback; downloads resume with Range from a `.part` file and
//   land atomically at the destination.
// Thread-safety: an HttpClient may be used by one thread at a time; create one
// per thread (libcurl is initialised once, process-wide).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace canopy {

struct HttpOptions {
  long connect_timeout_ms = 5000;
  long request_timeout_ms = 0;    // 0 = no limit on the whole transfer
  long stall_timeout_s = 30;      // abort when below 1 byte/s for this long
  int max_attempts = 4;           // 1 = no retry
  long backoff_initial_ms = 200;  // doubled after each failed attempt
  long backoff_max_ms = 5000;
  std::vector<std::string> headers;  // e.g. "X-API-KEY: ..."
  // How an https server is trusted (docs/security.md). Neither: the
  // system's CA store. `ca_file`: only the CAs in this PEM file. `server_pin`
  // ("sha256//BASE64", the SHA-256 of the server's public key as
  // `canopy server` prints it): only a server holding that key, whoever
  // signed its certificate. Both: both checks.
  std::string ca_file;
  std::string server_pin;
  // Mutual TLS: the client's certificate and key (PEM); empty: none.
  std::string client_cert_file, client_key_file;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string header(const std::string& lower_name) const;
};

using ProgressCallback = std::function<void(std::uint64_t done, std::uint64_t total)>;

class HttpClient {
 public:
  explicit HttpClient(std::string base_url, HttpOptions options = {});

  // `path` is appended to the base URL. Non-2xx statuses are returned as
  // responses, not errors; errors are for transport failures.
  Result<HttpResponse> get(const std::string& path);
  Result<HttpResponse> send(const std::string& method, const std::string& path, const std::string& body,
                            const std::string& content_type);
  Result<HttpResponse> upload_file(const std::string& method, const std::string& path,
                                   const std::filesystem::path& file, const ProgressCallback& progress = {});
  // Downloads to `destination` (atomically). Resumes a previous `.part` file
  // with a Range request. Returns the final response (its body is empty).
  Result<HttpResponse> download(const std::string& path, const std::filesystem::path& destination,
                                const ProgressCallback& progress = {});

  const std::string& base_url() const { return base_url_; }

 private:
  std::string base_url_;
  HttpOptions options_;
};

// Whether `host` names this machine's loopback ("localhost", 127.0.0.0/8,
// ::1): what is sent to it never crosses a network.
bool is_loopback_host(std::string_view host);
// The host of an http(s) URL, without an IPv6 address's brackets; "" when
// the URL has none.
std::string url_host(std::string_view url);

// Builds a readable error out of a non-2xx response with a JSON {"error": ...} body.
Error http_status_error(const HttpResponse& response, const std::string& what);

}  // namespace canopy
