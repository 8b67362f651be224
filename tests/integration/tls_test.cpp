// HTTPS end to end (docs/security.md): the real server with a self-signed or
// given certificate, real clients (the canopy CLI, canopy-agent, curl, and a
// raw OpenSSL connection to watch one connection across a reload), and the
// refusals: a wrong pin, a wrong CA, an impostor, plain HTTP off loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/hash.h"
#include "common/http_client.h"
#include "common/keys.h"
#include "common/json.h"
#include "server/http/tls_credentials.h"
#include "test_support.h"

namespace canopy::testing {
namespace {

using server::ensure_self_signed;
using server::public_key_pin;
using server::TlsCredentials;

const std::vector<std::string> kLocalNames = {"localhost", "127.0.0.1"};

// A pair made with ensure_self_signed under DIR/NAME.crt and NAME.key.
std::pair<fs::path, fs::path> make_pair(const TempDir& dir, const std::string& name) {
  const fs::path cert = dir / (name + ".crt"), key = dir / (name + ".key");
  auto made = ensure_self_signed(cert, key, kLocalNames);
  EXPECT_TRUE(made.ok()) << made.error().message;
  return {cert, key};
}

std::string pin_of(const fs::path& cert) {
  auto pin = public_key_pin(cert);
  EXPECT_TRUE(pin.ok()) << pin.error().message;
  return pin.ok() ? *pin : "";
}

TEST(TlsCredentialsTest, ASelfSignedPairIsMadeOnceAndKeptWithAPrivateKey) {
  TempDir dir;
  const fs::path cert = dir / "tls" / "server.crt", key = dir / "tls" / "server.key";
  auto first = ensure_self_signed(cert, key, kLocalNames);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(*first);
  const std::string pin = pin_of(cert);
  EXPECT_TRUE(pin.starts_with("sha256//")) << pin;
  EXPECT_EQ(pin.size(), 8u + 44u);
  auto again = ensure_self_signed(cert, key, kLocalNames);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again) << "a restart keeps the certificate clients pinned";
  EXPECT_EQ(pin_of(cert), pin);
  struct stat key_stat {};
  ASSERT_EQ(::stat(key.c_str(), &key_stat), 0);
  EXPECT_EQ(key_stat.st_mode & 0777, 0600u);
  auto loaded = TlsCredentials::load(cert, key);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ((*loaded)->pin(), pin);
}

TEST(TlsCredentialsTest, AMismatchedOrUnreadablePairIsRefusedAndAReloadKeepsThePairInUse) {
  TempDir dir;
  auto [cert_a, key_a] = make_pair(dir, "a");
  auto [cert_b, key_b] = make_pair(dir, "b");
  auto mismatched = TlsCredentials::load(cert_a, key_b);
  ASSERT_FALSE(mismatched.ok());
  EXPECT_NE(mismatched.error().message.find("is not the key of the certificate"), std::string::npos)
      << mismatched.error().message;
  auto missing = TlsCredentials::load(dir / "none.crt", key_a);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("cannot read the TLS certificate"), std::string::npos)
      << missing.error().message;
  write_bytes(dir / "garbage.crt", "not a certificate\n");
  auto garbage = TlsCredentials::load(dir / "garbage.crt", key_a);
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("holds no certificate"), std::string::npos)
      << garbage.error().message;

  // The files in use are replaced one at a time, as an operator's copy does.
  const fs::path cert = dir / "server.crt", key = dir / "server.key";
  fs::copy_file(cert_a, cert);
  fs::copy_file(key_a, key);
  auto credentials = TlsCredentials::load(cert, key);
  ASSERT_TRUE(credentials.ok()) << credentials.error().message;
  fs::copy_file(cert_b, cert, fs::copy_options::overwrite_existing);
  EXPECT_FALSE((*credentials)->reload().ok()) << "the new certificate with the old key";
  EXPECT_EQ((*credentials)->pin(), pin_of(cert_a)) << "a failed reload keeps the pair in use";
  fs::copy_file(key_b, key, fs::copy_options::overwrite_existing);
  ASSERT_TRUE((*credentials)->reload().ok());
  EXPECT_EQ((*credentials)->pin(), pin_of(cert_b));
}

