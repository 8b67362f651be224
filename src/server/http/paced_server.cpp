#include "server/http/paced_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <type_traits>

namespace canopy::server {

std::size_t client_header_count(const httplib::Request& req) {
  constexpr std::size_t kAddedByHttplib = 4;
  return req.headers.size() > kAddedByHttplib ? req.headers.size() - kAddedByHttplib : 0;
}

namespace {

// What the pool tells the worker about the connection it is about to serve
// (httplib hands the pool only a closure): when the listener accepted it,
// and whether it is to be closed unserved.
thread_local std::int64_t accepted_ms = 0;
thread_local bool shed = false;

class PacedTaskQueue final : public httplib::TaskQueue {
 public:
  PacedTaskQueue(const WorkerLimits& limits, Clock& clock)
      : pool_(limits.workers), max_waiting_(limits.max_waiting), clock_(clock) {}

  // Called by the listener right after each accept.
  void enqueue(std::function<void()> serve) override {
    if (waiting_.load() >= max_waiting_) {
      // Too many wait already: closed here, on the listener's thread, unread.
      // Logged once per spell, not per connection, or a flood fills the log.
      if (refused_++ == 0)
        spdlog::warn("http.connection_refused reason=\"{} connections wait for a worker\"", max_waiting_);
      shed = true;
      serve();
      shed = false;
      return;
    }
    if (refused_ > 0) {
      spdlog::warn("http.connections_accepted_again refused={}", refused_);
      refused_ = 0;
    }
    ++waiting_;
    pool_.enqueue([this, serve = std::move(serve), at = clock_.monotonic_ms()] {
      --waiting_;
      accepted_ms = at;
      serve();
    });
  }
  void shutdown() override { pool_.shutdown(); }

 private:
  httplib::ThreadPool pool_;
  const std::size_t max_waiting_;
  Clock& clock_;
  std::atomic<std::size_t> waiting_{0};
  std::uint64_t refused_ = 0;  // in this spell; the listener's thread alone
};

void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  auto* raw = reinterpret_cast<sockaddr*>(&address);
  if ((peer ? ::getpeername(fd, raw, &size) : ::getsockname(fd, raw, &size)) != 0) return;
  if (address.ss_family == AF_INET)
    port = ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
  else if (address.ss_family == AF_INET6)
    port = ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  else
    return;
  std::array<char, NI_MAXHOST> text{};
  if (::getnameinfo(raw, size, text.data(), text.size(), nullptr, 0, NI_NUMERICHOST) == 0) ip = text.data();
}

// One connection's socket (and TLS session) as the Stream httplib reads its
// requests from and answers them on. Every read gives up at the request's
// deadline (client_pace.h) as well as after the read timeout; the head is
// handed out line by line so its lines and bytes can be counted. The socket
// is non-blocking: a blocking read, above all a TLS record trickled a byte
// at a time, would wait past any deadline.
class PacedStream final : public httplib::Stream {
 public:
  PacedStream(int fd, SSL* ssl, const ClientPace& pace, Clock& clock, int read_timeout_ms,
              int write_timeout_ms)
      : fd_(fd),
        ssl_(ssl),
        pace_(pace),
        clock_(clock),
        read_timeout_ms_(read_timeout_ms),
        write_timeout_ms_(write_timeout_ms) {}

  // A request's head, to be complete by the head deadline from `since_ms`.
  void begin_head(std::int64_t since_ms) {
    phase_ = ReadPhase::kHead;
    phase_start_ms_ = since_ms;
    head_bytes_ = line_bytes_ = lines_ = 0;
    response_start_ms_ = -1;
  }
  // The head has been read (httplib's setup_request): the body, if any, is paced from now.
  void begin_body() {
    phase_ = ReadPhase::kBody;
    phase_start_ms_ = clock_.monotonic_ms();
    body_bytes_ = 0;
  }
  // Whether the connection cannot serve another request: its head was cut
  // short for its header count, or a read failed, and the rest of the
  // request is still unread.
  bool spent() const { return cut_ || failed_; }

