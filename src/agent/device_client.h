// The device side of the fleet API (docs/fleet.md): enrollment, the desired
// state with ETag caching, package downloads (resumable) and status reports.
// Transport failures and 5xx come back as kNetwork errors, which the caller
// retries with backoff; other refusals carry the server's message.
// Thread-safety: one DeviceClient per thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "agent/identity.h"
#include "agent/update_state.h"
#include "common/error.h"
#include "common/http_client.h"
#include "common/json.h"
#include "common/keys.h"

namespace canopy::agent {

struct EnrollRequest {
  std::string enrollment_token;
  std::string name;
  std::map<std::string, std::string> tags;
  std::string agent_version;
};

struct DesiredState {
  std::string status;  // active or pending
  int poll_interval_s = 30;
  std::optional<Target> target;  // nothing desired when empty
};

struct DesiredPoll {
  bool not_modified = false;  // 304: the state is what the last poll returned
  DesiredState state;
  std::string etag;
};

class DeviceClient {
 public:
  DeviceClient(std::string server_url, HttpOptions options);

  const std::string& server_url() const { return server_url_; }
  void set_device_token(std::string token) { token_ = std::move(token); }

  Result<Enrollment> enroll(const EnrollRequest& request, const KeyPair& identity);
  Result<DesiredPoll> poll_desired(const std::string& etag);
  // Downloads `url` (a server path) to `destination`, resuming its `.part`.
  Status download(const std::string& url, const std::filesystem::path& destination,
                  const ProgressCallback& progress);
  Status report(const Json& status);

 private:
  HttpClient client(bool with_token) const;
  std::string server_url_;
  HttpOptions options_;
  std::string token_;
};

// Reads the body of GET /api/v1/device/desired.
Result<DesiredState> parse_desired(const Json& body);

}  // namespace canopy::agent
