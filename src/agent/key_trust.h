// The keys a device trusts for package signatures, and how a rotation of the
// server's publishing key reaches it (docs/security.md, "Rotating the
// publishing key"): the desired state lists every rotation as the new key
// endorsed by the old, and an endorsement is adopted only when its endorser
// is already trusted and its signature checks. A key endorsed by a stranger
// is refused, so a server (or a man in the middle) cannot make the device
// trust a key of its own choosing.
// Thread-safety: adopt_endorsed_keys is pure; save_trusted_keys writes one file.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "api/device.h"
#include "common/error.h"
#include "common/keys.h"

namespace canopy::agent {

struct KeyAdoption {
  std::vector<PublicKey> trusted;    // the keys trusted before, then those adopted
  std::vector<PublicKey> adopted;    // what this call added
  std::vector<std::string> refused;  // why each refused endorsement was refused
};

// Adopts, until nothing more can be, every endorsement whose endorser is
// trusted (the endorsed key may endorse the next: a device offline across
// two rotations follows the chain).
KeyAdoption adopt_endorsed_keys(std::vector<PublicKey> trusted,
                                const std::vector<api::KeyEndorsement>& endorsements);

// Writes `keys` as the trusted keys of DATA/enrollment.json (atomically).
Status save_trusted_keys(const std::filesystem::path& data_dir, const std::vector<PublicKey>& keys);

}  // namespace canopy::agent
