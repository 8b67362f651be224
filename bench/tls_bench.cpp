// What TLS costs the fleet (docs/security.md), on two servers in one run, one
// serving plain HTTP and one HTTPS with its self-signed certificate (ECDSA
// P-256), each with the same number of enrolled devices:
//   - desired-state polls of every device once per interval, spread evenly
//     (as fleet_bench), over kept-alive connections (each client thread
//     keeps one) and with a new connection per poll, as the agent makes them
//     today: HTTPS latency against HTTP latency on the same schedule;
//   - new connections per second: client threads open a connection for one
//     GET /api/v1/health as fast as they can, so each HTTPS one is a full
//     handshake; the server's CPU per connection, HTTPS against HTTP;
//   - the same against a third server with mutual TLS required
//     (--device-certificates required), each connection presenting an
//     Ed25519 client certificate as an agent does: what the client's
//     certificate adds to a handshake, against the HTTPS server's.
// Prints a Markdown table and, with --markdown FILE, replaces the tls
// section of that file.
#include <curl/curl.h>
#include <sodium.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <thread>

#include "bench_server.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/self_signed.h"
#include "fleet_clients.h"
#include "report.h"

namespace {

using canopy::bench::BenchServer;
using canopy::bench::check;
using canopy::bench::Device;
using canopy::bench::die;
using canopy::bench::fmt;
using canopy::bench::percentile;
using canopy::bench::Target;
using namespace canopy;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

enum class Connections { kKeptAlive, kNewEach };

// A client certificate and its key, PEM files; empty for none.
struct ClientCertificate {
  std::string cert_file, key_file;
};

// One client thread's connection: a libcurl handle kept across requests, so
// that it keeps its connection alive, or told to open a new one (with no TLS
// session to resume) for each request.
class Connection {
 public:
  Connection(const Target& target, Connections mode, const ClientCertificate& client = {})
      : target_(target), curl_(curl_easy_init()) {
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(
        curl_, CURLOPT_WRITEFUNCTION, +[](char*, size_t size, size_t count, void*) { return size * count; });
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &etag_);
    if (!target.pin.empty()) {
      curl_easy_setopt(curl_, CURLOPT_PINNEDPUBLICKEY, target.pin.c_str());
      curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!client.cert_file.empty()) {
      curl_easy_setopt(curl_, CURLOPT_SSLCERT, client.cert_file.c_str());
      curl_easy_setopt(curl_, CURLOPT_SSLKEY, client.key_file.c_str());
    }
    if (mode == Connections::kNewEach) {
      curl_easy_setopt(curl_, CURLOPT_FRESH_CONNECT, 1L);
      curl_easy_setopt(curl_, CURLOPT_FORBID_REUSE, 1L);
      curl_easy_setopt(curl_, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    }
  }
  ~Connection() { curl_easy_cleanup(curl_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // GET `path`; the status, and the ETag into `etag` when one came.
  long get(const std::string& path, const std::vector<std::string>& headers, std::string* etag) {
    curl_slist* list = nullptr;
    for (const auto& header : headers) list = curl_slist_append(list, header.c_str());
    const std::string url = target_.url + path;
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    etag_.clear();
    const CURLcode code = curl_easy_perform(curl_);
    curl_slist_free_all(list);
    if (code != CURLE_OK) die("GET " + path + ": " + curl_easy_strerror(code));
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    if (etag != nullptr && !etag_.empty()) *etag = etag_;
    return status;
  }

 private:
  static size_t on_header(char* data, size_t size, size_t count, void* user) {
    const std::string line(data, size * count);
    if (line.size() > 6 && (line.rfind("ETag:", 0) == 0 || line.rfind("etag:", 0) == 0)) {
      std::string value = line.substr(5);
      while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
      while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
      *static_cast<std::string*>(user) = value;
    }
    return size * count;
  }

  const Target target_;
  CURL* curl_;
  std::string etag_;
};

// Every device polls once per `interval_s`; the latency of each poll in milliseconds.
std::vector<double> poll_load(const Target& target, std::vector<Device>& devices, Connections mode,
                              double interval_s, double duration_s, int threads) {
  return canopy::bench::scheduled_polls(
             devices, interval_s, duration_s, threads,
             [&] {
               return [connection = std::make_shared<Connection>(target, mode)](Device& device) {
                 std::vector<std::string> headers = {"Authorization: Bearer " + device.token};
                 if (!device.etag.empty()) headers.push_back("If-None-Match: " + device.etag);
                 const long status = connection->get("/api/v1/device/desired", headers, &device.etag);
                 if (status != 200 && status != 304) die("poll: HTTP " + std::to_string(status));
               };
             })
      .latencies_ms;
}

struct ConnectionRate {
  double per_second = 0;
  double server_cpu_ms_each = 0;
};

// New connections for GET /api/v1/health as fast as `threads` threads go.
ConnectionRate connection_rate(const Target& target, const BenchServer& server, double duration_s,
                               int threads, const ClientCertificate& client = {}) {
  std::atomic<std::uint64_t> count{0};
  const double cpu_before = server.cpu_seconds();
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      Connection connection(target, Connections::kNewEach, client);
      while (seconds_since(start) < duration_s) {
        if (connection.get("/api/v1/health", {}, nullptr) != 200) die("health");
        ++count;
      }
    });
  for (auto& w : workers) w.join();
  const double elapsed = seconds_since(start);
  const double cpu = server.cpu_seconds() - cpu_before;
  return {static_cast<double>(count) / elapsed,
          cpu * 1000 / static_cast<double>(std::max<std::uint64_t>(count, 1))};
}

struct Figures {
  std::vector<double> kept_alive, new_each;
  ConnectionRate rate;
};

Figures measure(const Target& target, const BenchServer& server, int devices, double interval_s,
                double duration_s, int threads) {
  std::vector<Device> pollers = canopy::bench::enroll(target, "pollers", devices, 8);
  // One pass first, so every device holds an ETag as a running agent does.
  (void)poll_load(target, pollers, Connections::kKeptAlive, 2, 2, threads);
  Figures figures;
  figures.kept_alive = poll_load(target, pollers, Connections::kKeptAlive, interval_s, duration_s, threads);
  figures.new_each = poll_load(target, pollers, Connections::kNewEach, interval_s, duration_s, threads);
  figures.rate = connection_rate(target, server, 5, 4);
  std::fprintf(
      stderr,
      "%s: kept-alive p50 %.2f ms p99 %.2f ms; new connection p50 %.2f ms p99 %.2f ms; %.0f connections/s\n",
      target.url.c_str(), percentile(figures.kept_alive, 0.5), percentile(figures.kept_alive, 0.99),
      percentile(figures.new_each, 0.5), percentile(figures.new_each, 0.99), figures.rate.per_second);
  return figures;
}

std::string latencies(const std::vector<double>& ms) {
  return fmt("%.2f", percentile(ms, 0.5)) + " ms / " + fmt("%.2f", percentile(ms, 0.99)) + " ms";
}

std::string ratio(double a, double b) { return fmt("%.2f", a / std::max(b, 1e-6)); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"What TLS costs the fleet: polls and handshakes over HTTPS against HTTP", "tls_bench"};
  std::string canopy_path, work_dir = "bench-work", markdown;
  int devices = 10000, threads = 32;
  double interval_s = 10, duration_s = 20;
  app.add_option("--canopy", canopy_path, "path of the canopy binary")->required();
  app.add_option("--work", work_dir, "scratch directory (default ./bench-work)");
  app.add_option("--devices", devices, "devices polling (default 10000)");
  app.add_option("--interval", interval_s, "seconds between one device's polls (default 10)");
  app.add_option("--duration", duration_s, "seconds of polling measured per mode (default 20)");
  app.add_option("--threads", threads, "client threads for the polls (default 32)");
  app.add_option("--markdown", markdown, "Markdown file whose tls section is replaced with the results");
  CLI11_PARSE(app, argc, argv);
  check(init_crypto(), "crypto");
  curl_global_init(CURL_GLOBAL_DEFAULT);

