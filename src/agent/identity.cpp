#include "agent/identity.h"

#include "common/files.h"
#include "common/json.h"

namespace canopy::agent {

namespace fs = std::filesystem;

Result<KeyPair> load_or_create_identity(const fs::path& data_dir) {
  const fs::path secret = data_dir / "identity.key";
  const fs::path public_file = data_dir / "identity.pub";
  std::error_code ec;
  if (fs::exists(secret, ec)) {
    CANOPY_ASSIGN_OR_RETURN(KeyPair pair, load_key_pair(secret));
    // The public half is derived from the secret file, so a crash between
    // the two writes of the first start is repaired here.
    if (!fs::exists(public_file, ec)) CANOPY_TRY(write_file_atomic(public_file, pair.public_key.to_text()));
    return pair;
  }
  fs::create_directories(data_dir, ec);
  if (ec)
    return make_error(ErrorCode::kIo,
                      "cannot create the data directory " + data_dir.string() + ": " + ec.message());
  fs::remove(public_file, ec);  // a stray public half without its secret is useless
  KeyPair pair = KeyPair::generate();
  CANOPY_TRY(save_key_pair(pair, data_dir / "identity"));
  return pair;
}

Result<std::vector<PublicKey>> trusted_keys_of(const Enrollment& enrollment) {
  std::vector<PublicKey> keys;
  for (const std::string& text : enrollment.trusted_keys) {
    auto key = PublicKey::from_text(text);
    if (!key.ok()) return key.error().with_context("enrollment.json: trusted key");
    keys.push_back(std::move(*key));
  }
  return keys;
}

Result<std::optional<Enrollment>> load_enrollment(const fs::path& data_dir) {
  const fs::path path = data_dir / "enrollment.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<Enrollment>{};
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(path));
  CANOPY_ASSIGN_OR_RETURN(Json json, parse_json(text, "enrollment.json"));
  auto enrollment = Enrollment::from_json(json);
  if (!enrollment.ok()) return enrollment.error().with_context("enrollment.json");
  return std::optional<Enrollment>(std::move(*enrollment));
}

Status save_enrollment(const fs::path& data_dir, const Enrollment& enrollment) {
  return write_file_atomic(data_dir / "enrollment.json", enrollment.to_json().dump(2) + "\n", 0600);
}

}  // namespace canopy::agent
