// The registry end to end: the real server binary on a loopback port, driven
// by curl (as pipelines do) and by the canopy CLI.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/json.h"
#include "registry_fixture.h"

namespace canopy::testing {
namespace {

using RegistryTest = RegistryFixture;

std::int64_t version_of(const HttpResult& result) {
  auto json = parse_json(result.body);
  return json.ok() ? json->value("version", std::int64_t{-1}) : -1;
}

TEST_F(RegistryTest, PipelineCurlUploadCreatesVersionsAndDedupes) {
  make_package_dir("crop-disease-detector", random_bytes(200000, 1));
  fs::path zip = zip_dir("crop-disease-detector", "model.zip");

  HttpResult first = pipeline_upload(zip);
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(version_of(first), 1);

  HttpResult again = pipeline_upload(zip);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(version_of(again), 1);
  EXPECT_NE(again.body.find("\"created\": false"), std::string::npos);

  make_package_dir("crop-disease-detector", random_bytes(200000, 2));
  HttpResult changed = pipeline_upload(zip_dir("crop-disease-detector", "model.zip"));
  ASSERT_EQ(changed.status, 201) << changed.body;
  EXPECT_EQ(version_of(changed), 2);

  auto list = cli("model list --json");
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("\"latest_version\": 2"), std::string::npos) << list.output;
}

TEST_F(RegistryTest, UnsignedUploadIsSignedByTheServer) {
  make_package_dir("crop-disease-detector", random_bytes(1000, 3));
  ASSERT_EQ(pipeline_upload(zip_dir("crop-disease-detector", "model.zip")).status, 201);
  auto pulled = cli("model pull crop-disease-detector -o " + (work_ / "pulled.zip").string());
  ASSERT_EQ(pulled.exit_code, 0) << pulled.output;
  auto verified = run_shell(canopy_binary().string() + " package verify " + (work_ / "pulled.zip").string() +
                            " --key " + (work_ / "data" / "keys" / "publisher.pub").string());
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  EXPECT_NE(verified.output.find("trusted key"), std::string::npos) << verified.output;
}

TEST_F(RegistryTest, SignedPackagePullsBackByteIdentical) {
  fs::path zip = signed_package("crop-disease-detector", random_bytes(300000, 4), signing_key_, "signed.zip");
  auto pushed = cli("model push " + zip.string());
  ASSERT_EQ(pushed.exit_code, 0) << pushed.output;
  auto pulled = cli("model pull crop-disease-detector:1 -o " + (work_ / "pulled.zip").string());
  ASSERT_EQ(pulled.exit_code, 0) << pulled.output;
  EXPECT_EQ(read_bytes(work_ / "pulled.zip"), read_bytes(zip));
  auto shown = cli("model show crop-disease-detector:1 --json");
  EXPECT_NE(shown.output.find(signing_key_.public_key.key_id()), std::string::npos) << shown.output;
}

TEST_F(RegistryTest, ResumesAnInterruptedDownload) {
  fs::path zip =
      signed_package("crop-disease-detector", random_bytes(3u << 20, 5), signing_key_, "signed.zip");
  ASSERT_EQ(cli("model push " + zip.string()).exit_code, 0);
  const auto size = fs::file_size(zip);
  const auto half = size / 2;
  fs::path out = work_ / "pulled.zip";
  // The first half, as a transfer cut off midway leaves it.
  auto part =
      run_shell("curl -sf " + admin_header() + " -r 0-" + std::to_string(half - 1) + " -o " + out.string() +
                ".part " + server_->url() + "/api/v1/models/crop-disease-detector/versions/1/package");
  ASSERT_EQ(part.exit_code, 0) << part.output;
  ASSERT_EQ(fs::file_size(out.string() + ".part"), half);
  auto pulled = cli("--verbose model pull crop-disease-detector:1 -o " + out.string());
  ASSERT_EQ(pulled.exit_code, 0) << pulled.output;
  EXPECT_NE(pulled.output.find("http.resume"), std::string::npos) << pulled.output;
  EXPECT_NE(pulled.output.find("offset=" + std::to_string(half)), std::string::npos) << pulled.output;
  EXPECT_EQ(read_bytes(out), read_bytes(zip));
}

TEST_F(RegistryTest, DownloadHonoursEtagAndRanges) {
  fs::path zip = signed_package("crop-disease-detector", random_bytes(1000, 6), signing_key_, "signed.zip");
  ASSERT_EQ(cli("model push " + zip.string()).exit_code, 0);
  std::string etag = "\"" + *sha256_file_hex(zip) + "\"";
  HttpResult cached = curl(admin_header() + " -H 'If-None-Match: " + etag + "'",
                           "/api/v1/models/crop-disease-detector/versions/1/package");
  EXPECT_EQ(cached.status, 304);
  EXPECT_TRUE(cached.body.empty());

  const auto size = fs::file_size(zip);
  const std::string path = "/api/v1/models/crop-disease-detector/versions/1/package";
  HttpResult tail =
      curl(admin_header() + " -r " + std::to_string(size - 10) + "-" + std::to_string(size + 5000), path);
  EXPECT_EQ(tail.status, 206);
  EXPECT_EQ(tail.body, read_bytes(zip).substr(size - 10)) << "a range past the end is clamped";
  HttpResult suffix = curl(admin_header() + " -r -" + std::to_string(size + 100), path);
  EXPECT_EQ(suffix.body, read_bytes(zip)) << "a suffix longer than the file is the whole file";
  HttpResult beyond = curl(admin_header() + " -r " + std::to_string(size + 1) + "-", path);
  EXPECT_EQ(beyond.status, 416);
  EXPECT_NE(beyond.body.find("past the end"), std::string::npos) << beyond.body;
}

TEST_F(RegistryTest, TagSearchFindsModelsAndCountsAllTheirVersions) {
  fs::path dir = make_package_dir("crop-disease-detector", random_bytes(1000, 50));
  ASSERT_EQ(pipeline_upload(zip_dir("crop-disease-detector", "a.zip")).status, 201);
  std::string manifest = read_bytes(dir / "canopy.json");
  manifest.replace(manifest.find("\"tags\": []"), 10, "\"tags\": [\"crop:maize\"]");
  write_bytes(dir / "canopy.json", manifest);
  ASSERT_EQ(pipeline_upload(zip_dir("crop-disease-detector", "b.zip")).status, 201);
  auto tagged = parse_json(curl(admin_header(), "/api/v1/models?tag=crop:maize").body);
  ASSERT_TRUE(tagged.ok());
  ASSERT_EQ((*tagged)["models"].size(), 1u);
  EXPECT_EQ((*tagged)["models"][0]["versions"], 2);
  auto none = parse_json(curl(admin_header(), "/api/v1/models?tag=crop:wheat").body);
  EXPECT_TRUE((*none)["models"].empty());
  auto by_name = parse_json(curl(admin_header(), "/api/v1/models?q=disease").body);
  EXPECT_EQ((*by_name)["models"].size(), 1u);
}

TEST_F(RegistryTest, UnauthenticatedCallersLearnNothing) {
  fs::path zip = signed_package("crop-disease-detector", random_bytes(1000, 7), signing_key_, "signed.zip");
  ASSERT_EQ(cli("model push " + zip.string()).exit_code, 0);
  HttpResult existing = curl("-H 'X-API-KEY: wrong-key'", "/api/v1/models/crop-disease-detector");
  HttpResult missing = curl("-H 'X-API-KEY: wrong-key'", "/api/v1/models/no-such-model");
  HttpResult none = curl("", "/api/v1/models/crop-disease-detector/versions/1/package");
  EXPECT_EQ(existing.status, 401);
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(existing.body, missing.body);
  EXPECT_NE(existing.body.find("unauthenticated"), std::string::npos);
}

TEST_F(RegistryTest, RolesLimitWhatAKeyMayDo) {
  auto reader = cli("keys create --role reader --name dashboard");
  ASSERT_EQ(reader.exit_code, 0) << reader.output;
  // stdout carries the key itself; stderr's note may come first in the merged output.
  auto start = reader.output.find("cnp_");
  ASSERT_NE(start, std::string::npos) << reader.output;
  std::string reader_key = reader.output.substr(start, reader.output.find('\n', start) - start);
  fs::path zip = signed_package("crop-disease-detector", random_bytes(1000, 8), signing_key_, "signed.zip");
  HttpResult upload = pipeline_upload(zip, reader_key);
  EXPECT_EQ(upload.status, 403) << upload.body;
  EXPECT_NE(upload.body.find("publisher role"), std::string::npos) << upload.body;
  EXPECT_EQ(curl("-H 'X-API-KEY:" + reader_key + "'", "/api/v1/models").status, 200);
  EXPECT_EQ(curl("-H 'X-API-KEY:" + reader_key + "'", "/api/v1/keys").status, 403);
  // A revoked key stops working at once.
  auto keys = parse_json(curl(admin_header(), "/api/v1/keys").body);
  std::string reader_id;
  for (const auto& k : (*keys)["keys"])
    if (k["name"] == "dashboard") reader_id = k["id"];
  ASSERT_EQ(cli("keys revoke " + reader_id).exit_code, 0);
  EXPECT_EQ(curl("-H 'X-API-KEY:" + reader_key + "'", "/api/v1/models").status, 401);
}

TEST_F(RegistryTest, AKeyMadeWithALifetimeSaysWhenItEndsAndABadLifetimeIsRefused) {
  auto made = cli("--json keys create --role reader --name nightly --expires-in 3600");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  auto key = parse_json(made.output.substr(made.output.find('{')));
  ASSERT_TRUE(key.ok()) << made.output;
  ASSERT_TRUE((*key)["expires_at"].is_string()) << key->dump();
  EXPECT_FALSE((*key)["expired"].get<bool>());
  EXPECT_EQ(curl("-H 'X-API-KEY:" + (*key)["key"].get<std::string>() + "'", "/api/v1/models").status, 200);
  auto listed = cli("keys list");
  ASSERT_EQ(listed.exit_code, 0);
  EXPECT_NE(listed.output.find((*key)["expires_at"].get<std::string>()), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("never"), std::string::npos)
      << "the admin key does not expire: " << listed.output;
  for (const char* lifetime : {"-5", "\"soon\"", "999999999999"}) {
    HttpResult refused =
        curl(admin_header() + " -X POST -d '{\"role\": \"reader\", \"expires_in_s\": " + lifetime + "}'",
             "/api/v1/keys");
    EXPECT_EQ(refused.status, 400) << lifetime << ": " << refused.body;
    EXPECT_NE(refused.body.find("expires_in_s"), std::string::npos) << refused.body;
  }
}

TEST_F(RegistryTest, AliasesMoveWithHistoryAndProtectVersions) {
  for (unsigned seed : {10u, 11u}) {
    fs::path zip =
        signed_package("crop-disease-detector", random_bytes(1000, seed), signing_key_, "signed.zip");
    ASSERT_EQ(cli("model push " + zip.string()).exit_code, 0);
  }
  ASSERT_EQ(cli("model alias set crop-disease-detector 1 production").exit_code, 0);
  ASSERT_EQ(cli("model alias set crop-disease-detector 2 production").exit_code, 0);
  auto shown = cli("model show crop-disease-detector@production --json");
  EXPECT_NE(shown.output.find("\"version\": 2"), std::string::npos) << shown.output;
  auto history = parse_json(
      curl(admin_header(), "/api/v1/models/crop-disease-detector/aliases/production/history").body);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ((*history)["history"].size(), 2u);
  EXPECT_EQ((*history)["history"][0]["version"], 1);
  EXPECT_EQ((*history)["history"][1]["version"], 2);

  auto refused = cli("model delete crop-disease-detector 2");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("referenced by alias 'production'"), std::string::npos) << refused.output;
  EXPECT_NE(cli("model alias set crop-disease-detector 9 staging").exit_code, 0);
  EXPECT_NE(cli("model alias set crop-disease-detector 1 42").exit_code, 0)
      << "numeric alias must be refused";

