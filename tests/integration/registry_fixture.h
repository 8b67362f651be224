// A registry server started from the real binary on an ephemeral loopback
// port, with a trusted publisher key, and helpers that drive it with real
// clients: curl and the canopy CLI.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/hash.h"
#include "common/keys.h"
#include "package/package.h"
#include "test_support.h"

namespace canopy::testing {

inline constexpr std::uint64_t kMaxUploadBytes = 8u << 20;

struct HttpResult {
  int status = 0;
  std::string body;
};

class RegistryFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(init_crypto().ok());
    signing_key_ = KeyPair::generate();
    ASSERT_TRUE(save_key_pair(signing_key_, work_ / "signing").ok());
    server_ = std::make_unique<ServerProcess>(
        work_ / "data", std::vector<std::string>{"--trusted-key", (work_ / "signing.pub").string(),
                                                 "--max-upload-bytes", std::to_string(kMaxUploadBytes)});
  }

  // A package directory models/NAME with a model of `model_bytes`.
  fs::path make_package_dir(const std::string& name, const std::string& model_bytes) {
    fs::path dir = work_ / "models" / name;
    fs::remove_all(dir);
    write_bytes(work_ / "src" / "model.onnx", model_bytes);
    package::InitOptions init;
    init.directory = dir;
    init.model = work_ / "src" / "model.onnx";
    init.name = name;
    init.labels = {"healthy", "diseased", "water_stressed"};
    auto manifest = package::init_package(init);
    EXPECT_TRUE(manifest.ok()) << manifest.error().message;
    return dir;
  }

  // `zip -r` of models/NAME, as a pipeline's deploy step does.
  fs::path zip_dir(const std::string& name, const std::string& zip_name) {
    fs::path zip = work_ / zip_name;
    fs::remove(zip);
    auto result = run_shell("cd " + work_.path().string() + " && zip -qr " + zip.string() + " models/" + name);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return zip;
  }

  fs::path signed_package(const std::string& name, const std::string& model_bytes, const KeyPair& key,
                          const std::string& zip_name) {
    fs::path dir = make_package_dir(name, model_bytes);
    auto created = package::create_package(dir, work_ / zip_name, key);
    EXPECT_TRUE(created.ok()) << created.error().message;
    return work_ / zip_name;
  }

  // The status curl's -w printed, and the body it saved to `body_file`.
  static HttpResult read_curl_result(const CommandResult& result, const fs::path& body_file) {
    HttpResult out;
    try {
      out.status = std::stoi(result.output);
    } catch (const std::exception&) {
      out.status = -1;
    }
    out.body = read_bytes(body_file);
    return out;
  }

  // curl, returning the status code and body. `args` go before the URL.
  HttpResult curl(const std::string& args, const std::string& path) {
    fs::path body = work_ / "curl-body";
    fs::remove(body);
    auto result = run_shell("curl -s -o " + body.string() + " -w '%{http_code}' " + args + " '" + server_->url() +
                            path + "'");
    return read_curl_result(result, body);
  }

  std::string admin_header() { return std::string("-H 'X-API-KEY:") + ServerProcess::kAdminKey + "'"; }

  // The deploy step's exact command, with API_KEY and MODEL_REPOSITORY in the environment.
  HttpResult pipeline_upload(const fs::path& zip, const std::string& api_key = ServerProcess::kAdminKey) {
    fs::path body = work_ / "curl-body";
    fs::remove(body);
    fs::copy_file(zip, "/tmp/model.zip." + std::to_string(::getpid()), fs::copy_options::overwrite_existing);
    std::string tmp_zip = "/tmp/model.zip." + std::to_string(::getpid());
    auto result = run_shell("export API_KEY='" + api_key + "' MODEL_REPOSITORY='" + server_->url() +
                            "/repository'; curl -s -o " + body.string() + " -w '%{http_code}' " +
                            "-H \"X-API-KEY:$API_KEY\" -T " + tmp_zip + " \"$MODEL_REPOSITORY/model.zip\"");
    fs::remove(tmp_zip);
    return read_curl_result(result, body);
  }

  // Runs the canopy CLI against the server with the admin key.
  CommandResult cli(const std::string& args) {
    return run_shell("CANOPY_SERVER='" + server_->url() + "' CANOPY_API_KEY='" + ServerProcess::kAdminKey + "' " +
                     canopy_binary().string() + " " + args);
  }

  // Everything the store holds: files under blobs/ and tmp/, and the model list.
  std::string store_snapshot() {
    std::string snapshot;
    for (const auto& f : list_files(work_ / "data" / "blobs")) snapshot += "blob " + f + "\n";
    for (const auto& f : list_files(work_ / "data" / "tmp")) snapshot += "tmp " + f + "\n";
    snapshot += curl(admin_header(), "/api/v1/models").body;
    for (const auto& name : {"crop-disease-detector", "bomb"})
      snapshot += curl(admin_header(), std::string("/api/v1/models/") + name).body;
    return snapshot;
  }

  TempDir work_;
  KeyPair signing_key_;
  std::unique_ptr<ServerProcess> server_;
};

}  // namespace canopy::testing
