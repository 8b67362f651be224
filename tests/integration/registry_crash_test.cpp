// Crash safety of the registry: kill -9 in the middle of an upload,
// leftovers of a crash between storing a blob and recording it, and one
// server per port and per data directory, with the directory's lock gone
// with a killed server.
#include <chrono>
#include <thread>

#include "common/json.h"
#include "registry_fixture.h"

namespace canopy::testing {
namespace {

using RegistryCrashTest = RegistryFixture;

TEST_F(RegistryCrashTest, KillNineMidUploadLeavesNoTrace) {
  fs::path v1 = signed_package("crop-disease-detector", random_bytes(10000, 40), signing_key_, "v1.zip");
  ASSERT_EQ(cli("model push " + v1.string()).exit_code, 0);
  const auto blobs_before = list_files(work_ / "data" / "blobs");
  const std::string versions_before = curl(admin_header(), "/api/v1/models/crop-disease-detector").body;

  fs::path big = signed_package("crop-disease-detector", random_bytes(6u << 20, 41), signing_key_, "big.zip");
  // A slow upload in the background, so the kill lands mid-body.
  auto upload = Subprocess::start({{"/usr/bin/curl", "-s", "--limit-rate", "1M", "-H",
                                    std::string("X-API-KEY:") + ServerProcess::kAdminKey, "-T", big.string(),
                                    server_->url() + "/repository/model.zip"},
                                   {}, work_ / "curl.out", work_ / "curl.err"});
  ASSERT_TRUE(upload.ok()) << upload.error().message;
  bool partial_seen = false;
  for (int i = 0; i < 200 && !partial_seen; ++i) {
    for (const auto& f : list_files(work_ / "data" / "tmp"))
      if (fs::file_size(work_ / "data" / "tmp" / f) > (1u << 20)) partial_seen = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(partial_seen) << "the upload never reached the server's temp directory";
  server_->kill_hard();
  upload->wait();
  EXPECT_FALSE(list_files(work_ / "data" / "tmp").empty()) << "the crash should leave a partial upload behind";

  server_->start();
  EXPECT_TRUE(list_files(work_ / "data" / "tmp").empty()) << "partial upload not removed at start";
  EXPECT_EQ(list_files(work_ / "data" / "blobs"), blobs_before);
  EXPECT_EQ(curl(admin_header(), "/api/v1/models/crop-disease-detector").body, versions_before);
  auto pushed = cli("model push --json " + big.string());
  ASSERT_EQ(pushed.exit_code, 0) << pushed.output;
  EXPECT_NE(pushed.output.find("\"version\": 2"), std::string::npos);
}

// The publish order is: blob renamed into place, then the row committed. A
// crash between the two leaves a blob no row names; the next start removes
// it and keeps every referenced blob.
TEST_F(RegistryCrashTest, OrphansOfACrashAreSweptAtStart) {
  fs::path v1 = signed_package("crop-disease-detector", random_bytes(10000, 42), signing_key_, "v1.zip");
  ASSERT_EQ(cli("model push " + v1.string()).exit_code, 0);
  const auto blobs_before = list_files(work_ / "data" / "blobs");
  server_->kill_hard();

  std::string orphan_digest = sha256_hex("orphan");
  write_bytes(work_ / "data" / "blobs" / "sha256" / orphan_digest.substr(0, 2) / (orphan_digest + ".zip"), "orphan");
  write_bytes(work_ / "data" / "tmp" / "upload-abc123", "half an upload");
  fs::create_directories(work_ / "data" / "tmp" / "resign-xyz" / "package");

  server_->start();
  EXPECT_EQ(list_files(work_ / "data" / "blobs"), blobs_before);
  EXPECT_TRUE(fs::is_empty(work_ / "data" / "tmp"));
  auto pulled = cli("model pull crop-disease-detector:1 -o " + (work_ / "pulled.zip").string());
  ASSERT_EQ(pulled.exit_code, 0) << pulled.output;
  EXPECT_EQ(read_bytes(work_ / "pulled.zip"), read_bytes(v1));
}

// `canopy server` with these arguments, which must fail to start: its exit
// code and output. One that starts instead is stopped by `timeout` (124).
CommandResult start_refused_server(const std::string& args) {
  return run_shell("timeout 10 " + canopy_binary().string() + " server " + args);
}

std::string port_of(const std::string& url) { return url.substr(url.rfind(':') + 1); }

TEST_F(RegistryCrashTest, ASecondServerOnAUsedPortIsRefusedNamingThePort) {
  const std::string port = port_of(server_->url());
  auto second =
      start_refused_server("--data " + (work_ / "other-data").string() + " --listen 127.0.0.1:" + port);
  EXPECT_EQ(second.exit_code, 1) << second.output;
  EXPECT_NE(second.output.find("port " + port + " is already in use"), std::string::npos) << second.output;
  EXPECT_EQ(second.output.find("listening on"), std::string::npos) << second.output;
  // The first server still answers every request alone.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(curl(admin_header(), "/api/v1/models").status, 200);
}

TEST_F(RegistryCrashTest, ADataDirectoryServesOneServerAndItsLockDiesWithIt) {
  const fs::path data = work_ / "data";
  auto second = start_refused_server("--data " + data.string() + " --listen 127.0.0.1:0");
  EXPECT_EQ(second.exit_code, 1) << second.output;
  EXPECT_NE(second.output.find("data directory " + data.string() + " is in use by another canopy server"),
            std::string::npos)
      << second.output;
  EXPECT_NE(second.output.find("locked by process "), std::string::npos) << second.output;
  EXPECT_EQ(second.output.find("listening on"), std::string::npos) << second.output;

  // kill -9 leaves the lock file behind, but not the lock: the next server starts.
  fs::path v1 = signed_package("crop-disease-detector", random_bytes(1000, 43), signing_key_, "v1.zip");
  ASSERT_EQ(cli("model push " + v1.string()).exit_code, 0);
  server_->kill_hard();
  EXPECT_TRUE(fs::exists(data / "server.lock"));
  server_->start();
  auto shown = cli("model show crop-disease-detector --json");
  EXPECT_EQ(shown.exit_code, 0) << shown.output;
  // ... and holds the directory in turn.
  auto third = start_refused_server("--data " + data.string() + " --listen 127.0.0.1:0");
  EXPECT_EQ(third.exit_code, 1) << third.output;
  EXPECT_NE(third.output.find("is in use by another canopy server"), std::string::npos) << third.output;
}

}  // namespace
}  // namespace canopy::testing
