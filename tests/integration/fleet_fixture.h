// The fleet end to end: the real server binary on a loopback port; the test
// plays the admin (API key) and simulated devices that enroll with their own
// ed25519 keys and poll and report over real HTTP (libcurl), exactly as the
// agent does per docs/fleet.md.
#pragma once

#include <map>
#include <string>

#include "common/http_client.h"
#include "common/json.h"
#include "common/keys.h"
#include "registry_fixture.h"

namespace canopy::testing {

struct SimDevice {
  KeyPair key;
  std::string name;
  std::string id;
  std::string token;
};

inline std::string utc_now(int offset_s = 0) {
  std::time_t t = std::time(nullptr) + offset_s;
  std::tm utc{};
  gmtime_r(&t, &utc);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return out;
}

// The enrollment request of docs/fleet.md, signed by `signer`.
inline Json enroll_request(const SimDevice& device, const std::string& token, const Json& tags,
                           const KeyPair& signer, const std::string& timestamp) {
  const std::string public_key =
      device.key.public_key.to_text().substr(0, device.key.public_key.to_text().size() - 1);
  const std::string signed_text =
      "canopy-enroll\n" + token + "\n" + public_key + "\n" + device.name + "\n" + timestamp;
  return {{"enrollment_token", token},
          {"public_key", public_key},
          {"name", device.name},
          {"tags", tags},
          {"agent_version", "0.1.0"},
          {"timestamp", timestamp},
          {"signature", base64_encode(sign_detached(signer, signed_text))}};
}

class FleetFixture : public RegistryFixture {
 protected:
  HttpResponse call(const std::string& method, const std::string& path, const Json& body,
                    std::vector<std::string> headers) {
    HttpOptions options;
    options.max_attempts = 1;
    options.headers = std::move(headers);
    HttpClient client(server_->url(), options);
    auto response =
        method == "GET" ? client.get(path) : client.send(method, path, body.dump(), "application/json");
    EXPECT_TRUE(response.ok()) << response.error().message;
    return response.ok() ? *response : HttpResponse{};
  }

  HttpResponse admin(const std::string& method, const std::string& path, const Json& body = Json::object()) {
    return call(method, path, body, {std::string("X-API-KEY: ") + ServerProcess::kAdminKey});
  }

  static Json body_of(const HttpResponse& response) {
    auto json = parse_json(response.body);
    return json.ok() ? *json : Json();
  }

  std::string enrollment_token(const std::string& group, int uses = 100, const std::string& approval = "auto",
                               int expires_in_s = 3600) {
    auto response =
        admin("POST", "/api/v1/enrollment-tokens",
              {{"group", group}, {"max_uses", uses}, {"approval", approval}, {"expires_in_s", expires_in_s}});
    EXPECT_EQ(response.status, 201) << response.body;
    return body_of(response).value("token", "");
  }

  HttpResponse try_enroll(SimDevice& device, const std::string& token, const Json& tags = Json::object()) {
    auto response =
        call("POST", "/api/v1/enroll", enroll_request(device, token, tags, device.key, utc_now()), {});
    if (response.status == 201) {
      Json body = body_of(response);
      device.id = body.value("device_id", "");
      device.token = body.value("device_token", "");
    }
    return response;
  }

  SimDevice enroll(const std::string& name, const std::string& token, const Json& tags = Json::object()) {
    SimDevice device{KeyPair::generate(), name, "", ""};
    auto response = try_enroll(device, token, tags);
    EXPECT_EQ(response.status, 201) << response.body;
    return device;
  }

  HttpResponse device_call(const SimDevice& device, const std::string& method, const std::string& path,
                           const Json& body = Json::object(), std::vector<std::string> extra = {}) {
    extra.push_back("Authorization: Bearer " + device.token);
    return call(method, path, body, extra);
  }

  Json desired(const SimDevice& device) {
    auto response = device_call(device, "GET", "/api/v1/device/desired");
    EXPECT_EQ(response.status, 200) << response.body;
    return body_of(response);
  }

  static Json model_json(int version, const std::string& name = "crop-disease-detector") {
    return version > 0 ? Json{{"name", name}, {"version", version}} : Json(nullptr);
  }

  // A status report; `current`/`previous` are version numbers of the test model, 0 for null.
  HttpResponse report(const SimDevice& device, std::int64_t deployment, const std::string& state, int model,
                      int current, int previous, const std::string& error = "") {
    return device_call(device, "POST", "/api/v1/device/status",
                       {{"deployment_id", deployment > 0 ? Json(deployment) : Json(nullptr)},
                        {"state", state},
                        {"progress", 1.0},
                        {"model", model_json(model)},
                        {"current", model_json(current)},
                        {"previous", model_json(previous)},
                        {"error", error},
                        {"agent_version", "0.1.0"},
                        {"health", error.empty() ? "ok" : "failing"},
                        {"reported_at", utc_now()}});
  }

  // Publishes a new version of crop-disease-detector and returns its number.
  int publish(unsigned seed) {
    std::string zip_name = std::to_string(seed);
    zip_name += ".zip";
    fs::path zip = signed_package("crop-disease-detector", random_bytes(20000, seed), signing_key_, zip_name);
    auto pushed = cli("--json model push " + zip.string());
    EXPECT_EQ(pushed.exit_code, 0) << pushed.output;
    // The output may start with log lines; the JSON is the rest.
    const std::string_view output = pushed.output;
    const auto brace = output.find('{');
    auto json = parse_json(brace == std::string_view::npos ? std::string_view() : output.substr(brace));
    return json.ok() ? json->value("version", 0) : 0;
  }

  Json deploy(const Json& request) {
    auto response = admin("POST", "/api/v1/deployments", request);
    EXPECT_EQ(response.status, 201) << response.body;
    return body_of(response);
  }

  // `count` devices enrolled into `group` as cam-0, cam-1, ...
  std::vector<SimDevice> enroll_group(const std::string& group, int count) {
    const std::string token = enrollment_token(group);
    std::vector<SimDevice> devices;
    for (int i = 0; i < count; ++i) devices.push_back(enroll("cam-" + std::to_string(i), token));
    return devices;
  }

  // crop-disease-detector `version` deployed to `group` with `strategy`.
  Json deploy_to_group(int version, const std::string& group, const Json& strategy) {
    return deploy({{"model", "crop-disease-detector"},
                   {"version", version},
                   {"target", {{"group", group}}},
                   {"strategy", strategy}});
  }

  Json deployment(std::int64_t id) {
    auto response = admin("GET", "/api/v1/deployments/" + std::to_string(id));
    EXPECT_EQ(response.status, 200) << response.body;
    return body_of(response);
  }

  static std::string action_of(const Json& desired) {
    return desired["deployment"].is_null() ? "" : desired["deployment"].value("action", "");
  }
  static int model_version_of(const Json& desired) {
    return desired["model"].is_null() ? 0 : desired["model"].value("version", 0);
  }
};

}  // namespace canopy::testing
