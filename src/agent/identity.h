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

#include "api/device.h"
#include "common/error.h"
#include "common/keys.h"

namespace canopy::agent {

// Loads DATA/identity.key, or creates the pair when the device has none yet.
Result<KeyPair> load_or_create_identity(const std::filesystem::path& data_dir);

using api::Enrollment;

// The keys the server told the device to trust for package signatures.
Result<std::vector<PublicKey>> trusted_keys_of(const Enrollment& enrollment);

// Nothing when the device has not enrolled yet.
Result<std::optional<Enrollment>> load_enrollment(const std::filesystem::path& data_dir);
Status save_enrollment(const std::filesystem::path& data_dir, const Enrollment& enrollment);

}  // namespace canopy::agent
