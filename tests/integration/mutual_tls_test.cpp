// Mutual TLS for devices end to end (docs/security.md, "Mutual TLS for
// devices"): the real server with --device-certificates, the real
// canopy-agent enrolling, installing a deployment and reporting over HTTPS
// with the certificate it makes from its identity key, and curl as the
// thief: the device's token with no certificate, or with a certificate of
// another Ed25519 key made by the openssl command. API-key clients (a
// browser, a script) need no certificate in any mode.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>

#include "api/device.h"
#include "common/hash.h"
#include "common/http_client.h"
#include "common/json.h"
#include "common/keys.h"
#include "common/time.h"
#include "model_packages.h"
#include "test_support.h"

namespace canopy::testing {
namespace {

struct CurlResult {
  int status = 0;
  std::string body;
};

class MutualTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(init_crypto().ok());
    publisher_ = KeyPair::generate();
    ASSERT_TRUE(save_key_pair(publisher_, work_ / "publisher").ok());
    // Another device's key pair, as a thief holding a token but not the
    // device's key would make one: any Ed25519 key, self-signed.
    auto made = run_shell("cd " + work_.path().string() +
                          " && openssl genpkey -algorithm ed25519 -out other.key 2>&1"
                          " && openssl req -x509 -new -key other.key -subj /CN=canopy-device -days 365"
                          " -out other.crt 2>&1");
    ASSERT_EQ(made.exit_code, 0) << made.output;
  }

  // A server serving HTTPS with its self-signed certificate and `mode`.
  void start_server(const std::string& mode) {
    server_.emplace(work_ / ("data-" + mode),
                    std::vector<std::string>{"--self-signed", "--device-certificates", mode, "--trusted-key",
                                             (work_ / "publisher.pub").string()});
    ASSERT_TRUE(server_->url().starts_with("https://")) << server_->url();
    server_cert_ = work_ / ("data-" + mode) / "tls" / "server.crt";
  }

  // The admin's API, over a pinned connection without a client certificate.
  HttpResponse admin(const std::string& method, const std::string& path, const Json& body = Json::object()) {
    HttpOptions options;
    options.max_attempts = 1;
    options.server_pin = server_->tls_pin();
    options.headers = {std::string("X-API-KEY: ") + ServerProcess::kAdminKey};
    HttpClient client(server_->url(), options);
    auto response =
        method == "GET" ? client.get(path) : client.send(method, path, body.dump(), "application/json");
    EXPECT_TRUE(response.ok()) << response.error().message;
    return response.ok() ? *response : HttpResponse{};
  }

  static Json json_of(const std::string& text) {
    auto json = parse_json(text);
    return json.ok() ? *json : Json();
  }

  std::string enrollment_token() {
    auto created = admin("POST", "/api/v1/enrollment-tokens", {{"group", "field-a"}, {"max_uses", 10}});
    EXPECT_EQ(created.status, 201) << created.body;
    return json_of(created.body).value("token", "");
  }

  CommandResult agent(const fs::path& data_dir, const std::string& token) {
    return run_shell(agent_binary().string() + " run --once --server " + server_->url() + " --data-dir " +
                     data_dir.string() + " --enroll-token " + token + " --server-pin " + server_->tls_pin() +
                     " --name cam-1 2>&1");
  }

  // A signed model package, pushed with the canopy CLI; its version.
  int publish_model() {
    const fs::path zip = work_ / "model.zip";
    build_model_package(work_ / "model", zip, ModelPackageSpec{.name = "crop-detector"}, publisher_);
    auto pushed = run_shell(canopy_binary().string() + " --json model push " + zip.string() + " --server " +
                            server_->url() + " --api-key " + ServerProcess::kAdminKey + " --server-pin " +
                            server_->tls_pin() + " 2>&1");
    EXPECT_EQ(pushed.exit_code, 0) << pushed.output;
    const auto brace = pushed.output.find('{');
    return brace == std::string::npos ? 0 : json_of(pushed.output.substr(brace)).value("version", 0);
  }

  // curl to `path`, trusting the server's certificate, with `args` (headers,
  // a client certificate); the status and the body.
  CurlResult curl(const std::string& path, const std::string& args) {
    auto result = run_shell("curl -sS --cacert " + server_cert_.string() + " -w '\\n%{http_code}' " + args +
                            " " + server_->url() + path + " 2>&1");
    const auto newline = result.output.rfind('\n');
    if (newline == std::string::npos) return {0, result.output};
    return {std::atoi(result.output.c_str() + newline + 1), result.output.substr(0, newline)};
  }

