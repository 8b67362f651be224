#include "client/registry_client.h"

#include "common/hash.h"

namespace canopy::client {

Result<Json> parse_answer(const Result<HttpResponse>& response, const std::string& what) {
  if (!response.ok()) return response.error();
  if (response->status < 200 || response->status >= 300) return http_status_error(*response, what);
  return parse_json(response->body, "server response");
}

std::string url_segment(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '@') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

RegistryClient::RegistryClient(const std::string& server_url, const std::string& api_key, HttpOptions options)
    : http_(server_url, [&] {
        options.headers.push_back("X-API-KEY: " + api_key);
        return options;
      }()) {}

Result<Json> RegistryClient::call(const std::string& method, const std::string& path, const std::string& body,
                                  const std::string& what) {
  auto response = method == "GET" ? http_.get(path) : http_.send(method, path, body, "application/json");
  return parse_answer(response, what);
}

Result<Json> RegistryClient::push(const std::filesystem::path& package, const ProgressCallback& progress) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(package, ec))
    return make_error(ErrorCode::kNotFound, package.string() + " does not exist");
  return parse_answer(
      http_.upload_file("PUT", "/repository/" + url_segment(package.filename().string()), package, progress),
      "upload of " + package.string());
}

Result<Json> RegistryClient::list_models(const std::string& query, const std::string& tag) {
  return call("GET", "/api/v1/models?q=" + url_segment(query) + "&tag=" + url_segment(tag), "",
              "listing models");
}

Result<Json> RegistryClient::show_model(const std::string& name) {
  return call("GET", "/api/v1/models/" + url_segment(name), "", "showing model " + name);
}

Result<Json> RegistryClient::show_version(const api::ModelSelector& ref) {
  return call("GET", "/api/v1/models/" + url_segment(ref.name) + "/versions/" + url_segment(ref.reference),
              "", "showing " + ref.name);
}

Result<Json> RegistryClient::pull(const api::ModelSelector& ref, const std::filesystem::path& output,
                                  const ProgressCallback& progress) {
  // Pin the version first, so an alias moving mid-download cannot mix two packages.
  CANOPY_ASSIGN_OR_RETURN(Json version, show_version(ref));
  std::string number = std::to_string(version.value("version", 0));
  std::string expected = version.value("sha256", "");
  auto response = http_.download(
      "/api/v1/models/" + url_segment(ref.name) + "/versions/" + number + "/package", output, progress);
  if (!response.ok()) return response.error();
  if (response->status < 200 || response->status >= 300) return http_status_error(*response, "download");
  CANOPY_ASSIGN_OR_RETURN(std::string actual, sha256_file_hex(output));
  if (actual != expected) {
    std::filesystem::remove(output);
    return make_error(ErrorCode::kCorrupt, "downloaded package's SHA-256 " + actual +
                                               " does not match the registry's " + expected +
                                               "; the file was removed, pull again");
  }
  return version;
}

Result<Json> RegistryClient::set_alias(const std::string& name, const std::string& alias,
                                       std::int64_t version) {
  return call("PUT", "/api/v1/models/" + url_segment(name) + "/aliases/" + url_segment(alias),
              Json{{"version", version}}.dump(), "setting alias " + alias);
}

Result<Json> RegistryClient::remove_alias(const std::string& name, const std::string& alias) {
  return call("DELETE", "/api/v1/models/" + url_segment(name) + "/aliases/" + url_segment(alias), "",
              "removing alias " + alias);
}

Result<Json> RegistryClient::delete_version(const std::string& name, std::int64_t version) {
  return call("DELETE", "/api/v1/models/" + url_segment(name) + "/versions/" + std::to_string(version), "",
              "deleting " + name + ":" + std::to_string(version));
}

Result<Json> RegistryClient::create_key(const std::string& role, const std::string& name,
                                        std::int64_t expires_in_s) {
  Json body = {{"role", role}, {"name", name}};
  if (expires_in_s > 0) body["expires_in_s"] = expires_in_s;
  return call("POST", "/api/v1/keys", body.dump(), "creating an API key");
}

Result<Json> RegistryClient::list_keys() { return call("GET", "/api/v1/keys", "", "listing API keys"); }

Result<Json> RegistryClient::revoke_key(const std::string& id) {
  return call("DELETE", "/api/v1/keys/" + url_segment(id), "", "revoking key " + id);
}

Result<Json> RegistryClient::post_run(const Json& record) {
  return call("POST", "/api/v1/runs", record.dump(), "recording run " + record.value("id", std::string("?")));
}

Result<Json> RegistryClient::get_run(const std::string& id) {
  return call("GET", "/api/v1/runs/" + url_segment(id), "", "showing run " + id);
}

Result<Json> RegistryClient::list_runs(int limit) {
  return call("GET", "/api/v1/runs?limit=" + std::to_string(limit), "", "listing runs");
}

}  // namespace canopy::client
