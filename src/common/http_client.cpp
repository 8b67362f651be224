#include "common/http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <thread>

#include "common/files.h"
#include "common/json.h"

namespace canopy {

namespace {

void ensure_curl_initialised() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool is_retryable_status(long status) { return status >= 500 || status == 408 || status == 429; }

// The state one attempt's libcurl callbacks write into.
struct Attempt {
  HttpResponse response;
  CURL* curl = nullptr;
  // Download target; bytes of a non-2xx response go to the body instead.
  std::FILE* sink = nullptr;
  std::uint64_t resume_offset = 0;
  bool sink_checked = false;
  bool sink_failed = false;
  std::uint64_t progress_base = 0;
  const ProgressCallback* progress = nullptr;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* attempt = static_cast<Attempt*>(user);
  std::string line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    attempt->response.headers.clear();  // a new response (after 100 Continue or a redirect)
    return line.size();
  }
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    auto first = value.find_first_not_of(" \t");
    auto last = value.find_last_not_of(" \t\r\n");
    attempt->response.headers[name] = first == std::string::npos ? "" : value.substr(first, last - first + 1);
  }
  return line.size();
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* attempt = static_cast<Attempt*>(user);
  size_t bytes = size * count;
  if (attempt->sink != nullptr) {
    if (!attempt->sink_checked) {
      attempt->sink_checked = true;
      long status = 0;
      curl_easy_getinfo(attempt->curl, CURLINFO_RESPONSE_CODE, &status);
      if (status == 200 && attempt->resume_offset > 0) {
        // The server ignored our Range: start the file over.
        if (std::fflush(attempt->sink) != 0 || ::ftruncate(fileno(attempt->sink), 0) != 0 ||
            std::fseek(attempt->sink, 0, SEEK_SET) != 0) {
          attempt->sink_failed = true;
          return 0;
        }
        attempt->progress_base = 0;
      } else if (status < 200 || status >= 300) {
        attempt->sink = nullptr;  // an error body: keep it for the message
      }
    }
    if (attempt->sink != nullptr) {
      if (std::fwrite(data, 1, bytes, attempt->sink) != bytes) {
        attempt->sink_failed = true;
        return 0;
      }
      return bytes;
    }
  }
  attempt->response.body.append(data, bytes);
  return bytes;
}

int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
  auto* attempt = static_cast<Attempt*>(user);
  if (attempt->progress != nullptr && *attempt->progress) {
    if (ultotal > 0) {
      (*attempt->progress)(static_cast<std::uint64_t>(ulnow), static_cast<std::uint64_t>(ultotal));
    } else if (dltotal > 0) {
      (*attempt->progress)(attempt->progress_base + static_cast<std::uint64_t>(dlnow),
                           attempt->progress_base + static_cast<std::uint64_t>(dltotal));
    }
  }
  return 0;
}

size_t read_from_file(char* buffer, size_t size, size_t count, void* user) {
  return std::fread(buffer, size, count, static_cast<std::FILE*>(user));
}

void set_server_trust(CURL* curl, const HttpOptions& options) {
  if (!options.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
  if (!options.server_pin.empty()) {
    curl_easy_setopt(curl, CURLOPT_PINNEDPUBLICKEY, options.server_pin.c_str());
    // The pin is the trust: a self-signed certificate has no CA to chain
    // to, and its name need not match. libcurl checks the pin either way.
    if (options.ca_file.empty()) {
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  }
  if (!options.client_cert_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, options.client_cert_file.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, options.client_key_file.c_str());
  }
}

// A server that fails its identity check stays refused: asking again gets
// the same certificate.
bool is_trust_failure(CURLcode code) {
  return code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
         code == CURLE_SSL_CACERT_BADFILE || code == CURLE_SSL_CERTPROBLEM;
}

// Runs `setup` + perform up to max_attempts times with backoff.
template <typename Setup>
Result<HttpResponse> perform_with_retries(const HttpOptions& options, const std::string& url,
                                          const ProgressCallback* progress, Setup setup) {
  ensure_curl_initialised();
  long backoff_ms = options.backoff_initial_ms;
  std::string last_error;
  for (int attempt_number = 1; attempt_number <= std::max(1, options.max_attempts); ++attempt_number) {
    CURL* curl = curl_easy_init();
    if (curl == nullptr) return make_error(ErrorCode::kInternal, "libcurl could not create a handle");
    Attempt attempt;
    attempt.curl = curl;
    attempt.progress = progress;
    curl_slist* header_list = nullptr;
    for (const auto& h : options.headers) header_list = curl_slist_append(header_list, h.c_str());
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, options.connect_timeout_ms);
    if (options.request_timeout_ms > 0)
      curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, options.request_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, options.stall_timeout_s);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &attempt);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &attempt);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &attempt);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    set_server_trust(curl, options);
    Status prepared = setup(curl, attempt, header_list);
    CURLcode code = CURLE_OK;
    if (prepared.ok()) {
      curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
      code = curl_easy_perform(curl);
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &attempt.response.status);
    }
    curl_slist_free_all(header_list);
    curl_easy_cleanup(curl);
    if (!prepared.ok()) return prepared.error();
    if (attempt.sink_failed) return make_error(ErrorCode::kIo, "cannot write the downloaded data to disk");
    if (code == CURLE_OK && !is_retryable_status(attempt.response.status)) return attempt.response;
    if (is_trust_failure(code)) {
      // Logged where it happens: to a program that retries, such as the
      // agent, it is one more failed request, but it may be an attack.
      spdlog::error("http.server_refused url={} reason=\"{}\"", url, curl_easy_strerror(code));
      return make_error(ErrorCode::kNetwork, "refusing the server at " + url + ": " +
                                                 curl_easy_strerror(code) +
                                                 " (check the CA file or pin it was given)");
    }
    last_error = code != CURLE_OK ? std::string(curl_easy_strerror(code))
                                  : "HTTP " + std::to_string(attempt.response.status);
    if (attempt_number < options.max_attempts) {
      spdlog::info("http.retry url={} attempt={} error=\"{}\" backoff_ms={}", url, attempt_number, last_error,
                   backoff_ms);
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min(backoff_ms * 2, options.backoff_max_ms);
    } else if (code == CURLE_OK) {
      return attempt.response;  // a 5xx after the last attempt is still an answer
    }
  }
  return make_error(ErrorCode::kNetwork, "request to " + url + " failed after " +
                                             std::to_string(options.max_attempts) +
                                             " attempts: " + last_error);
}

}  // namespace

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

