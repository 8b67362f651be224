// The device side of the fleet API (docs/fleet.md): enrollment, the desired
// state with ETag caching, package downloads (resumable), status reports and
// the field loop's records (docs/field.md).
// Transport failures and 5xx come back as kNetwork errors, which the caller
// retries with backoff; other refusals carry the server's message.
// Thread-safety: one DeviceClient per thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/device.h"
#include "api/device_data.h"
#include "common/error.h"
#include "common/http_client.h"
#include "common/json.h"
#include "common/keys.h"

namespace canopy::agent {

struct DesiredPoll {
  bool not_modified = false;  // 304: the state is what the last poll returned
  api::DesiredState state;
  std::string etag;
};

class DeviceClient {
 public:
  DeviceClient(std::string server_url, HttpOptions options);

  const std::string& server_url() const { return server_url_; }
  // Copies share the token: a rotation reaches every thread's copy.
  void set_device_token(std::string token);
  // A copy, sharing the token, that tries each request at most `max_attempts`
  // times: for a caller that backs off on its own clock.
  DeviceClient with_attempts(int max_attempts) const {
    DeviceClient copy = *this;
    copy.options_.max_attempts = max_attempts;
    return copy;
  }

  // Sends `request` with its public key, timestamp and signature filled in
  // from `identity` and the current time.
  Result<api::Enrollment> enroll(api::EnrollRequest request, const KeyPair& identity);
  Result<DesiredPoll> poll_desired(const std::string& etag);
  // Downloads `url` (a server path) to `destination`, resuming its `.part`.
  Status download(const std::string& url, const std::filesystem::path& destination,
                  const ProgressCallback& progress);
  Status report(const api::StatusReport& status);
  // POST /api/v1/device/records. kInvalidArgument when the server refused
  // the batch (400: nothing stored), kTooLarge for a body above its limit
  // (413), kUnauthenticated for a bad token (401), kNetwork as above.
  Result<api::RecordAck> post_records(const api::RecordBatch& batch);
  // POST /api/v1/device/token: a new device token, which replaces the one
  // in use at its first use (docs/fleet.md, "Rotating the device token").
  Result<std::string> rotate_token();

 private:
  struct SharedToken {
    std::mutex mutex;
    std::string value;  // guarded by mutex
  };
  std::string token() const;
  HttpClient client(bool with_token) const;
  std::string server_url_;
  HttpOptions options_;
  std::shared_ptr<SharedToken> token_ = std::make_shared<SharedToken>();
};

}  // namespace canopy::agent
