// Slow clients and oversized heads (docs/security.md, "Request bounds and
// slow clients"), against the real server with a short deadline: a head or
// a body trickled over raw sockets is dropped at its deadline while other
// clients keep being served, a body sent slowly but fast enough is read
// whole, a download taken too slowly is dropped while one taken fast enough
// arrives whole, and a request with too many headers is answered 431.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/files.h"
#include "common/http_client.h"
#include "registry_fixture.h"
#include "test_support.h"

namespace canopy::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

int port_of(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

// A client that writes whatever it is told, as slowly as it is told.
class RawClient {
 public:
  explicit RawClient(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }

  bool send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Whether the server has closed the connection (waiting up to `wait_ms`);
  // whatever it sent before is kept in received().
  bool closed(int wait_ms = 0) {
    const auto until = steady_clock::now() + milliseconds(wait_ms);
    do {
      pollfd entry{fd_, POLLIN, 0};
      if (::poll(&entry, 1, 10) > 0) {
        char buffer[4096];
        const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n <= 0) return true;
        received_.append(buffer, static_cast<std::size_t>(n));
      }
    } while (steady_clock::now() < until);
    return false;
  }
  const std::string& received() const { return received_; }

 private:
  int fd_;
  bool connected_ = false;
  std::string received_;
};

// Trickles `data` a piece every `every_ms` until the server closes the
// connection, checking between pieces that `others` is still served;
// returns how long the server took, from the first piece, or -1 if it
// never closed.
std::int64_t trickle_until_dropped(RawClient& client, const std::string& data, int every_ms,
                                   const ServerProcess& others) {
  HttpOptions options;
  options.max_attempts = 1;
  const auto start = steady_clock::now();
  for (char byte : data) {
    client.send(std::string(1, byte));
    if (client.closed(every_ms))
      return std::chrono::duration_cast<milliseconds>(steady_clock::now() - start).count();
    auto health = HttpClient(others.url(), options).get("/api/v1/health");
    EXPECT_TRUE(health.ok() && health->status == 200) << "another client is still served";
  }
  return -1;
}

class SlowClientTest : public ::testing::Test {
 protected:
  TempDir work_;
};

