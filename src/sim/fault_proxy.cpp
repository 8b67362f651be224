#include "sim/fault_proxy.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace canopy::sim {

namespace {

constexpr int kPollMs = 100;  // how soon a relay notices the link going offline or the proxy stopping
constexpr std::size_t kMaxChunkBytes = 64 * 1024;
// A dropped connection is cut within this many bytes of the server's answer,
// so a small API response is usually lost too, not only large downloads.
constexpr std::int64_t kMaxBytesBeforeDrop = 4096;

// Closes with a TCP reset, as a broken link looks to the peer.
void reset(int fd) {
  linger hard{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(fd);
}

bool send_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    data += sent;
    size -= static_cast<std::size_t>(sent);
  }
  return true;
}

int connect_to(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  return fd;
}

}  // namespace

Status check_reachable(const std::string& host, int port) {
  const int fd = connect_to(host, port);
  if (fd < 0)
    return make_error(ErrorCode::kNetwork, "cannot connect to " + host + ":" + std::to_string(port));
  ::close(fd);
  return {};
}

Result<std::unique_ptr<FaultProxy>> FaultProxy::start(const std::string& upstream_host, int upstream_port,
                                                      const LinkFaults& faults, unsigned seed) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return make_error(ErrorCode::kIo, std::string("cannot create a socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 128) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int code = errno;
    ::close(fd);
    return make_error(ErrorCode::kIo,
                      std::string("cannot listen on a loopback port: ") + std::strerror(code));
  }
  return std::unique_ptr<FaultProxy>(
      new FaultProxy(fd, ntohs(address.sin_port), upstream_host, upstream_port, faults, seed));
}

FaultProxy::FaultProxy(int listen_fd, int port, std::string upstream_host, int upstream_port,
                       const LinkFaults& faults, unsigned seed)
    : listen_fd_(listen_fd),
      port_(port),
      upstream_host_(std::move(upstream_host)),
      upstream_port_(upstream_port),
      faults_(faults),
      random_(seed),
      link_free_at_(std::chrono::steady_clock::now()),
      acceptor_([this] { accept_loop(); }) {}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  acceptor_.join();
  for (auto& relay : relays_) relay.thread.join();
  ::close(listen_fd_);
}

LinkStats FaultProxy::stats() const { return {connections_, refused_, dropped_, bytes_}; }

void FaultProxy::join_finished() {
  auto finished =
      std::partition(relays_.begin(), relays_.end(), [](const Connection& c) { return !*c.done; });
  for (auto it = finished; it != relays_.end(); ++it) it->thread.join();
  relays_.erase(finished, relays_.end());
}

void FaultProxy::accept_loop() {
  std::bernoulli_distribution drop(faults_.drop_rate);
  std::uniform_int_distribution<std::int64_t> cut_at(0, kMaxBytesBeforeDrop);
  while (!stopping_) {
    join_finished();
    pollfd listening{listen_fd_, POLLIN, 0};
    if (::poll(&listening, 1, kPollMs) <= 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++connections_;
    if (offline_) {
      ++refused_;
      reset(client);
      continue;
    }
    const int server = connect_to(upstream_host_, upstream_port_);
    if (server < 0) {
      // The server is down: the device sees what it would see without a proxy.
      reset(client);
      continue;
    }
    const std::int64_t cut_after = drop(random_) ? cut_at(random_) : -1;
    auto done = std::make_shared<std::atomic<bool>>(false);
    relays_.push_back({std::thread([this, client, server, cut_after, done] {
                         relay(client, server, cut_after);
                         *done = true;
                       }),
                       done});
  }
}

void FaultProxy::throttle(std::size_t bytes) {
  if (faults_.bandwidth_kbps <= 0) return;
  const auto duration =
      std::chrono::microseconds(static_cast<std::int64_t>(bytes) * 8000 / faults_.bandwidth_kbps);
  std::chrono::steady_clock::time_point free_at;
  {
    std::lock_guard lock(bandwidth_mutex_);
    link_free_at_ = std::max(link_free_at_, std::chrono::steady_clock::now()) + duration;
    free_at = link_free_at_;
  }
  std::this_thread::sleep_until(free_at);
}

void FaultProxy::relay(int client_fd, int server_fd, std::int64_t cut_after_bytes) {
  // Under a bandwidth cap, chunks of about a quarter second each keep the
  // link's connections interleaved and the offline switch responsive.
  const std::size_t chunk_bytes =
      faults_.bandwidth_kbps > 0
          ? std::clamp<std::size_t>(static_cast<std::size_t>(faults_.bandwidth_kbps) * 1000 / 8 / 4, 512,
                                    kMaxChunkBytes)
          : kMaxChunkBytes;
  std::vector<char> buffer(chunk_bytes);
  pollfd fds[2] = {{client_fd, POLLIN, 0}, {server_fd, POLLIN, 0}};
  std::int64_t downstream_bytes = 0;
  bool cut = false;
  bool closed = false;
  while (!closed && !cut && !stopping_) {
    if (offline_) {
      cut = true;
      break;
    }
    const int ready = ::poll(fds, 2, kPollMs);
    if (ready < 0 && errno != EINTR) break;
    for (int from = 0; ready > 0 && from < 2 && !closed && !cut; ++from) {
      if ((fds[from].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t received = ::recv(fds[from].fd, buffer.data(), buffer.size(), 0);
      if (received <= 0) {
        closed = true;
        break;
      }
      std::size_t count = static_cast<std::size_t>(received);
      const bool downstream = from == 1;
      if (downstream && cut_after_bytes >= 0 && downstream_bytes + received >= cut_after_bytes) {
        count = static_cast<std::size_t>(cut_after_bytes - downstream_bytes);
        cut = true;
      }
      if (faults_.latency_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(faults_.latency_ms));
      throttle(count);
      if (!send_all(fds[1 - from].fd, buffer.data(), count)) closed = true;
      bytes_ += count;
      if (downstream) downstream_bytes += static_cast<std::int64_t>(count);
    }
  }
  if (cut) {
    ++dropped_;
    reset(client_fd);
    reset(server_fd);
  } else {
    ::close(client_fd);
    ::close(server_fd);
  }
}

}  // namespace canopy::sim