  auto blobs_before = list_files(work_ / "data" / "blobs");
  ASSERT_EQ(cli("model delete crop-disease-detector 1").exit_code, 0);
  EXPECT_EQ(list_files(work_ / "data" / "blobs").size(), blobs_before.size() - 1);
  // Numbers are never reused.
  fs::path zip = signed_package("crop-disease-detector", random_bytes(1000, 12), signing_key_, "signed.zip");
  auto pushed = cli("model push --json " + zip.string());
  EXPECT_NE(pushed.output.find("\"version\": 3"), std::string::npos) << pushed.output;
  auto models = parse_json(curl(admin_header(), "/api/v1/models").body);
  ASSERT_TRUE(models.ok());
  EXPECT_EQ((*models)["models"][0]["versions"], 2) << "versions 2 and 3 remain";
  EXPECT_EQ((*models)["models"][0]["latest_version"], 3);
  EXPECT_EQ((*models)["models"][0]["aliases"]["production"], 2);
}

// The refusal above says to remove the alias; the CLI can.
TEST_F(RegistryTest, AnAliasIsRemovedWithAliasRmOrDelete) {
  for (unsigned seed : {13u, 14u}) {
    fs::path zip =
        signed_package("crop-disease-detector", random_bytes(1000, seed), signing_key_, "signed.zip");
    ASSERT_EQ(cli("model push " + zip.string()).exit_code, 0);
  }
  ASSERT_EQ(cli("model alias set crop-disease-detector 1 production").exit_code, 0);
  ASSERT_EQ(cli("model alias set crop-disease-detector 2 staging").exit_code, 0);

  auto removed = cli("model alias rm crop-disease-detector production");
  ASSERT_EQ(removed.exit_code, 0) << removed.output;
  EXPECT_NE(removed.output.find("removed crop-disease-detector@production"), std::string::npos)
      << removed.output;
  auto gone = cli("model show crop-disease-detector@production");
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_NE(gone.output.find("has no alias 'production'"), std::string::npos) << gone.output;
  EXPECT_EQ(cli("model delete crop-disease-detector 1").exit_code, 0) << "no alias holds version 1 any more";

  ASSERT_EQ(cli("model alias delete crop-disease-detector staging").exit_code, 0);
  auto again = cli("model alias delete crop-disease-detector staging");
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.output.find("has no alias 'staging'"), std::string::npos) << again.output;
  auto history =
      parse_json(curl(admin_header(), "/api/v1/models/crop-disease-detector/aliases/staging/history").body);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ((*history)["history"].size(), 2u);
  EXPECT_TRUE((*history)["history"][1]["version"].is_null()) << "the removal is in the alias's history";
}

