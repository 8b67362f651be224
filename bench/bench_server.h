// What the server benchmarks share: a real `canopy server` on a free
// loopback port (stopped with SIGTERM by the destructor), its CPU time and
// peak memory from /proc, and signed packages of random weights to publish.
// Thread-safety: one thread owns a BenchServer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/keys.h"
#include "common/subprocess.h"

namespace canopy::bench {

inline constexpr const char* kAdminKey = "bench-admin-key-0123456789";

class BenchServer {
 public:
  // Runs `canopy server --data DATA --listen 127.0.0.1:0 --trusted-key KEY
  // EXTRA...` with kAdminKey as its admin key; dies if it does not listen
  // within 30 s.
  BenchServer(const std::filesystem::path& canopy, const std::filesystem::path& data,
              const std::filesystem::path& trusted_key, const std::vector<std::string>& extra_args = {});
  ~BenchServer();
  BenchServer(const BenchServer&) = delete;
  BenchServer& operator=(const BenchServer&) = delete;

  const std::string& url() const { return url_; }
  // The pin of the server's certificate ("tls pin" line); "" for HTTP.
  const std::string& tls_pin() const { return tls_pin_; }
  // From the start to the "listening" line.
  double startup_seconds() const { return startup_seconds_; }
  // CPU seconds (user + system) the server has used so far.
  double cpu_seconds() const;
  // The server's peak resident memory (VmHWM), in MiB.
  double peak_rss_mib() const;

 private:
  std::unique_ptr<Subprocess> process_;
  std::string url_, tls_pin_;
  double startup_seconds_ = 0;
};

// A package of model `name` whose model file is `size_bytes` of random bytes
// from `seed`, signed by `key`, written to `output` (returned).
std::filesystem::path make_random_package(const std::filesystem::path& work, const std::string& name,
                                          std::uint64_t size_bytes, unsigned seed, const KeyPair& key,
                                          const std::filesystem::path& output);

}  // namespace canopy::bench