  static std::string bearer(const std::string& token) { return "-H 'Authorization: Bearer " + token + "'"; }
  std::string other_certificate() const {
    return "--cert " + (work_ / "other.crt").string() + " --key " + (work_ / "other.key").string();
  }
  static std::string own_certificate(const fs::path& device) {
    return "--cert " + (device / "tls-client.crt").string() + " --key " +
           (device / "tls-client.key").string();
  }
  static std::string device_token(const fs::path& device) {
    return json_of(read_bytes(device / "enrollment.json")).value("device_token", "");
  }
  static std::string device_id(const fs::path& device) {
    return json_of(read_bytes(device / "enrollment.json")).value("device_id", "");
  }

  // A browser or a script: an API key and no certificate, on a normal route.
  void expect_api_key_clients_need_no_certificate() {
    const CurlResult listed =
        curl("/api/v1/devices", std::string("-H 'X-API-KEY: ") + ServerProcess::kAdminKey + "'");
    EXPECT_EQ(listed.status, 200) << listed.body;
    const CurlResult health = curl("/api/v1/health", "");
    EXPECT_EQ(health.status, 200) << health.body;
  }

  TempDir work_;
  KeyPair publisher_;
  std::optional<ServerProcess> server_;
  fs::path server_cert_;
};

TEST_F(MutualTlsTest, RequiredTheAgentWorksWithItsCertificateAndAStolenTokenDoesNot) {
  start_server("required");
  const std::string token = enrollment_token();
  const fs::path device = work_ / "device";

  // Enrollment and a first poll over HTTPS, the agent offering its certificate.
  auto enrolled = agent(device, token);
  ASSERT_EQ(enrolled.exit_code, 0) << enrolled.output << server_->log();
  ASSERT_TRUE(fs::exists(device / "tls-client.crt"));
  const std::string id = device_id(device);
  ASSERT_FALSE(id.empty());

  // A deployment: the agent downloads the package and its reports arrive.
  const int version = publish_model();
  ASSERT_GT(version, 0);
  auto deployed = admin("POST", "/api/v1/deployments",
                        {{"model", "crop-detector"}, {"version", version}, {"target", {{"devices", {id}}}}});
  ASSERT_EQ(deployed.status, 201) << deployed.body;
  auto installed = agent(device, token);
  ASSERT_EQ(installed.exit_code, 0) << installed.output << server_->log();
  Json row = json_of(admin("GET", "/api/v1/devices/" + id).body);
  EXPECT_EQ(row["state"], "success") << row;
  ASSERT_TRUE(row["current"].is_object()) << row;
  EXPECT_EQ(row["current"].value("version", 0), version) << row;
  EXPECT_FALSE(row["reports"].empty()) << row;

  // The device's own certificate and token work from curl too.
  const std::string stolen = device_token(device);
  const CurlResult own = curl("/api/v1/device/desired", bearer(stolen) + " " + own_certificate(device));
  EXPECT_EQ(own.status, 200) << own.body;

  // The token alone, copied off the device, is refused.
  const CurlResult bare = curl("/api/v1/device/desired", bearer(stolen));
  EXPECT_EQ(bare.status, 401) << bare.body;
  EXPECT_NE(bare.body.find("this server requires the device's certificate"), std::string::npos) << bare.body;

  // So is the token with a certificate over another key, and the operator is told.
  const CurlResult impostor = curl("/api/v1/device/desired", bearer(stolen) + " " + other_certificate());
  EXPECT_EQ(impostor.status, 401) << impostor.body;
  EXPECT_NE(impostor.body.find("is not the key this device enrolled with"), std::string::npos)
      << impostor.body;
  // A route that reads its body itself is guarded the same way.
  const CurlResult report = curl("/api/v1/device/status", bearer(stolen) + " " + other_certificate() +
                                                              " -H 'Content-Type: application/json' -d '{}'");
  EXPECT_EQ(report.status, 401) << report.body;
  EXPECT_NE(server_->log().find("device.certificate_mismatch device=" + id), std::string::npos)
      << server_->log();
  EXPECT_NE(server_->log().find("device.certificate_missing device=" + id), std::string::npos)
      << server_->log();

  // Enrollment binds too: the device's own enrollment request, signed with
  // its key, is refused from a connection without the key's certificate,
  // before the enrollment token is spent, and taken with it.
  auto identity = load_key_pair(device / "identity.key");
  ASSERT_TRUE(identity.ok()) << identity.error().message;
  api::EnrollRequest request;
  request.enrollment_token = token;
  request.public_key = identity->public_key.to_text();
  request.public_key.pop_back();  // the line without its newline
  request.name = "cam-1";
  request.timestamp = now_rfc3339();
  request.signature = base64_encode(sign_detached(*identity, request.signed_text()));
  write_bytes(work_ / "enroll.json", request.to_json().dump());
  const std::string post =
      "-H 'Content-Type: application/json' --data-binary @" + (work_ / "enroll.json").string();
  const CurlResult enroll_bare = curl("/api/v1/enroll", post);
  EXPECT_EQ(enroll_bare.status, 401) << enroll_bare.body;
  EXPECT_NE(enroll_bare.body.find("this server requires the device's certificate"), std::string::npos)
      << enroll_bare.body;
  const CurlResult enroll_other = curl("/api/v1/enroll", post + " " + other_certificate());
  EXPECT_EQ(enroll_other.status, 401) << enroll_other.body;
  EXPECT_NE(enroll_other.body.find("is not the public key this enrollment carries"), std::string::npos)
      << enroll_other.body;
  EXPECT_NE(server_->log().find("fleet.enroll.certificate_mismatch device=" + id), std::string::npos)
      << server_->log();
  const CurlResult enroll_own = curl("/api/v1/enroll", post + " " + own_certificate(device));
  EXPECT_EQ(enroll_own.status, 201) << enroll_own.body;
  EXPECT_EQ(json_of(enroll_own.body).value("device_id", ""), id);

  expect_api_key_clients_need_no_certificate();
}

