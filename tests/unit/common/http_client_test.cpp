// The HTTP client against a real cpp-httplib server on a loopback port.
#include "common/http_client.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "test_support.h"

namespace canopy {
namespace {

using testing::TempDir;

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    payload_ = testing::random_bytes(1 << 20, 3);
    server_.Get("/flaky", [this](const httplib::Request&, httplib::Response& res) {
      if (++flaky_calls_ < 3) {
        res.status = 503;
        return;
      }
      res.set_content("finally", "text/plain");
    });
    server_.Get("/missing", [this](const httplib::Request&, httplib::Response& res) {
      ++missing_calls_;
      res.status = 404;
      res.set_content(R"({"error":{"code":"not_found","message":"no model named 'x'"}})", "application/json");
    });
    server_.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      res.set_content("late", "text/plain");
    });
    server_.Get("/blob", [this](const httplib::Request& req, httplib::Response& res) {
      if (req.has_header("Range")) last_range_ = req.get_header_value("Range");
      res.set_content_provider(payload_.size(), "application/octet-stream",
                               [this](size_t offset, size_t length, httplib::DataSink& sink) {
                                 return sink.write(payload_.data() + offset, std::min<size_t>(length, 65536));
                               });
    });
    server_.Put("/upload", [this](const httplib::Request& req, httplib::Response& res) {
      uploaded_ = req.body;
      res.status = 201;
      res.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    // Bound already: connections wait in the backlog until the thread accepts them.
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    base_ = "http://127.0.0.1:" + std::to_string(port_);
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }
  HttpOptions fast_retries() {
    HttpOptions options;
    options.backoff_initial_ms = 10;
    return options;
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::string base_;
  std::string payload_;
  std::string uploaded_;
  std::string last_range_;
  std::atomic<int> flaky_calls_{0};
  std::atomic<int> missing_calls_{0};
};

TEST_F(HttpClientTest, RetriesServerErrorsWithBackoff) {
  HttpClient client(base_, fast_retries());
  auto response = client.get("/flaky");
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "finally");
  EXPECT_EQ(flaky_calls_.load(), 3);
}

TEST_F(HttpClientTest, DoesNotRetryClientErrorsAndExplainsThem) {
  HttpClient client(base_, fast_retries());
  auto response = client.get("/missing");
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(missing_calls_.load(), 1);
  Error error = http_status_error(*response, "showing x");
  EXPECT_EQ(error.code, ErrorCode::kNotFound);
  EXPECT_NE(error.message.find("no model named 'x'"), std::string::npos);
}

TEST_F(HttpClientTest, ConnectionRefusedIsANetworkErrorAfterAllAttempts) {
  HttpOptions options = fast_retries();
  options.max_attempts = 2;
  HttpClient client("http://127.0.0.1:1", options);
  auto response = client.get("/");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::kNetwork);
  EXPECT_NE(response.error().message.find("2 attempts"), std::string::npos);
}

TEST_F(HttpClientTest, TimesOut) {
  HttpOptions options;
  options.request_timeout_ms = 300;
  options.max_attempts = 1;
  HttpClient client(base_, options);
  auto response = client.get("/slow");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::kNetwork);
}

TEST_F(HttpClientTest, DownloadResumesFromPartialFile) {
  TempDir dir;
  auto destination = dir / "blob.bin";
  const size_t half = payload_.size() / 2;
  testing::write_bytes(destination.string() + ".part", payload_.substr(0, half));
  HttpClient client(base_);
  std::uint64_t last_done = 0;
  auto response =
      client.download("/blob", destination, [&](std::uint64_t done, std::uint64_t) { last_done = done; });
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 206);
  EXPECT_EQ(last_range_, "bytes=" + std::to_string(half) + "-");
  EXPECT_EQ(testing::read_bytes(destination), payload_);
  EXPECT_EQ(last_done, payload_.size());
  EXPECT_FALSE(std::filesystem::exists(destination.string() + ".part"));
}

TEST_F(HttpClientTest, UploadStreamsFile) {
  TempDir dir;
  testing::write_bytes(dir / "pkg.zip", payload_);
  HttpClient client(base_);
  auto response = client.upload_file("PUT", "/upload", dir / "pkg.zip");
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(uploaded_, payload_);
  EXPECT_FALSE(client.upload_file("PUT", "/upload", dir / "absent.zip").ok());
}

}  // namespace
}  // namespace canopy