  // The TLS handshake, within the head's deadline.
  bool accept_tls() {
    for (;;) {
      const int result = SSL_accept(ssl_);
      if (result == 1) return true;
      const int error = SSL_get_error(ssl_, result);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) return false;
      if (!wait_for(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, "handshake")) return false;
    }
  }

  // Waits up to `keep_alive_ms`, and never past the head's deadline, for
  // the next request to begin.
  bool next_request_arrives(int keep_alive_ms) {
    if (pos_ < end_ || (ssl_ && SSL_pending(ssl_) > 0)) return true;
    const std::int64_t left = read_deadline_ms(pace_, phase_, phase_start_ms_, 0) - clock_.monotonic_ms();
    return poll_once(POLLIN, static_cast<int>(std::clamp<std::int64_t>(left, 0, keep_alive_ms))) > 0;
  }

  bool is_readable() const override {
    return pos_ < end_ || (ssl_ && SSL_pending(ssl_) > 0) || poll_once(POLLIN, read_timeout_ms_) > 0;
  }
  // As httplib's: writable, and not closed by the client (an event stream
  // learns so that its client is gone).
  bool is_writable() const override {
    if (poll_once(POLLOUT, write_timeout_ms_) <= 0) return false;
    if (poll_once(POLLIN, 0) <= 0) return true;
    char byte;
    return ::recv(fd_, &byte, 1, MSG_PEEK) > 0;
  }

  ssize_t read(char* ptr, size_t size) override {
    if (size == 0) return 0;
    if (phase_ == ReadPhase::kHead) return read_head(ptr, size);
    if (cut_) return -1;  // the rest of an over-long head is no body
    if (pos_ < end_) {
      const std::size_t n = std::min(size, end_ - pos_);
      std::memcpy(ptr, buffer_.data() + pos_, n);
      pos_ += n;
      return static_cast<ssize_t>(n);
    }
    // Small reads (a chunked body's size lines come a byte at a time) go
    // through the buffer; large ones straight to the caller.
    const bool buffered = size < buffer_.size();
    const ssize_t n = receive(buffered ? buffer_.data() : ptr, buffered ? buffer_.size() : size);
    if (n <= 0) return n;
    body_bytes_ += static_cast<std::uint64_t>(n);
    if (!buffered) return n;
    pos_ = 0;
    end_ = static_cast<std::size_t>(n);
    return read(ptr, size);
  }