TEST_F(MutualTlsTest, OptionalTheTokenAloneSufficesButAWrongCertificateIsRefused) {
  start_server("optional");
  const std::string token = enrollment_token();
  const fs::path device = work_ / "device";
  auto enrolled = agent(device, token);
  ASSERT_EQ(enrolled.exit_code, 0) << enrolled.output << server_->log();
  const std::string device_token_text = device_token(device);
  const std::string id = device_id(device);

  const CurlResult bare = curl("/api/v1/device/desired", bearer(device_token_text));
  EXPECT_EQ(bare.status, 200) << "a device without a certificate gets by on its token: " << bare.body;
  const CurlResult own =
      curl("/api/v1/device/desired", bearer(device_token_text) + " " + own_certificate(device));
  EXPECT_EQ(own.status, 200) << own.body;
  const CurlResult impostor =
      curl("/api/v1/device/desired", bearer(device_token_text) + " " + other_certificate());
  EXPECT_EQ(impostor.status, 401) << impostor.body;
  EXPECT_NE(impostor.body.find("is not the key this device enrolled with"), std::string::npos)
      << impostor.body;
  EXPECT_NE(server_->log().find("device.certificate_mismatch device=" + id), std::string::npos)
      << server_->log();

  // The agent goes on polling with its certificate.
  auto polled = agent(device, token);
  EXPECT_EQ(polled.exit_code, 0) << polled.output;

  expect_api_key_clients_need_no_certificate();
}

TEST_F(MutualTlsTest, TheServerRefusesDeviceCertificatesWithoutHttpsAndAnUnknownMode) {
  const std::string server =
      canopy_binary().string() + " server --listen 127.0.0.1:0 --data " + (work_ / "data").string();
  auto plain = run_shell("timeout 10 " + server + " --device-certificates required 2>&1");
  EXPECT_EQ(plain.exit_code, 1) << plain.output;
  EXPECT_NE(plain.output.find("--device-certificates required needs the server to serve HTTPS itself"),
            std::string::npos)
      << plain.output;
  EXPECT_FALSE(fs::exists(work_ / "data")) << "refused before the data directory is made";
  auto unknown = run_shell("timeout 10 " + server + " --self-signed --device-certificates yes 2>&1");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("must be off, optional or required"), std::string::npos) << unknown.output;
  auto help = run_shell(canopy_binary().string() + " server --help 2>&1");
  EXPECT_NE(help.output.find("--device-certificates"), std::string::npos) << help.output;
}

}  // namespace
}  // namespace canopy::testing