TEST(TlsClientTest, LoopbackHostsAndUrlHostsAreRecognised) {
  for (const char* host : {"localhost", "127.0.0.1", "127.8.9.10", "::1"})
    EXPECT_TRUE(is_loopback_host(host)) << host;
  for (const char* host : {"10.0.0.2", "128.0.0.1", "example.org", "0.0.0.0", "", "localhost.example.org"})
    EXPECT_FALSE(is_loopback_host(host)) << host;
  EXPECT_EQ(url_host("https://farm.example.org:8443/api"), "farm.example.org");
  EXPECT_EQ(url_host("http://127.0.0.1:8080"), "127.0.0.1");
  EXPECT_EQ(url_host("http://[::1]:8080/x"), "::1");
  EXPECT_EQ(url_host("http://user@10.0.0.2"), "10.0.0.2");
  EXPECT_EQ(url_host("no-scheme"), "");
}

// One TLS connection kept open, as a client with keep-alive holds it.
class RawTlsConnection {
 public:
  explicit RawTlsConnection(int port) : context_(SSL_CTX_new(TLS_client_method())) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ssl_ = SSL_new(context_);
    SSL_set_fd(ssl_, fd_);
    connected_ = connected_ && SSL_connect(ssl_) == 1;
  }
  ~RawTlsConnection() {
    SSL_free(ssl_);
    SSL_CTX_free(context_);
    ::close(fd_);
  }
  bool connected() const { return connected_; }

  // The pin of the certificate this connection was shown.
  std::string peer_pin() const {
    X509* peer = SSL_get1_peer_certificate(ssl_);
    unsigned char* der = nullptr;
    const int size = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(peer), &der);
    unsigned char digest[32];
    unsigned int digest_size = 0;
    EVP_Digest(der, static_cast<size_t>(size), digest, &digest_size, EVP_sha256(), nullptr);
    OPENSSL_free(der);
    X509_free(peer);
    return "sha256//" + base64_encode(std::string_view(reinterpret_cast<const char*>(digest), digest_size));
  }

  // GET `path` on this connection; the status line and headers, and the body.
  std::string get(const std::string& path) {
    const std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n";
    if (SSL_write(ssl_, request.data(), static_cast<int>(request.size())) <= 0) return "";
    std::string response;
    char buffer[4096];
    while (true) {
      const std::size_t end = response.find("\r\n\r\n");
      if (end != std::string::npos) {
        const std::size_t length_at = response.find("Content-Length: ");
        const std::size_t length =
            length_at == std::string::npos ? 0 : std::stoul(response.substr(length_at + 16));
        if (response.size() >= end + 4 + length) return response;
      }
      const int n = SSL_read(ssl_, buffer, sizeof buffer);
      if (n <= 0) return response;
      response.append(buffer, static_cast<std::size_t>(n));
    }
  }

 private:
  SSL_CTX* context_;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
};

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(init_crypto().ok()); }

  // The canopy CLI against `server` with the admin key and `trust` flags.
  CommandResult cli(const ServerProcess& server, const std::string& trust, const std::string& args) {
    return run_shell(canopy_binary().string() + " " + args + " --server " + server.url() + " --api-key " +
                     ServerProcess::kAdminKey + " " + trust + " 2>&1");
  }

  static HttpOptions pinned(const std::string& pin) {
    HttpOptions options;
    options.max_attempts = 1;
    options.server_pin = pin;
    options.headers = {std::string("X-API-KEY: ") + ServerProcess::kAdminKey};
    return options;
  }

  static int port_of(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

  TempDir work_;
};

