// The fault proxy between a real libcurl client and a real cpp-httplib
// server on loopback ports: relaying, offline links, dropped connections,
// latency and bandwidth.
#include "sim/fault_proxy.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "common/http_client.h"
#include "test_support.h"

namespace canopy::sim {
namespace {

class FaultProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    payload_ = testing::random_bytes(100 * 1000, 5);
    server_.Get("/blob", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(payload_, "application/octet-stream");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }

  std::unique_ptr<FaultProxy> proxy(const LinkFaults& faults) {
    auto started = FaultProxy::start("127.0.0.1", port_, faults, 1);
    EXPECT_TRUE(started.ok()) << started.error().message;
    return started.ok() ? std::move(*started) : nullptr;
  }

  static Result<HttpResponse> fetch(const FaultProxy& through) {
    HttpOptions options;
    options.max_attempts = 1;
    HttpClient client("http://127.0.0.1:" + std::to_string(through.port()), options);
    return client.get("/blob");
  }

  static double seconds_to_fetch(const FaultProxy& through, Result<HttpResponse>& response) {
    const auto start = std::chrono::steady_clock::now();
    response = fetch(through);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  std::string payload_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(FaultProxyTest, RelaysEveryByteUnchanged) {
  auto link = proxy({});
  auto response = fetch(*link);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, payload_);
  const LinkStats stats = link->stats();
  EXPECT_EQ(stats.connections, 1u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_GT(stats.bytes, payload_.size());
}

TEST_F(FaultProxyTest, AnOfflineLinkRefusesConnectionsUntilItIsBack) {
  auto link = proxy({});
  link->set_offline(true);
  auto refused = fetch(*link);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kNetwork);
  EXPECT_EQ(link->stats().refused, 1u);
  link->set_offline(false);
  auto back = fetch(*link);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->body, payload_);
}

TEST_F(FaultProxyTest, DroppedConnectionsAreCutBeforeTheAnswerEnds) {
  auto link = proxy({.drop_rate = 1.0});
  for (int i = 0; i < 3; ++i) {
    auto cut = fetch(*link);
    EXPECT_FALSE(cut.ok() && cut->body == payload_) << "request " << i << " went through";
  }
  EXPECT_EQ(link->stats().dropped, 3u);
}

TEST_F(FaultProxyTest, LatencyAndBandwidthSlowTheLinkDown) {
  Result<HttpResponse> response = make_error(ErrorCode::kInternal, "not fetched");
  auto fast = proxy({});
  const double unhindered_s = seconds_to_fetch(*fast, response);
  ASSERT_TRUE(response.ok()) << response.error().message;

  // 100 kB at 800 kbit/s: at least one second.
  auto narrow = proxy({.bandwidth_kbps = 800});
  const double narrow_s = seconds_to_fetch(*narrow, response);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->body, payload_);
  EXPECT_GE(narrow_s, 0.9);
  EXPECT_GT(narrow_s, unhindered_s + 0.5);

  // The request and at least one chunk of the answer each wait 200 ms.
  auto distant = proxy({.latency_ms = 200});
  const double distant_s = seconds_to_fetch(*distant, response);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_GE(distant_s, 0.4);
}

}  // namespace
}  // namespace canopy::sim