  // Each write waits at most the write timeout, as httplib's, and never
  // past the response's deadline (client_pace.h).
  ssize_t write(const char* ptr, size_t size) override {
    if (size == 0) return 0;
    const std::int64_t give_up_ms = clock_.monotonic_ms() + write_timeout_ms_;
    if (response_start_ms_ < 0) {
      response_start_ms_ = clock_.monotonic_ms();
      written_at_response_start_ = written_bytes_;
    }
    for (;;) {
      short wanted = POLLOUT;
      if (ssl_) {
        const int n = SSL_write(ssl_, ptr, static_cast<int>(std::min<size_t>(size, 1 << 30)));
        if (n > 0) {
          written_bytes_ += static_cast<std::uint64_t>(n);
          return n;
        }
        const int error = SSL_get_error(ssl_, n);
        if (error == SSL_ERROR_WANT_READ)
          wanted = POLLIN;
        else if (error != SSL_ERROR_WANT_WRITE)
          return -1;
      } else {
        const ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
        if (n >= 0) {
          written_bytes_ += static_cast<std::uint64_t>(n);
          return n;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      }
      const std::int64_t now = clock_.monotonic_ms();
      const std::int64_t deadline = response_deadline_ms(pace_, response_start_ms_, delivered());
      if (now >= deadline) {
        drop("response");
        return -1;
      }
      if (now >= give_up_ms) return -1;
      // A wait that ends at either time goes round to the checks above.
      if (poll_once(wanted, static_cast<int>(std::min(give_up_ms, deadline) - now)) < 0) return -1;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, false, ip, port); }
  socket_t socket() const override { return fd_; }

 private:
  // httplib reads a head a byte at a time; it is handed out up to the end
  // of a line at most, so the lines are counted exactly.
  ssize_t read_head(char* ptr, size_t size) {
    if (cut_) {
      // A blank line ends the head for httplib after the last header taken.
      if (synthetic_sent_ == 2) return -1;
      *ptr = "\r\n"[synthetic_sent_++];
      return 1;
    }
    if (pos_ == end_) {
      const ssize_t n = receive(buffer_.data(), buffer_.size());
      if (n <= 0) return n;
      pos_ = 0;
      end_ = static_cast<std::size_t>(n);
    }
    std::size_t n = 0;
    while (n < size && pos_ < end_) {
      const char byte = buffer_[pos_++];
      ptr[n++] = byte;
      ++line_bytes_;
      if (byte != '\n') continue;
      // A blank line ends the head; the request line is the first line.
      if (line_bytes_ > 2 && ++lines_ == kMaxRequestHeaders + 2) cut_ = true;
      line_bytes_ = 0;
      break;
    }
    head_bytes_ += n;
    if (head_bytes_ > kMaxRequestHeadBytes) {
      spdlog::info("http.request_head_too_large address={} limit_bytes={}", peer(), kMaxRequestHeadBytes);
      failed_ = true;
      return -1;
    }
    return static_cast<ssize_t>(n);
  }

  // Receives what is there, waiting for it until the request's deadline or
  // the read timeout; 0 when the client closed the connection.
  ssize_t receive(char* into, std::size_t size) {
    for (;;) {
      short wanted = POLLIN;
      if (ssl_) {
        const int n = SSL_read(ssl_, into, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
        if (n > 0) return n;
        const int error = SSL_get_error(ssl_, n);
        if (error == SSL_ERROR_ZERO_RETURN) return 0;
        if (error == SSL_ERROR_WANT_WRITE)
          wanted = POLLOUT;
        else if (error != SSL_ERROR_WANT_READ)
          return -1;
      } else {
        const ssize_t n = ::recv(fd_, into, size, 0);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      }
      if (!wait_for(wanted, phase_ == ReadPhase::kHead ? "head" : "body")) {
        failed_ = true;
        return -1;
      }
    }
  }

  // Waits for the socket until the request's deadline (then the client is
  // dropped) or the read timeout; false when either passed first.
  bool wait_for(short events, const char* phase) {
    for (;;) {
      const std::int64_t now = clock_.monotonic_ms();
      const std::int64_t left = read_deadline_ms(pace_, phase_, phase_start_ms_, body_bytes_) - now;
      if (left <= 0) {
        drop(phase);
        return false;
      }
      const bool deadline_first = left <= read_timeout_ms_;
      const int ready = poll_once(events, static_cast<int>(std::min<std::int64_t>(left, read_timeout_ms_)));
      if (ready > 0) return true;
      // A poll that timed out before the deadline was the read timeout;
      // one that timed out at it goes round to be dropped.
      if (ready < 0 || !deadline_first) return false;
    }
  }

  int poll_once(short events, int timeout_ms) const {
    pollfd entry{fd_, events, 0};
    int ready;
    do ready = ::poll(&entry, 1, timeout_ms);
    while (ready < 0 && errno == EINTR);
    if (ready > 0 && (entry.revents & (POLLERR | POLLNVAL))) return -1;
    return ready;
  }

  std::string peer() const {
    std::string ip;
    int port = 0;
    address_of(fd_, true, ip, port);
    return ip;
  }

  // The bytes of this response the client has taken: those written less
  // those still queued in the socket. Over TLS the queue holds records, a
  // few dozen bytes larger than the text they carry, so a client is
  // credited that much less: nothing a rate in KiB a second notices.
  std::uint64_t delivered() const {
    int queued = 0;
    if (::ioctl(fd_, TIOCOUTQ, &queued) != 0 || queued < 0) queued = 0;
    const std::uint64_t written = written_bytes_ - written_at_response_start_;
    return written > static_cast<std::uint64_t>(queued) ? written - static_cast<std::uint64_t>(queued) : 0;
  }

  // Past its deadline the client is not answered either (httplib would
  // answer a failed read with 400, at the client's pace): the socket is
  // shut down, so the response's write fails at once. Its close resets the
  // connection (a zero linger): what a slow reader left in the send queue,
  // megabytes of a package, is thrown away rather than trickled out to it.
  void drop(const char* phase) {
    spdlog::warn("http.slow_client_dropped address={} phase={} after_ms={} body_bytes={} response_bytes={}",
                 peer(), phase, clock_.monotonic_ms() - phase_start_ms_, body_bytes_,
                 response_start_ms_ < 0 ? 0 : written_bytes_ - written_at_response_start_);
    const linger reset{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::shutdown(fd_, SHUT_RDWR);
  }

  const int fd_;
  SSL* const ssl_;
  const ClientPace& pace_;
  Clock& clock_;
  const int read_timeout_ms_, write_timeout_ms_;

  ReadPhase phase_ = ReadPhase::kHead;
  std::int64_t phase_start_ms_ = 0;
  std::uint64_t body_bytes_ = 0;
  std::int64_t response_start_ms_ = -1;  // the first write of the current response; -1 before it
  std::uint64_t written_bytes_ = 0, written_at_response_start_ = 0;
  std::size_t head_bytes_ = 0, line_bytes_ = 0, lines_ = 0;
  bool cut_ = false, failed_ = false;
  int synthetic_sent_ = 0;

  std::array<char, 4096> buffer_{};
  std::size_t pos_ = 0, end_ = 0;
};

}  // namespace

httplib::TaskQueue* new_paced_task_queue(const WorkerLimits& limits, Clock& clock) {
  return new PacedTaskQueue(limits, clock);
}

template <class Base>
bool PacedServer<Base>::process_and_close_socket(socket_t sock) {
  if (shed) {
    ::close(sock);
    return false;
  }
  ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);
  SSL* ssl = nullptr;
  if constexpr (std::is_same_v<Base, httplib::SSLServer>) {
    ssl = SSL_new(this->ssl_context());
    if (ssl) SSL_set_fd(ssl, sock);
  }
  const auto ms = [](time_t s, time_t us) { return static_cast<int>(s * 1000 + us / 1000); };
  PacedStream stream(sock, ssl, pace_, clock_, ms(this->read_timeout_sec_, this->read_timeout_usec_),
                     ms(this->write_timeout_sec_, this->write_timeout_usec_));
  std::int64_t since_ms = accepted_ms;
  stream.begin_head(since_ms);
  bool served = false;
  const bool secured = std::is_same_v<Base, httplib::Server> || (ssl && stream.accept_tls());
  for (std::size_t left = this->keep_alive_max_count_;
       secured && left > 0 && this->svr_sock_ != INVALID_SOCKET; --left) {
    stream.begin_head(since_ms);
    if (!stream.next_request_arrives(ms(this->keep_alive_timeout_sec_, 0))) break;
    bool closed = false;
    served = this->process_request(stream, left == 1, closed, [&stream, ssl](httplib::Request& req) {
      stream.begin_body();
      req.ssl = ssl;
    });
    if (!served || closed || stream.spent()) break;
    since_ms = clock_.monotonic_ms();
  }
  if (ssl) {
    if (served) SSL_shutdown(ssl);
    SSL_free(ssl);
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return served;
}

template class PacedServer<httplib::Server>;
template class PacedServer<httplib::SSLServer>;

}  // namespace canopy::server