TEST_F(TlsServerTest, ClientsReachTheServerByItsPinOrCaAndRefuseAnyOther) {
  ServerProcess server(work_ / "data", {"--self-signed"});
  ASSERT_TRUE(server.url().starts_with("https://")) << server.url();
  const std::string pin = server.tls_pin();
  ASSERT_EQ(pin, pin_of(work_ / "data" / "tls" / "server.crt"));

  auto listed = cli(server, "--server-pin " + pin, "keys list --json");
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  auto by_ca =
      cli(server, "--ca-file " + (work_ / "data" / "tls" / "server.crt").string(), "keys list --json");
  EXPECT_EQ(by_ca.exit_code, 0) << by_ca.output;

  auto [other_cert, other_key] = make_pair(work_, "other");
  auto wrong_pin = cli(server, "--server-pin " + pin_of(other_cert), "keys list");
  EXPECT_NE(wrong_pin.exit_code, 0);
  EXPECT_NE(wrong_pin.output.find("does not match pinned public key"), std::string::npos) << wrong_pin.output;
  auto wrong_ca = cli(server, "--ca-file " + other_cert.string(), "keys list");
  EXPECT_NE(wrong_ca.exit_code, 0);
  EXPECT_NE(wrong_ca.output.find("refusing the server"), std::string::npos) << wrong_ca.output;
  auto system_store = cli(server, "", "keys list");
  EXPECT_NE(system_store.exit_code, 0) << "a self-signed certificate is in no system store";
  auto curl = run_shell("curl -sS --cacert " + (work_ / "data" / "tls" / "server.crt").string() + " " +
                        server.url() + "/api/v1/health");
  EXPECT_NE(curl.output.find("\"ok\""), std::string::npos) << curl.output;

  // The self-signed certificate survives a restart: the pin clients were given stays good.
  server.stop();
  server.start();
  EXPECT_EQ(server.tls_pin(), pin);
}

