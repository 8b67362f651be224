// The server's publishing key and its rotations (docs/security.md,
// "Rotating the publishing key"), in the data directory:
//   keys/publisher.key, .pub   the key that signs packages uploaded unsigned
//   keys/retired/<id>.pub      the keys it replaced: what they signed stays valid
//   keys/endorsements.json     one per rotation: the new key, signed by the old
// Devices enrolled before a rotation trust the new key through its
// endorsement, which reaches them with their desired state.
// Thread-safety: stateless functions; rotate_publishing_key() needs the
// server stopped (the caller holds the data directory's lock).
#pragma once

#include <filesystem>
#include <vector>

#include "api/device.h"
#include "common/error.h"
#include "common/keys.h"

namespace canopy::server {

struct PublishingKeys {
  KeyPair current;
  std::vector<PublicKey> retired;                 // oldest first
  std::vector<api::KeyEndorsement> endorsements;  // oldest first
};

// The keys of `data_dir`, the current one made on the first start.
Result<PublishingKeys> load_or_create_publishing_keys(const std::filesystem::path& data_dir);

// Makes a new current key, endorsed by the one it replaces, which is
// retired. Each step is atomic and ordered so that a crash at any point
// leaves either the old key current (and at worst an endorsement of a key
// nobody holds, which signs nothing) or the rotation done.
Result<api::KeyEndorsement> rotate_publishing_key(const std::filesystem::path& data_dir);

}  // namespace canopy::server
