#include "agent/key_trust.h"

#include <algorithm>

#include "agent/identity.h"

namespace canopy::agent {

namespace {

bool contains(const std::vector<PublicKey>& keys, const PublicKey& key) {
  return std::any_of(keys.begin(), keys.end(), [&](const PublicKey& k) { return k.bytes == key.bytes; });
}

}  // namespace

KeyAdoption adopt_endorsed_keys(std::vector<PublicKey> trusted,
                                const std::vector<api::KeyEndorsement>& endorsements) {
  KeyAdoption out;
  out.trusted = std::move(trusted);
  std::vector<bool> settled(endorsements.size(), false);
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t i = 0; i < endorsements.size(); ++i) {
      if (settled[i]) continue;
      const api::KeyEndorsement& endorsement = endorsements[i];
      auto key = PublicKey::from_text(endorsement.key);
      auto endorser = PublicKey::from_text(endorsement.endorsed_by);
      if (!key.ok() || !endorser.ok()) {
        settled[i] = true;
        out.refused.push_back("an endorsement whose keys do not parse");
        continue;
      }
      if (contains(out.trusted, *key)) {
        settled[i] = true;
        continue;
      }
      if (!contains(out.trusted, *endorser)) continue;  // perhaps once another is adopted
      settled[i] = true;
      auto signature = base64_decode(endorsement.signature);
      if (!signature.ok() || !verify_detached(*endorser, endorsement.signed_text(), *signature)) {
        out.refused.push_back("key " + key->key_id() + ": its endorsement by " + endorser->key_id() +
                              " does not verify");
        continue;
      }
      out.trusted.push_back(*key);
      out.adopted.push_back(*key);
      progress = true;
    }
  }
  for (std::size_t i = 0; i < endorsements.size(); ++i) {
    if (settled[i]) continue;
    auto key = PublicKey::from_text(endorsements[i].key);
    auto endorser = PublicKey::from_text(endorsements[i].endorsed_by);
    out.refused.push_back("key " + key->key_id() + ": endorsed by " + endorser->key_id() +
                          ", a key this device does not trust");
  }
  return out;
}

Status save_trusted_keys(const std::filesystem::path& data_dir, const std::vector<PublicKey>& keys) {
  CANOPY_ASSIGN_OR_RETURN(std::optional<Enrollment> enrollment, load_enrollment(data_dir));
  if (!enrollment)
    return make_error(ErrorCode::kNotFound, "the device has not enrolled; no trusted keys to save");
  enrollment->trusted_keys.clear();
  for (const PublicKey& key : keys) enrollment->trusted_keys.push_back(key.to_line());
  return save_enrollment(data_dir, *enrollment);
}

}  // namespace canopy::agent