TEST_F(TlsServerTest, SighupServesTheNewCertificateToNewConnectionsAndKeepsOpenOnes) {
  auto [cert_a, key_a] = make_pair(work_, "a");
  auto [cert_b, key_b] = make_pair(work_, "b");
  const fs::path cert = work_ / "server.crt", key = work_ / "server.key";
  fs::copy_file(cert_a, cert);
  fs::copy_file(key_a, key);
  ServerProcess server(work_ / "data", {"--tls-cert", cert.string(), "--tls-key", key.string()});
  ASSERT_EQ(server.tls_pin(), pin_of(cert_a));

  RawTlsConnection open(port_of(server.url()));
  ASSERT_TRUE(open.connected());
  EXPECT_NE(open.get("/api/v1/health").find("200 OK"), std::string::npos);

  // A bad pair first: the reload is refused, and the server goes on with A.
  fs::copy_file(cert_b, cert, fs::copy_options::overwrite_existing);
  server.signal(SIGHUP);
  for (int i = 0; i < 200 && server.log().find("server.tls.not_reloaded") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_NE(server.log().find("server.tls.not_reloaded"), std::string::npos) << server.log();
  EXPECT_TRUE(HttpClient(server.url(), pinned(pin_of(cert_a))).get("/api/v1/health").ok());
  fs::copy_file(key_b, key, fs::copy_options::overwrite_existing);
  server.signal(SIGHUP);
  bool serves_b = false;
  for (int i = 0; i < 100 && !serves_b; ++i) {
    serves_b = HttpClient(server.url(), pinned(pin_of(cert_b))).get("/api/v1/health").ok();
    if (!serves_b) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(serves_b) << "new connections get the new certificate: " << server.log();
  EXPECT_FALSE(HttpClient(server.url(), pinned(pin_of(cert_a))).get("/api/v1/health").ok());

  // The connection opened before the reload still works, with the certificate it began with.
  EXPECT_NE(open.get("/api/v1/health").find("200 OK"), std::string::npos)
      << "the open connection was dropped";
  EXPECT_EQ(open.peer_pin(), pin_of(cert_a));
}

TEST_F(TlsServerTest, TheServerRefusesAMismatchedPairAndPlainHttpOffLoopback) {
  auto [cert_a, key_a] = make_pair(work_, "a");
  auto [cert_b, key_b] = make_pair(work_, "b");
  const std::string server =
      canopy_binary().string() + " server --listen 127.0.0.1:0 --data " + (work_ / "data").string();
  auto mismatched = run_shell("timeout 10 " + server + " --tls-cert " + cert_a.string() + " --tls-key " +
                              key_b.string() + " 2>&1");
  EXPECT_EQ(mismatched.exit_code, 1) << mismatched.output;
  EXPECT_NE(mismatched.output.find("is not the key of the certificate"), std::string::npos)
      << mismatched.output;
  auto one_half = run_shell("timeout 10 " + server + " --tls-cert " + cert_a.string() + " 2>&1");
  EXPECT_NE(one_half.exit_code, 0);
  EXPECT_NE(one_half.output.find("--tls-cert and --tls-key go together"), std::string::npos)
      << one_half.output;

  auto open_plain = run_shell("timeout 10 " + canopy_binary().string() +
                              " server --listen 0.0.0.0:0 --data " + (work_ / "data").string() + " 2>&1");
  EXPECT_EQ(open_plain.exit_code, 1) << open_plain.output;
  EXPECT_NE(open_plain.output.find("refusing to serve plain HTTP on 0.0.0.0"), std::string::npos)
      << open_plain.output;
  ServerProcess allowed(work_ / "allowed", {"--listen", "0.0.0.0:0", "--allow-plain-http"});
  EXPECT_NE(allowed.log().find("server.plain_http"), std::string::npos) << "the operator is warned";
}

TEST_F(TlsServerTest, TheAgentKeepsItsPinAndRefusesAnImpostorAndPlainHttpOffLoopback) {
  ServerProcess server(work_ / "data", {"--self-signed"});
  ServerProcess impostor(work_ / "impostor", {"--self-signed"});
  ASSERT_NE(server.tls_pin(), impostor.tls_pin());
  auto token = HttpClient(server.url(), pinned(server.tls_pin()))
                   .send("POST", "/api/v1/enrollment-tokens", R"({"group": "field-a", "max_uses": 5})",
                         "application/json");
  ASSERT_TRUE(token.ok()) << token.error().message;
  const std::string enroll_token = parse_json(token->body)->value("token", "");
  const fs::path device = work_ / "device";
  auto agent = [&](const std::string& url, const std::string& extra) {
    return run_shell(agent_binary().string() + " run --once --server " + url + " --data-dir " +
                     device.string() + " --enroll-token " + enroll_token + " " + extra + " 2>&1");
  };

  // A man in the middle answers at the server's address with its own certificate.
  auto fooled = agent(impostor.url(), "--server-pin " + server.tls_pin());
  EXPECT_NE(fooled.exit_code, 0);
  EXPECT_NE(fooled.output.find("does not match pinned public key"), std::string::npos) << fooled.output;
  EXPECT_FALSE(fs::exists(device / "enrollment.json")) << "nothing was learnt from the impostor";

  auto enrolled = agent(server.url(), "--server-pin " + server.tls_pin());
  EXPECT_EQ(enrolled.exit_code, 0) << enrolled.output;
  EXPECT_TRUE(fs::exists(device / "enrollment.json"));
  // Later starts need no flag: the pin given at enrollment is kept, and an impostor is still refused.
  EXPECT_EQ(agent(server.url(), "").exit_code, 0);
  auto later = agent(impostor.url(), "");
  EXPECT_NE(later.exit_code, 0);
  EXPECT_NE(later.output.find("does not match pinned public key"), std::string::npos) << later.output;

  auto plain = run_shell(agent_binary().string() + " run --once --server http://192.0.2.10:8080 --data-dir " +
                         (work_ / "plain").string() + " --enroll-token " + enroll_token + " 2>&1");
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_NE(plain.output.find("refusing plain HTTP to http://192.0.2.10:8080"), std::string::npos)
      << plain.output;
  auto bad_pin = agent(server.url(), "--server-pin sha256//short");
  EXPECT_NE(bad_pin.exit_code, 0);
  EXPECT_NE(bad_pin.output.find("--server-pin"), std::string::npos) << bad_pin.output;
}

}  // namespace
}  // namespace canopy::testing
