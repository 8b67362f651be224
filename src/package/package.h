// Model packages: build, sign, verify and safely extract the zip described in
// docs/package-format.md.
//
// Verification never trusts the archive: entry names must stay inside the
// package root, links are refused, every file must be listed in the manifest
// with a matching size and SHA-256, duplicates and unlisted files are refused,
// and total size and compression ratio are bounded (zip bombs). Extraction
// writes into a temp directory next to the destination and renames it into
// place only when everything checked out, so a failure leaves nothing behind.
// Thread-safety: stateless functions; concurrent calls on different files are fine.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/keys.h"
#include "package/manifest.h"

namespace canopy::package {

namespace fs = std::filesystem;

struct Limits {
  std::uint64_t max_total_bytes = 4ull << 30;  // sum of uncompressed file sizes
  std::uint64_t max_entries = 10000;
  std::uint64_t max_manifest_bytes = 1 << 20;
  // Uncompressed bytes per archive byte; real models compress barely at all.
  double max_compression_ratio = 100.0;
  // Small packages may exceed the ratio up to this many bytes (text files compress well).
  std::uint64_t ratio_allowance_bytes = 1 << 20;
};

// canopy.sig: who signed the manifest bytes, and the signature.
struct Signature {
  std::string key_id;
  PublicKey public_key;
  std::string signature;  // 64 raw bytes
  std::string to_json() const;
  static Result<Signature> from_json(std::string_view text);
};

Signature sign_manifest(const KeyPair& key, std::string_view manifest_bytes);

struct VerifyOptions {
  Limits limits;
  // When non-empty, a signed package must be signed by one of these keys.
  std::vector<PublicKey> trusted_keys;
  // An unsigned package is rejected unless this is set (the registry sets it
  // because it signs such uploads itself; devices never do).
  bool allow_unsigned = false;
  // How error messages name the package (default: its path). The registry
  // says "upload" so that its temp paths never reach a client.
  std::string display_name;
  // extract_package calls this with each listed file's path once the file is
  // written and checked (progress, and the agent's crash-injection points).
  std::function<void(const std::string& path)> on_file_extracted;
};

struct PackageInfo {
  Manifest manifest;
  std::string manifest_bytes;   // exactly as stored, the bytes the signature covers
  std::string manifest_sha256;  // identifies the package content
  std::optional<Signature> signature;
  bool signature_trusted = false;  // signature verified against a trusted key
  std::string root_prefix;         // "" or e.g. "models/crop-disease-detector/"
};

// Checks everything without writing anything.
Result<PackageInfo> verify_package(const fs::path& zip, const VerifyOptions& options);

// Verifies and extracts into `destination`, which must not exist yet. On
// failure nothing is left at `destination` and no temp directory remains.
Result<PackageInfo> extract_package(const fs::path& zip, const fs::path& destination,
                                    const VerifyOptions& options);

// Re-verifies a package that extract_package wrote into `directory` (the
// manifest and canopy.sig travel with the files): the signature over the
// manifest against `options` (trusted keys, allow_unsigned), and every listed
// file's type, size and SHA-256. Writes nothing. A device calls it before it
// loads a model and periodically while serving one, so a file damaged on its
// storage (one flipped bit is enough) is never served. The error names the
// first file that differs.
Result<PackageInfo> verify_extracted(const fs::path& directory, const VerifyOptions& options);

struct InitOptions {
  fs::path directory;
  fs::path model;  // copied into directory unless already inside it
  std::string name;
  std::vector<std::string> labels;
  std::vector<std::int64_t> input_shape = {1, 3, 320, 320};
  std::vector<std::pair<fs::path, fs::path>> golden;  // (input, expected output) files
};

// Writes DIR/canopy.json describing the model (and golden samples, if any).
Result<Manifest> init_package(const InitOptions& options);

// Packs DIR (its canopy.json and the files it lists, with sizes and hashes
// refreshed and written back to DIR/canopy.json) into `output`, atomically.
// Signs the manifest when `signing_key` is given.
Result<PackageInfo> create_package(const fs::path& directory, const fs::path& output,
                                   const std::optional<KeyPair>& signing_key);

}  // namespace canopy::package