  const fs::path work = fs::absolute(work_dir) / "tls";
  fs::remove_all(work);
  fs::create_directories(work);
  KeyPair key = KeyPair::generate();
  check(save_key_pair(key, work / "publisher"), "save key");

  Figures plain, tls;
  ConnectionRate mutual;
  {
    BenchServer server(canopy_path, work / "plain", work / "publisher.pub");
    plain = measure(Target(server.url()), server, devices, interval_s, duration_s, threads);
  }
  {
    BenchServer server(canopy_path, work / "tls", work / "publisher.pub", {"--self-signed"});
    if (server.tls_pin().empty()) die("the https server printed no pin");
    tls = measure(Target(server.url(), server.tls_pin()), server, devices, interval_s, duration_s, threads);
  }
  {
    BenchServer server(canopy_path, work / "mutual", work / "publisher.pub",
                       {"--self-signed", "--device-certificates", "required"});
    if (server.tls_pin().empty()) die("the https server printed no pin");
    SelfSignedRequest request;  // as the agent makes its own (src/agent/client_certificate.cpp)
    request.common_name = "canopy-device bench";
    request.client_auth = true;
    request.ed25519_seed.resize(32);
    randombytes_buf(request.ed25519_seed.data(), request.ed25519_seed.size());
    const ClientCertificate client{(work / "client.crt").string(), (work / "client.key").string()};
    check(write_self_signed(request, client.cert_file, client.key_file), "client certificate");
    mutual = connection_rate(Target(server.url(), server.tls_pin()), server, 5, 4, client);
    std::fprintf(stderr, "mutual TLS: %.0f connections/s\n", mutual.per_second);
  }

