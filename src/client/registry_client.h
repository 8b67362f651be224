// A client for the registry's HTTP API (docs/api.md), used by the CLI and the
// pipeline runner. Every call returns the server's JSON, or an Error whose
// message is the server's one-line explanation.
// Thread-safety: one RegistryClient per thread.
#pragma once

#include <filesystem>
#include <string>

#include "api/model_ref.h"
#include "common/error.h"
#include "common/http_client.h"
#include "common/json.h"

namespace canopy::client {

class RegistryClient {
 public:
  RegistryClient(const std::string& server_url, const std::string& api_key, HttpOptions options = {});

  Result<Json> push(const std::filesystem::path& package, const ProgressCallback& progress = {});
  Result<Json> list_models(const std::string& query, const std::string& tag);
  Result<Json> show_model(const std::string& name);
  Result<Json> show_version(const api::ModelSelector& ref);
  // Downloads the package to `output` (resuming a partial download) and
  // checks its SHA-256 against the registry's record.
  Result<Json> pull(const api::ModelSelector& ref, const std::filesystem::path& output,
                    const ProgressCallback& progress = {});
  Result<Json> set_alias(const std::string& name, const std::string& alias, std::int64_t version);
  Result<Json> remove_alias(const std::string& name, const std::string& alias);
  Result<Json> delete_version(const std::string& name, std::int64_t version);
  // `expires_in_s`: the key's lifetime (0: until revoked).
  Result<Json> create_key(const std::string& role, const std::string& name, std::int64_t expires_in_s = 0);
  Result<Json> list_keys();
  Result<Json> revoke_key(const std::string& id);
  // Pipeline runs (docs/pipeline.md): stores or replaces the run record with its id.
  Result<Json> post_run(const Json& record);
  // The run record plus the model versions whose lineage names the run.
  Result<Json> get_run(const std::string& id);
  Result<Json> list_runs(int limit);

 private:
  Result<Json> call(const std::string& method, const std::string& path, const std::string& body,
                    const std::string& what);
  HttpClient http_;
};

// Percent-encodes one path segment.
std::string url_segment(const std::string& text);

// The JSON of a 2xx answer; a transport error, or an Error made of the
// server's error body for any other status (`what` names the request).
Result<Json> parse_answer(const Result<HttpResponse>& response, const std::string& what);

}  // namespace canopy::client