// Each bad upload gets its status and message, and the store afterwards holds
// exactly what it held before: no blob, no temp file, no row.
TEST_F(RegistryTest, RejectionsLeaveTheStoreUnchanged) {
  fs::path good = signed_package("crop-disease-detector", random_bytes(20000, 20), signing_key_, "good.zip");
  ASSERT_EQ(cli("model push " + good.string()).exit_code, 0);
  const std::string before = store_snapshot();

  fs::path dir = make_package_dir("crop-disease-detector", random_bytes(20000, 21));
  std::string manifest = read_bytes(dir / "canopy.json");
  std::string model = read_bytes(dir / "model.onnx");
  package::Signature signature = package::sign_manifest(signing_key_, manifest);
  KeyPair stranger = KeyPair::generate();

  struct Case {
    std::string name;
    std::vector<ZipEntry> entries;
    int status;
    std::string message;
  };
  std::string tampered_model = model;
  tampered_model[7] ^= 1;
  std::string changed_manifest = manifest;
  changed_manifest.replace(changed_manifest.find("\"description\": \"\""), 17, "\"description\": \"y\"");
  std::vector<Case> cases = {
      {"zip-slip",
       {{"canopy.json", manifest}, {"model.onnx", model}, {"../../evil.sh", "x"}},
       422,
       "escapes"},
      {"symlink",
       {{"canopy.json", manifest}, {"model.onnx", model}, {"evil", "/etc/passwd", ZipEntry::Kind::kSymlink}},
       422,
       "links are not allowed"},
      {"manifest-hash-mismatch",
       {{"canopy.json", manifest}, {"model.onnx", tampered_model}},
       422,
       "SHA-256 does not match"},
      {"file-tampered-after-signing",
       {{"canopy.json", manifest}, {"canopy.sig", signature.to_json()}, {"model.onnx", tampered_model}},
       422,
       "SHA-256 does not match"},
      {"manifest-changed-after-signing",
       {{"canopy.json", changed_manifest}, {"canopy.sig", signature.to_json()}, {"model.onnx", model}},
       422,
       "changed after signing"},
      {"untrusted-signer",
       {{"canopy.json", manifest},
        {"canopy.sig", package::sign_manifest(stranger, manifest).to_json()},
        {"model.onnx", model}},
       422,
       "not trusted"},
  };
  for (const auto& c : cases) {
    write_zip(work_ / (c.name + ".zip"), c.entries);
    HttpResult result = pipeline_upload(work_ / (c.name + ".zip"));
    EXPECT_EQ(result.status, c.status) << c.name << ": " << result.body;
    EXPECT_NE(result.body.find(c.message), std::string::npos) << c.name << ": " << result.body;
    EXPECT_EQ(store_snapshot(), before) << c.name << " changed the store";
  }

  // Bad key.
  HttpResult bad_key = pipeline_upload(good, "not-a-key");
  EXPECT_EQ(bad_key.status, 401);
  EXPECT_NE(bad_key.body.find("valid API key"), std::string::npos) << bad_key.body;

  // Truncated zip: the first half of a good package.
  std::string bytes = read_bytes(good);
  write_bytes(work_ / "truncated.zip", bytes.substr(0, bytes.size() / 2));
  HttpResult truncated = pipeline_upload(work_ / "truncated.zip");
  EXPECT_EQ(truncated.status, 422) << truncated.body;
  EXPECT_NE(truncated.body.find("truncated or corrupt"), std::string::npos) << truncated.body;
  EXPECT_EQ(truncated.body.find("/tmp"), std::string::npos)
      << "server paths must not leak: " << truncated.body;

  // A zip bomb: 6 MiB of zeros (under the upload limit) compress about 1000:1.
  make_package_dir("bomb", std::string(6u << 20, '\0'));
  ASSERT_TRUE(package::create_package(work_ / "models" / "bomb", work_ / "bomb.zip", signing_key_).ok());
  HttpResult bomb = pipeline_upload(work_ / "bomb.zip");
  EXPECT_EQ(bomb.status, 413) << bomb.body;
  EXPECT_NE(bomb.body.find("compression ratio"), std::string::npos) << bomb.body;

  // Oversize: refused (before the body is sent, thanks to Expect: 100-continue).
  write_bytes(work_ / "big.zip", random_bytes(kMaxUploadBytes + 1024, 22));
  HttpResult big = pipeline_upload(work_ / "big.zip");
  EXPECT_EQ(big.status, 413) << big.body;
  EXPECT_NE(big.body.find("larger than the server's limit"), std::string::npos) << big.body;
  // Oversize without Expect: refused from its Content-Length.
  HttpResult no_expect =
      curl(admin_header() + " -H 'Expect:' -T " + (work_ / "big.zip").string(), "/repository/model.zip");
  EXPECT_EQ(no_expect.status, 413) << no_expect.body;
  EXPECT_NE(no_expect.body.find("larger than the server's limit"), std::string::npos) << no_expect.body;
  // Oversize and chunked (no length known up front): cut off while streaming.
  HttpResult chunked = curl(
      admin_header() + " -H 'Expect:' -H 'Transfer-Encoding: chunked' -T " + (work_ / "big.zip").string(),
      "/repository/model.zip");
  EXPECT_EQ(chunked.status, 413) << chunked.body;

  EXPECT_EQ(store_snapshot(), before);
}

// A client that dies mid-body: the server must drop the partial upload.
TEST_F(RegistryTest, TruncatedUploadIsDropped) {
  fs::path good = signed_package("crop-disease-detector", random_bytes(200000, 30), signing_key_, "good.zip");
  const std::string before = store_snapshot();
  std::string url = server_->url();
  int port = std::stoi(url.substr(url.rfind(':') + 1));
  int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(::connect(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string bytes = read_bytes(good);
  std::string head =
      "PUT /repository/model.zip HTTP/1.1\r\nHost: x\r\nX-API-KEY: " + std::string(ServerProcess::kAdminKey) +
      "\r\nContent-Length: " + std::to_string(bytes.size()) + "\r\n\r\n";
  ASSERT_EQ(::send(sock, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  ASSERT_GT(::send(sock, bytes.data(), bytes.size() / 3, 0), 0);
  ::close(sock);
  // The server notices the closed connection and cleans up; poll briefly.
  for (int i = 0; i < 100 && store_snapshot() != before; ++i) ::usleep(20000);
  EXPECT_EQ(store_snapshot(), before);
  EXPECT_EQ(pipeline_upload(good).status, 201) << "the server still accepts uploads";
}

}  // namespace
}  // namespace canopy::testing