  const double rate = static_cast<double>(devices) / interval_s;
  std::ostringstream table;
  table << "Measured with `tls_bench` (`build/bench/tls_bench`), " << std::thread::hardware_concurrency()
        << " cores shared by the server and the clients; HTTPS with the self-signed ECDSA P-256 certificate, "
           "TLS 1.3. "
           "Ratios above 1 mean HTTPS is slower.\n\n"
        << "| measure | HTTPS | reference: plain HTTP | ratio |\n|---|---|---|---|\n"
        << "| desired-state poll, " << devices << " devices at " << fmt("%.0f", rate)
        << " polls/s, kept-alive connections (p50 / p99) | " << latencies(tls.kept_alive) << " | "
        << latencies(plain.kept_alive) << " | "
        << ratio(percentile(tls.kept_alive, 0.99), percentile(plain.kept_alive, 0.99)) << " |\n"
        << "| the same, a new connection per poll (p50 / p99) | " << latencies(tls.new_each) << " | "
        << latencies(plain.new_each) << " | "
        << ratio(percentile(tls.new_each, 0.99), percentile(plain.new_each, 0.99)) << " |\n"
        << "| new connections per second, 4 client threads (each HTTPS one a full handshake) | "
        << fmt("%.0f", tls.rate.per_second) << " | " << fmt("%.0f", plain.rate.per_second) << " | "
        << ratio(plain.rate.per_second, tls.rate.per_second) << " |\n"
        << "| server CPU per new connection | " << fmt("%.3f", tls.rate.server_cpu_ms_each) << " ms | "
        << fmt("%.3f", plain.rate.server_cpu_ms_each) << " ms | "
        << ratio(tls.rate.server_cpu_ms_each, plain.rate.server_cpu_ms_each) << " |\n\n"
        << "Mutual TLS (`--device-certificates required`), each connection presenting an Ed25519 client "
           "certificate, against the HTTPS server above; ratios above 1 mean mutual TLS is slower.\n\n"
        << "| measure | mutual TLS | reference: HTTPS | ratio |\n|---|---|---|---|\n"
        << "| new connections per second, 4 client threads | " << fmt("%.0f", mutual.per_second) << " | "
        << fmt("%.0f", tls.rate.per_second) << " | " << ratio(tls.rate.per_second, mutual.per_second)
        << " |\n"
        << "| server CPU per new connection | " << fmt("%.3f", mutual.server_cpu_ms_each) << " ms | "
        << fmt("%.3f", tls.rate.server_cpu_ms_each) << " ms | "
        << ratio(mutual.server_cpu_ms_each, tls.rate.server_cpu_ms_each) << " |\n";
  std::printf("%s", table.str().c_str());
  if (!markdown.empty())
    check(canopy::bench::replace_section(markdown, "tls-bench", table.str()), "write " + markdown);
  return 0;
}