TEST_F(SlowClientTest, AHeadTrickledAByteAtATimeIsDroppedAtTheDeadlineWhileOthersAreServed) {
  ServerProcess server(work_ / "data", {"--request-timeout", "1"});
  RawClient slow(port_of(server.url()));
  ASSERT_TRUE(slow.connected());
  const std::int64_t dropped_ms = trickle_until_dropped(
      slow, "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + std::string(200, 'a'), 150,
      server);
  EXPECT_GE(dropped_ms, 800) << "not before the deadline";
  EXPECT_LE(dropped_ms, 1'800) << "a byte every 150 ms is within every read timeout, not within the deadline";
  EXPECT_EQ(slow.received(), "") << "nothing is answered to a head that never ended";
  EXPECT_NE(server.log().find("http.slow_client_dropped"), std::string::npos) << server.log();

  // A connection that sends nothing at all is let go at the same deadline.
  RawClient silent(port_of(server.url()));
  const auto start = steady_clock::now();
  EXPECT_TRUE(silent.closed(3'000));
  EXPECT_LE(steady_clock::now() - start, milliseconds(1'800));

  // A kept-alive connection has the deadline again after each response.
  RawClient kept(port_of(server.url()));
  ASSERT_TRUE(kept.send("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  EXPECT_FALSE(kept.closed(500));
  EXPECT_NE(kept.received().find("HTTP/1.1 200"), std::string::npos) << kept.received();
  EXPECT_TRUE(kept.closed(1'500)) << "idle for its head past the deadline";
}

TEST_F(SlowClientTest, ABodyBelowTheMinimumRateIsDroppedAndOneAboveItIsReadWhole) {
  ServerProcess server(work_ / "data", {"--request-timeout", "1", "--min-upload-rate", "1000"});
  const std::string body(6'000, 'x');
  auto head = [&body] {
    return "POST /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n\r\n";
  };

  // 100 bytes a second earns 100 ms a second: behind about 1.1 s in.
  RawClient slow(port_of(server.url()));
  ASSERT_TRUE(slow.send(head()));
  std::string pieces;
  const std::int64_t dropped_ms = [&] {
    const auto start = steady_clock::now();
    for (std::size_t sent = 0; sent < body.size(); sent += 10) {
      slow.send(body.substr(sent, 10));
      if (slow.closed(100))
        return std::chrono::duration_cast<milliseconds>(steady_clock::now() - start).count();
    }
    return std::int64_t{-1};
  }();
  EXPECT_GE(dropped_ms, 900);
  EXPECT_LE(dropped_ms, 2'500);
  EXPECT_EQ(slow.received(), "");

  // 3,000 bytes a second, three times the minimum: 2 s for the whole body,
  // twice the deadline of a head, and it is read and answered.
  RawClient steady(port_of(server.url()));
  ASSERT_TRUE(steady.send(head()));
  for (std::size_t sent = 0; sent < body.size(); sent += 300) {
    ASSERT_TRUE(steady.send(body.substr(sent, 300))) << sent;
    ASSERT_FALSE(steady.closed(100)) << "dropped after " << sent << " bytes";
  }
  steady.closed(1'000);
  EXPECT_EQ(steady.received().rfind("HTTP/1.1 4", 0), 0u) << "answered (a bad login): " << steady.received();
}

TEST_F(SlowClientTest, PaceSettingsOutOfRangeAreRefusedAtStartNamingTheOption) {
  for (const auto& [option, message] :
       {std::pair<std::string, std::string>{"--request-timeout 0",
                                            "--request-timeout must be between 1 and 3600"},
        {"--min-upload-rate 0", "--min-upload-rate must be at least 1 byte a second"},
        {"--min-download-rate 0", "--min-download-rate must be at least 1 byte a second"}}) {
    auto refused = run_shell(canopy_binary().string() + " server --data " + (work_ / "refused").string() +
                             " --listen 127.0.0.1:0 " + option + " 2>&1");
    EXPECT_NE(refused.exit_code, 0) << option;
    EXPECT_NE(refused.output.find(message), std::string::npos) << option << ": " << refused.output;
  }
}

std::string request_with_headers(int count) {
  std::string request = "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 1; i < count; ++i) request += "X-Header-" + std::to_string(i) + ": value\r\n";
  return request + "\r\n";
}

TEST_F(SlowClientTest, ARequestWithTooManyHeadersIsAnswered431AndClosed) {
  ServerProcess server(work_ / "data");
  RawClient many(port_of(server.url()));
  ASSERT_TRUE(many.send(request_with_headers(150)));
  EXPECT_TRUE(many.closed(3'000)) << "the rest of its head is never read";
  EXPECT_EQ(many.received().rfind("HTTP/1.1 431", 0), 0u) << many.received();
  EXPECT_NE(many.received().find("at most 100 headers"), std::string::npos) << many.received();

  RawClient hundred(port_of(server.url()));
  ASSERT_TRUE(hundred.send(request_with_headers(100)));
  EXPECT_FALSE(hundred.closed(500));
  EXPECT_EQ(hundred.received().rfind("HTTP/1.1 200", 0), 0u) << hundred.received();

  RawClient hundred_one(port_of(server.url()));
  ASSERT_TRUE(hundred_one.send(request_with_headers(101)));
  hundred_one.closed(1'000);
  EXPECT_EQ(hundred_one.received().rfind("HTTP/1.1 431", 0), 0u) << hundred_one.received();

  // A head over 64 KiB in few headers is refused as well.
  RawClient huge(port_of(server.url()));
  ASSERT_TRUE(huge.send("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  for (int i = 0; i < 10; ++i)
    huge.send("X-Big-" + std::to_string(i) + ": " + std::string(8'000, 'b') + "\r\n");
  huge.send("\r\n");
  EXPECT_TRUE(huge.closed(3'000));
  EXPECT_EQ(huge.received().rfind("HTTP/1.1 400", 0), 0u) << huge.received();
}

TEST_F(SlowClientTest, ATlsConnectionThatNeverCompletesItsHandshakeIsDropped) {
  ServerProcess server(work_ / "data", {"--self-signed", "--request-timeout", "1"});
  RawClient silent(port_of(server.url()));
  ASSERT_TRUE(silent.connected());
  const auto start = steady_clock::now();
  ASSERT_TRUE(silent.send(std::string("\x16\x03\x01", 3)));  // the first bytes of a ClientHello
  EXPECT_TRUE(silent.closed(3'000));
  EXPECT_GE(steady_clock::now() - start, milliseconds(800));
  EXPECT_LE(steady_clock::now() - start, milliseconds(1'800));

  HttpOptions options;
  options.max_attempts = 1;
  options.server_pin = server.tls_pin();
  auto health = HttpClient(server.url(), options).get("/api/v1/health");
  ASSERT_TRUE(health.ok()) << health.error().message;
  EXPECT_EQ(health->status, 200);
}

// A package of 7 MiB, far more than the sockets' buffers hold, downloaded
// by a client with a 4 KiB receive buffer (so the kernel cannot take the
// response for it) from a server that wants 200,000 bytes a second after a
// second's grace.
class SlowDownloadTest : public RegistryFixture {
 protected:
  struct Download {
    std::size_t bytes = 0;  // head and body
    std::int64_t ms = 0;    // until the server closed, or the time ran out
  };

  // GET `path` with "Connection: close", reading at most `bytes_per_s`
  // (0: as fast as it comes) until the server closes or 30 s pass.
  Download download(const std::string& path, std::size_t bytes_per_s) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port_of(server_->url())));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    const std::string request = "GET " + path +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-KEY: " + ServerProcess::kAdminKey +
                                "\r\nConnection: close\r\n\r\n";
    EXPECT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
    Download result;
    const auto start = steady_clock::now();
    std::vector<char> buffer(64 << 10);
    for (;;) {
      const auto elapsed = steady_clock::now() - start;
      if (elapsed > std::chrono::seconds(30)) break;
      // Reading at the rate: no more than the rate allows by now.
      std::size_t allowed = buffer.size();
      if (bytes_per_s > 0) {
        const auto due = static_cast<std::size_t>(std::chrono::duration_cast<milliseconds>(elapsed).count() *
                                                  static_cast<std::int64_t>(bytes_per_s) / 1000);
        if (due <= result.bytes) {
          std::this_thread::sleep_for(milliseconds(10));
          continue;
        }
        allowed = std::min(allowed, due - result.bytes);
      }
      pollfd entry{fd, POLLIN, 0};
      if (::poll(&entry, 1, 100) <= 0) continue;
      const ssize_t n = ::recv(fd, buffer.data(), allowed, 0);
      if (n <= 0) break;
      result.bytes += static_cast<std::size_t>(n);
    }
    result.ms = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start).count();
    ::close(fd);
    return result;
  }
};

TEST_F(SlowDownloadTest, AReaderBelowTheMinimumRateIsDroppedAndOneAboveItGetsItAll) {
  const fs::path zip =
      signed_package("crop-disease-detector", random_bytes(7u << 20, 7), signing_key_, "big.zip");
  ASSERT_EQ(cli("model push " + zip.string()).exit_code, 0);
  const std::size_t size = fs::file_size(zip);
  server_.reset();
  server_ = std::make_unique<ServerProcess>(
      work_ / "data", std::vector<std::string>{"--trusted-key", (work_ / "signing.pub").string(),
                                               "--request-timeout", "1", "--min-download-rate", "200000"});
  const std::string path = "/api/v1/models/crop-disease-detector/versions/1/package";

  // As fast as it comes: the whole package, and its head.
  const Download fast = download(path, 0);
  EXPECT_GT(fast.bytes, size);
  EXPECT_LT(fast.bytes, size + 4096);

  // 50,000 bytes a second, a quarter of the minimum: it would take 140 s,
  // and is dropped about 1.4 s in (a second's grace, then each second's
  // bytes earn a quarter of a second).
  const Download slow = download(path, 50'000);
  EXPECT_LT(slow.bytes, size / 10);
  EXPECT_GE(slow.ms, 1'000);
  EXPECT_LE(slow.ms, 10'000);
  EXPECT_NE(server_->log().find("phase=response"), std::string::npos) << server_->log();
}

}  // namespace
}  // namespace canopy::testing
