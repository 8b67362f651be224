// A TCP proxy on loopback that stands for one device's network link: the
// device's agent connects to the proxy, the proxy relays every byte to the
// server and puts the link's faults in between. Faults: latency added to
// every chunk relayed, connections cut at random, a bandwidth cap shared by
// the link's connections, and an offline switch (while set, new connections
// are reset at once and open ones are cut). Byte-level, so the agent and the
// server speak their real protocol through it.
// Thread-safety: set_offline() and stats() may be called from any thread;
// the proxy runs one accept thread and one thread per relayed connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"

namespace canopy::sim {

struct LinkFaults {
  int latency_ms = 0;      // added before every chunk relayed, in each direction
  double drop_rate = 0;    // probability that a connection is cut after a few bytes
  int bandwidth_kbps = 0;  // cap of the link, both directions together; 0: none
};

struct LinkStats {
  std::uint64_t connections = 0;  // accepted, including refused and dropped ones
  std::uint64_t refused = 0;      // reset at once because the link was offline
  std::uint64_t dropped = 0;      // cut by the drop rate or by going offline
  std::uint64_t bytes = 0;        // relayed, both directions
};

// Opens and closes one TCP connection to host:port.
Status check_reachable(const std::string& host, int port);

class FaultProxy {
 public:
  // Listens on 127.0.0.1 (a free port) and relays to upstream_host:upstream_port.
  static Result<std::unique_ptr<FaultProxy>> start(const std::string& upstream_host, int upstream_port,
                                                   const LinkFaults& faults, unsigned seed);
  ~FaultProxy();  // stops accepting, cuts every connection and joins the threads
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  void set_offline(bool offline) { offline_ = offline; }
  bool offline() const { return offline_; }
  LinkStats stats() const;

 private:
  struct Connection {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  FaultProxy(int listen_fd, int port, std::string upstream_host, int upstream_port, const LinkFaults& faults,
             unsigned seed);
  void accept_loop();
  void relay(int client_fd, int server_fd, std::int64_t cut_after_bytes);
  void throttle(std::size_t bytes);
  void join_finished();

  const int listen_fd_;
  const int port_;
  const std::string upstream_host_;
  const int upstream_port_;
  const LinkFaults faults_;
  std::atomic<bool> offline_{false};
  std::atomic<bool> stopping_{false};

  std::atomic<std::uint64_t> connections_{0}, refused_{0}, dropped_{0}, bytes_{0};

  std::mt19937 random_;             // accept thread only
  std::vector<Connection> relays_;  // accept thread and the destructor (after the accept thread ended)

  std::mutex bandwidth_mutex_;
  // When the link is idle again. GUARDED_BY(bandwidth_mutex_)
  std::chrono::steady_clock::time_point link_free_at_;

  std::thread acceptor_;
};

}  // namespace canopy::sim
