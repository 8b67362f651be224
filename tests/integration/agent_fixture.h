// The real canopy-agent binary against the real server: the test publishes
// packages built with the package tools, deploys them to the agent's device
// with the admin API, runs `canopy-agent run --once` (optionally with a
// crash point), and inspects the data directory and the server's inventory.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fleet_fixture.h"
#include "model_packages.h"

namespace canopy::testing {

class AgentFixture : public FleetFixture {
 protected:
  static constexpr const char* kModel = "crop-detector";

  void SetUp() override {
    FleetFixture::SetUp();
    token_ = enrollment_token("north-field");
  }

  // Publishes a package built from `spec` (signed by the trusted publisher)
  // and returns its version.
  int publish_model(ModelPackageSpec spec) { return publish_model(spec, signing_key_); }

  // The same, signed by `key`; unsigned (the server signs it with its own
  // publishing key) when there is none.
  int publish_model(ModelPackageSpec spec, const std::optional<KeyPair>& key) {
    spec.name = kModel;
    const std::string tag = std::to_string(++packages_);
    const fs::path zip = work_ / ("agent-" + tag + ".zip");
    build_model_package(work_ / ("agent-src-" + tag), zip, spec, key);
    last_zip_ = zip;
    auto pushed = cli("--json model push " + zip.string());
    EXPECT_EQ(pushed.exit_code, 0) << pushed.output;
    const auto brace = pushed.output.find('{');
    auto json = parse_json(brace == std::string::npos ? std::string_view()
                                                      : std::string_view(pushed.output).substr(brace));
    return json.ok() ? json->value("version", 0) : 0;
  }

  std::int64_t deploy_version(int version, const std::string& device_id) {
    Json created = deploy({{"model", kModel}, {"version", version}, {"target", {{"devices", {device_id}}}}});
    return created.value("id", std::int64_t{0});
  }

  std::string agent_command(const fs::path& data_dir, const std::string& extra = "") const {
    return agent_binary().string() + " run --once --server " + server_->url() + " --data-dir " +
           data_dir.string() + " --enroll-token " + token_ + " --name cam-1 --tag crop=wheat" + extra;
  }

  // One `run --once`; `env` is prepended (e.g. "CANOPY_AGENT_CRASH_AT=switching").
  CommandResult run_agent(const fs::path& data_dir, const std::string& env = "",
                          const std::string& extra = "") {
    return run_shell(env + " " + agent_command(data_dir, extra) + " 2>&1");
  }

  Json agent_status(const fs::path& data_dir) {
    auto shown =
        run_shell(agent_binary().string() + " status --json --data-dir " + data_dir.string());
    EXPECT_EQ(shown.exit_code, 0) << shown.output;
    auto json = parse_json(shown.output);
    return json.ok() ? *json : Json();
  }

  static int version_of(const Json& ref) { return ref.is_null() ? 0 : ref.value("version", 0); }

  Json device_row(const std::string& device_id) {
    return body_of(admin("GET", "/api/v1/devices/" + device_id));
  }

  // Enrolls a fresh agent in `data_dir` and installs `version` on it.
  std::string enrolled_with(const fs::path& data_dir, int version) {
    auto first = run_agent(data_dir);
    EXPECT_EQ(first.exit_code, 0) << first.output;
    const std::string device_id = agent_status(data_dir).value("device_id", "");
    EXPECT_FALSE(device_id.empty());
    deploy_version(version, device_id);
    auto installed = run_agent(data_dir);
    EXPECT_EQ(installed.exit_code, 0) << installed.output;
    EXPECT_EQ(version_of(agent_status(data_dir)["current"]), version);
    return device_id;
  }

  // Every file under `root` that an interrupted write or download leaves behind.
  static std::vector<std::string> partial_files(const fs::path& root) {
    std::vector<std::string> found;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.ends_with(".part") || name.find(".tmp-") != std::string::npos ||
          name.find(".extract-") != std::string::npos || name.ends_with(".next") ||
          it->path().parent_path().filename() == "downloads")
        found.push_back(fs::relative(it->path(), root).string());
    }
    return found;
  }

  // The active slot holds a complete package signed by the publisher: every
  // file the manifest lists is there with its SHA-256, and canopy.sig verifies.
  ::testing::AssertionResult active_model_verifies(const fs::path& data_dir, const Json& status) {
    const std::string slot = status["state"].value("active_slot", "");
    if (slot.empty()) return ::testing::AssertionFailure() << "no active slot";
    const fs::path dir = data_dir / "slots" / slot;
    const std::string manifest_bytes = read_bytes(dir / "canopy.json");
    auto manifest = package::parse_manifest(manifest_bytes);
    if (!manifest.ok()) return ::testing::AssertionFailure() << manifest.error().message;
    for (const auto& file : manifest->files) {
      auto sha = sha256_file_hex(dir / file.path);
      if (!sha.ok() || *sha != file.sha256)
        return ::testing::AssertionFailure() << file.path << " is damaged";
    }
    auto signature = package::Signature::from_json(read_bytes(dir / "canopy.sig"));
    if (!signature.ok()) return ::testing::AssertionFailure() << signature.error().message;
    if (!verify_detached(signing_key_.public_key, manifest_bytes, signature->signature))
      return ::testing::AssertionFailure() << "canopy.sig does not verify";
    return ::testing::AssertionSuccess();
  }

  // The server's stored copy of the last published package.
  fs::path last_blob() {
    const std::string sha = *sha256_file_hex(last_zip_);
    const fs::path blob = work_ / "data" / "blobs" / "sha256" / sha.substr(0, 2) / (sha + ".zip");
    EXPECT_TRUE(fs::exists(blob)) << blob;
    return blob;
  }

  std::string token_;
  int packages_ = 0;
  fs::path last_zip_;
};

}  // namespace canopy::testing