HttpClient::HttpClient(std::string base_url, HttpOptions options)
    : base_url_(std::move(base_url)), options_(std::move(options)) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

Result<HttpResponse> HttpClient::get(const std::string& path) {
  return perform_with_retries(options_, base_url_ + path, nullptr,
                              [](CURL*, Attempt&, curl_slist*&) -> Status { return {}; });
}

Result<HttpResponse> HttpClient::send(const std::string& method, const std::string& path,
                                      const std::string& body, const std::string& content_type) {
  return perform_with_retries(
      options_, base_url_ + path, nullptr, [&](CURL* curl, Attempt&, curl_slist*& headers) -> Status {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
        if (method != "GET" && method != "DELETE") {
          curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
          curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        }
        headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
        return {};
      });
}

Result<HttpResponse> HttpClient::upload_file(const std::string& method, const std::string& path,
                                             const std::filesystem::path& file,
                                             const ProgressCallback& progress) {
  std::FILE* in = nullptr;
  auto result = perform_with_retries(
      options_, base_url_ + path, &progress, [&](CURL* curl, Attempt&, curl_slist*& headers) -> Status {
        if (in != nullptr) std::fclose(in);
        in = std::fopen(file.c_str(), "rb");
        if (in == nullptr) return make_error(ErrorCode::kIo, "cannot open " + file.string());
        std::error_code ec;
        auto size = std::filesystem::file_size(file, ec);
        if (ec) return make_error(ErrorCode::kIo, "cannot read the size of " + file.string());
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_from_file);
        curl_easy_setopt(curl, CURLOPT_READDATA, in);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
        headers = curl_slist_append(headers, "Content-Type: application/zip");
        return {};
      });
  if (in != nullptr) std::fclose(in);
  return result;
}

Result<HttpResponse> HttpClient::download(const std::string& path, const std::filesystem::path& destination,
                                          const ProgressCallback& progress) {
  const std::filesystem::path part = destination.string() + ".part";
  std::FILE* out = nullptr;
  auto result = perform_with_retries(
      options_, base_url_ + path, &progress, [&](CURL* curl, Attempt& attempt, curl_slist*&) -> Status {
        if (out != nullptr) std::fclose(out);
        out = std::fopen(part.c_str(), "ab");
        if (out == nullptr) return make_error(ErrorCode::kIo, "cannot open " + part.string());
        std::fseek(out, 0, SEEK_END);
        long offset = std::ftell(out);
        attempt.sink = out;
        attempt.resume_offset = static_cast<std::uint64_t>(std::max(0L, offset));
        attempt.progress_base = attempt.resume_offset;
        if (offset > 0) {
          spdlog::info("http.resume url={} offset={}", base_url_ + path, offset);
          curl_easy_setopt(curl, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(offset));
        }
        return {};
      });
  if (out != nullptr) std::fclose(out);
  if (!result.ok()) return result;
  if (result->status == 416) {
    // Our partial file is not a prefix of what the server has: start over once.
    std::filesystem::remove(part);
    return download(path, destination, progress);
  }
  if (result->status < 200 || result->status >= 300) return result;
  CANOPY_TRY(commit_file(part, destination));
  return result;
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr address{};
  const std::string text(host);
  return inet_pton(AF_INET, text.c_str(), &address) == 1 && (ntohl(address.s_addr) >> 24) == 127;
}

std::string url_host(std::string_view url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const std::size_t at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  if (rest.starts_with('[')) return std::string(rest.substr(1, rest.find(']') - 1));
  return std::string(rest.substr(0, rest.find(':')));
}

Error http_status_error(const HttpResponse& response, const std::string& what) {
  std::string detail;
  auto body = parse_json(response.body);
  if (body.ok() && body->is_object() && body->contains("error")) {
    const Json& error = (*body)["error"];
    detail = error.is_object() ? error.value("message", "") : error.dump();
  } else {
    detail = response.body.substr(0, 200);
  }
  ErrorCode code = ErrorCode::kInternal;
  switch (response.status) {
    case 400:
    case 422:
      code = ErrorCode::kInvalidArgument;
      break;
    case 401:
      code = ErrorCode::kUnauthenticated;
      break;
    case 403:
      code = ErrorCode::kPermissionDenied;
      break;
    case 404:
      code = ErrorCode::kNotFound;
      break;
    case 409:
      code = ErrorCode::kConflict;
      break;
    case 413:
      code = ErrorCode::kTooLarge;
      break;
    default:
      break;
  }
  return make_error(code, what + " failed (HTTP " + std::to_string(response.status) + "): " + detail);
}

}  // namespace canopy
