// The simulator's parts on their own: the fleet plan (names, tags, faults,
// --offline parsing) and the fault proxy between a real libcurl client and a
// real cpp-httplib server on loopback ports.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "common/http_client.h"
#include "sim/fault_proxy.h"
#include "sim/fleet_plan.h"
#include "test_support.h"

namespace canopy::sim {
namespace {

TEST(FleetPlanTest, DealsFieldsRoundRobinAndNumbersCamerasWithinTheirField) {
  auto plan =
      plan_fleet({.devices = 7, .crash_during_install = 2, .full_disk = 1, .offline = {{5, 6, 10, 40}}});
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  ASSERT_EQ(plan->size(), 7u);
  const DevicePlan& fourth = (*plan)[3];
  EXPECT_EQ(fourth.number, 4);
  EXPECT_EQ(fourth.name, "north-field-cam-2");
  EXPECT_EQ(fourth.tags.at("field"), "north");
  EXPECT_EQ(fourth.tags.at("crop"), "wheat");
  EXPECT_EQ(fourth.tags.at("zone"), "1");
  EXPECT_EQ(fourth.tags.at("hardware"), "rpi4");
  EXPECT_EQ((*plan)[1].name, "south-field-cam-1");
  EXPECT_EQ((*plan)[2].tags.at("hardware"), "jetson-nano");
  for (const auto& device : *plan) {
    EXPECT_EQ(device.crash_during_install, device.number <= 2) << device.name;
    EXPECT_EQ(device.full_disk, device.number == 7) << device.name;
    EXPECT_EQ(device.offline.size(), device.number == 5 || device.number == 6 ? 1u : 0u) << device.name;
  }
}

TEST(FleetPlanTest, ASecondSimulatorContinuesTheNumbering) {
  auto plan = plan_fleet({.devices = 1, .first_device = 10, .fields = 3});
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->front().name, "north-field-cam-4");
  EXPECT_EQ(plan->front().tags.at("zone"), "2");
}

TEST(FleetPlanTest, RefusesOptionsThatDoNotFit) {
  EXPECT_FALSE(plan_fleet({.devices = 0}).ok());
  EXPECT_FALSE(plan_fleet({.devices = 3, .fields = 7}).ok());
  EXPECT_FALSE(plan_fleet({.devices = 3, .crash_during_install = 4}).ok());
  EXPECT_FALSE(plan_fleet({.devices = 3, .full_disk = -1}).ok());
  auto outside = plan_fleet({.devices = 3, .offline = {{2, 4, 0, 10}}});
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().message.find("devices are 1 to 3"), std::string::npos) << outside.error().message;
}

TEST(OfflineWindowTest, ParsesOneDeviceOrARange) {
  auto one = parse_offline_window("3:10:40");
  ASSERT_TRUE(one.ok()) << one.error().message;
  EXPECT_EQ(one->first_device, 3);
  EXPECT_EQ(one->last_device, 3);
  EXPECT_DOUBLE_EQ(one->start_s, 10);
  EXPECT_DOUBLE_EQ(one->end_s, 40);
  auto range = parse_offline_window("2-5:0.5:7.5");
  ASSERT_TRUE(range.ok()) << range.error().message;
  EXPECT_EQ(range->first_device, 2);
  EXPECT_EQ(range->last_device, 5);
  EXPECT_DOUBLE_EQ(range->start_s, 0.5);
  for (const char* bad :
       {"", "3", "3:10", "x:1:2", "3:40:10", "5-2:1:2", "0:1:2", "3:-1:2", "3:1:2:4", "3-:1:2"}) {
    auto parsed = parse_offline_window(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.error().message.find("--offline"), std::string::npos);
  }
}

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
