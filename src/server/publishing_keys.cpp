#include "server/publishing_keys.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/files.h"
#include "common/json.h"

namespace canopy::server {

namespace fs = std::filesystem;

namespace {

fs::path keys_dir(const fs::path& data_dir) { return data_dir / "keys"; }

Result<std::vector<api::KeyEndorsement>> load_endorsements(const fs::path& data_dir) {
  const fs::path file = keys_dir(data_dir) / "endorsements.json";
  std::vector<api::KeyEndorsement> endorsements;
  if (!fs::exists(file)) return endorsements;
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(file));
  CANOPY_ASSIGN_OR_RETURN(Json json, parse_json(text, file.string()));
  if (!json.is_array()) return make_error(ErrorCode::kCorrupt, file.string() + " must hold an array");
  for (const Json& item : json) {
    auto endorsement = api::KeyEndorsement::from_json(item);
    if (!endorsement.ok()) return endorsement.error().with_context(file.string());
    endorsements.push_back(std::move(*endorsement));
  }
  return endorsements;
}

Result<std::vector<PublicKey>> load_retired(const fs::path& data_dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(keys_dir(data_dir) / "retired", ec))
    if (entry.path().extension() == ".pub") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  std::vector<PublicKey> keys;
  for (const auto& file : files) {
    CANOPY_ASSIGN_OR_RETURN(PublicKey key, load_public_key(file));
    keys.push_back(std::move(key));
  }
  return keys;
}

}  // namespace

Result<PublishingKeys> load_or_create_publishing_keys(const fs::path& data_dir) {
  const fs::path prefix = keys_dir(data_dir) / "publisher";
  const fs::path secret = prefix.string() + ".key";
  PublishingKeys keys;
  std::error_code ec;
  if (fs::exists(secret, ec)) {
    CANOPY_ASSIGN_OR_RETURN(keys.current, load_key_pair(secret));
    // The secret file decides; its public half is repaired after a crash
    // in the middle of a rotation's switch.
    auto public_text = read_file(prefix.string() + ".pub");
    if (!public_text.ok() || *public_text != keys.current.public_key.to_text())
      CANOPY_TRY(write_file_atomic(prefix.string() + ".pub", keys.current.public_key.to_text()));
  } else {
    fs::create_directories(keys_dir(data_dir), ec);
    keys.current = KeyPair::generate();
    CANOPY_TRY(save_key_pair(keys.current, prefix));
    spdlog::info("server.publishing_key.created key_id={}", keys.current.public_key.key_id());
  }
  CANOPY_ASSIGN_OR_RETURN(keys.retired, load_retired(data_dir));
  CANOPY_ASSIGN_OR_RETURN(keys.endorsements, load_endorsements(data_dir));
  return keys;
}

Result<api::KeyEndorsement> rotate_publishing_key(const fs::path& data_dir) {
  CANOPY_ASSIGN_OR_RETURN(PublishingKeys keys, load_or_create_publishing_keys(data_dir));
  const fs::path dir = keys_dir(data_dir);
  // 1. The new pair, under a name the server does not read.
  const KeyPair next = KeyPair::generate();
  CANOPY_TRY(save_key_pair(next, dir / "next"));
  // 2. Its endorsement by the current key.
  api::KeyEndorsement endorsement;
  endorsement.key = next.public_key.to_line();
  endorsement.endorsed_by = keys.current.public_key.to_line();
  endorsement.signature = base64_encode(sign_detached(keys.current, endorsement.signed_text()));
  Json all = Json::array();
  for (const auto& earlier : keys.endorsements) all.push_back(earlier.to_json());
  all.push_back(endorsement.to_json());
  CANOPY_TRY(write_file_atomic(dir / "endorsements.json", all.dump(2) + "\n"));
  // 3. The current key retired, so what it signed stays trusted ...
  std::error_code ec;
  fs::create_directories(dir / "retired", ec);
  CANOPY_TRY(write_file_atomic(dir / "retired" / (keys.current.public_key.key_id() + ".pub"),
                               keys.current.public_key.to_text()));
  // 4. ... and the switch: one rename makes the new key current.
  fs::rename(dir / "next.key", dir / "publisher.key", ec);
  if (!ec) fs::rename(dir / "next.pub", dir / "publisher.pub", ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot make the new publishing key current: " + ec.message());
  CANOPY_TRY(fsync_dir(dir));
  spdlog::info("server.publishing_key.rotated key_id={} retired={}", next.public_key.key_id(),
               keys.current.public_key.key_id());
  return endorsement;
}

}  // namespace canopy::server
