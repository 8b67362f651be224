// The device's identity and what enrollment gave it, kept in the data
// directory: identity.key (0600) / identity.pub, the ed25519 key pair created
// on first start, and enrollment.json (0600): device id, device token,
// group, poll interval and the keys trusted to sign packages.
// Thread-safety: stateless functions.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/keys.h"

namespace canopy::agent {

// Loads DATA/identity.key, or creates the pair when the device has none yet.
Result<KeyPair> load_or_create_identity(const std::filesystem::path& data_dir);

struct Enrollment {
  std::string device_id;
  std::string device_token;  // cdt_...; a secret
  std::string status;        // active or pending
  std::string group;
  int poll_interval_s = 30;
  std::vector<std::string> trusted_keys;  // "canopy-ed25519-public <b64>" lines

  Result<std::vector<PublicKey>> parsed_trusted_keys() const;
};

// Nothing when the device has not enrolled yet.
Result<std::optional<Enrollment>> load_enrollment(const std::filesystem::path& data_dir);
Status save_enrollment(const std::filesystem::path& data_dir, const Enrollment& enrollment);

// The string the enrollment signature covers (docs/fleet.md).
std::string enrollment_proof(const std::string& enrollment_token, const std::string& public_key,
                             const std::string& name, const std::string& timestamp);

}  // namespace canopy::agent
