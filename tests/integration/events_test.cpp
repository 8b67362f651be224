// The dashboard's live updates (docs/dashboard.md, "Live updates") on a real
// server: event streams read over raw sockets the way a browser's
// EventSource reads them, and changes made by real requests, a real
// enrollment and a real device report.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "fleet_fixture.h"

namespace canopy::testing {
namespace {

class EventsTest : public FleetFixture {
 protected:
  // Opens GET /api/v1/events and returns the socket; what it reads is kept per socket.
  int open_stream(const std::string& extra_header = "") {
    const std::string url = server_->url();
    const int port = std::stoi(url.substr(url.rfind(':') + 1));
    int sock = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    EXPECT_EQ(::connect(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string head =
        "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nX-API-KEY: " +
        std::string(ServerProcess::kAdminKey) + "\r\n" + extra_header + "\r\n";
    EXPECT_EQ(::send(sock, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
    sockets_.push_back(sock);
    return sock;
  }

  // Reads from `sock` until what it has read holds `needle`, or 10 s pass (a failure).
  std::string read_until(int sock, const std::string& needle) {
    std::string& text = received_[sock];
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (text.find(needle) == std::string::npos && std::chrono::steady_clock::now() < give_up) {
      pollfd ready{sock, POLLIN, 0};
      if (::poll(&ready, 1, 100) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::recv(sock, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
    }
    EXPECT_NE(text.find(needle), std::string::npos) << "never read '" << needle << "'; read:\n" << text;
    return text;
  }

  void TearDown() override {
    for (int sock : sockets_) ::close(sock);
  }

  std::vector<int> sockets_;
  std::map<int, std::string> received_;
};

TEST_F(EventsTest, ADeviceReportReachesAnOpenStreamAsItHappens) {
  int stream = open_stream();
  read_until(stream, "retry: ");
  SimDevice device = enroll("north", enrollment_token("field-a"));
  read_until(stream, R"("topic":"devices")");
  ASSERT_EQ(report(device, 0, "idle", 0, 0, 0).status, 200);
  const std::string text = read_until(stream, R"("topic":"device/status")");
  EXPECT_NE(text.find("Content-Type: text/event-stream"), std::string::npos) << text;
  EXPECT_EQ(text.find("\"method\":\"GET\""), std::string::npos) << "reads are no changes";
}

TEST_F(EventsTest, AReconnectReplaysWhatWasMissedAndAnUnknownIdResets) {
  enrollment_token("a");
  enrollment_token("b");
  enrollment_token("c");
  // The browser had seen event 1 when its stream broke.
  int resumed = open_stream("Last-Event-ID: 1\r\n");
  const std::string text = read_until(resumed, "id: 3\n");
  EXPECT_NE(text.find("id: 2\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("id: 1\n"), std::string::npos) << "what it had is not sent again";

  // An id from before the server's restart: the page must read everything again.
  int stale = open_stream("Last-Event-ID: 999\r\n");
  read_until(stale, "event: reset");

  // The polling fallback says the same.
  Json polled = body_of(admin("GET", "/api/v1/events?after=1"));
  ASSERT_EQ(polled["events"].size(), 2u) << polled.dump();
  EXPECT_EQ(polled["events"][1]["id"], 3);
  EXPECT_EQ(polled["last_id"], 3);
  EXPECT_EQ(polled["reset"], false);
  EXPECT_EQ(body_of(admin("GET", "/api/v1/events?after=999"))["reset"], true);
  EXPECT_EQ(admin("GET", "/api/v1/events?after=x").status, 400);
}

TEST_F(EventsTest, ChangesToKeysAndUsersDoNotShowTheirPath) {
  int stream = open_stream();
  read_until(stream, "retry: ");
  ASSERT_EQ(admin("POST", "/api/v1/keys", {{"name", "ci"}, {"role", "reader"}}).status, 201);
  const std::string text = read_until(stream, R"("topic":"access")");
  EXPECT_EQ(text.find("/api/v1/keys"), std::string::npos) << text;
}

TEST_F(EventsTest, StreamsAreCappedAtAQuarterOfTheWorkersAndPollingStillWorks) {
  std::vector<int> streams;
  for (int i = 0; i < 32; ++i) streams.push_back(open_stream());
  for (int sock : streams) read_until(sock, "retry: ");
  int refused = open_stream();
  const std::string text = read_until(refused, "\"unavailable\"");
  EXPECT_NE(text.find("HTTP/1.1 503"), std::string::npos) << text;
  EXPECT_NE(text.find("Retry-After: 30"), std::string::npos) << text;
  EXPECT_EQ(admin("GET", "/api/v1/events?after=0").status, 200);
  EXPECT_EQ(admin("GET", "/api/v1/health").status, 200) << "the other workers still serve";
}

}  // namespace
}  // namespace canopy::testing
