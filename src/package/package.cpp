#include "package/package.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include "common/files.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/time.h"
#include "package/archive_reader.h"

namespace canopy::package {

namespace {

constexpr size_t kChunkBytes = 1 << 18;

Error rejected(ErrorCode code, const std::string& entry, const std::string& why) {
  return make_error(code, "package entry '" + entry + "' rejected: " + why);
}

// Strips "./" and a trailing "/" and refuses names that could escape the root.
Result<std::string> normalize_entry_name(const ArchiveEntry& entry) {
  std::string name = entry.name;
  while (name.rfind("./", 0) == 0) name.erase(0, 2);
  if (!name.empty() && name.front() == '/') return rejected(ErrorCode::kCorrupt, entry.name, "absolute path");
  if (entry.is_directory && !name.empty() && name.back() == '/') name.pop_back();
  if (name.empty()) return rejected(ErrorCode::kCorrupt, entry.name, "empty name");
  if (!is_confined_relative_path(name))
    return rejected(ErrorCode::kCorrupt, entry.name, "path escapes the package root ('..' or backslash)");
  return name;
}

// Result of the first pass: names checked, root found, manifest and signature read.
struct Scan {
  std::string prefix;
  std::string manifest_bytes;
  std::optional<std::string> signature_bytes;
};

Result<std::string> read_small_entry(ArchiveReader& reader, const std::string& name, std::uint64_t limit) {
  std::string out;
  std::vector<char> buffer(kChunkBytes);
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(size_t n, reader.read(buffer.data(), buffer.size()));
    if (n == 0) break;
    out.append(buffer.data(), n);
    if (out.size() > limit)
      return rejected(ErrorCode::kTooLarge, name, "larger than the limit of " + format_bytes(limit));
  }
  return out;
}

Result<Scan> scan_entries(const fs::path& zip, const std::string& name_for_errors, const Limits& limits) {
  CANOPY_ASSIGN_OR_RETURN(ArchiveReader reader, ArchiveReader::open(zip, name_for_errors));
  std::vector<ArchiveEntry> entries;
  std::vector<std::string> names;
  std::set<std::string> seen;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(std::optional<ArchiveEntry> entry, reader.next());
    if (!entry) break;
    if (entries.size() >= limits.max_entries)
      return make_error(ErrorCode::kTooLarge,
                        "package has more than " + std::to_string(limits.max_entries) + " entries");
    if (entry->is_link)
      return rejected(ErrorCode::kCorrupt, entry->name, "links are not allowed in a package");
    if (!entry->is_regular && !entry->is_directory)
      return rejected(ErrorCode::kCorrupt, entry->name, "only regular files and directories are allowed");
    CANOPY_ASSIGN_OR_RETURN(std::string name, normalize_entry_name(*entry));
    if (!seen.insert(name).second) return rejected(ErrorCode::kCorrupt, entry->name, "duplicate entry");
    names.push_back(name);
    entries.push_back(std::move(*entry));
  }

  // The manifest closest to the top decides the package root.
  std::optional<std::string> manifest_name;
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string& name = names[i];
    bool is_manifest =
        entries[i].is_regular && (name == kManifestName || name.ends_with("/" + std::string(kManifestName)));
    if (is_manifest && (!manifest_name || name.size() < manifest_name->size())) manifest_name = name;
  }
  if (!manifest_name)
    return make_error(ErrorCode::kCorrupt, name_for_errors +
                                               " has no canopy.json, at its root or in its top directories; "
                                               "create the manifest with 'canopy package init'");
  Scan scan;
  scan.prefix = manifest_name->substr(0, manifest_name->size() - kManifestName.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string& name = names[i];
    bool inside = name.rfind(scan.prefix, 0) == 0;
    bool ancestor_dir = entries[i].is_directory && scan.prefix.rfind(name + "/", 0) == 0;
    if (!inside && !ancestor_dir)
      return rejected(ErrorCode::kCorrupt, entries[i].name,
                      "outside the package root '" + (scan.prefix.empty() ? "/" : scan.prefix) + "'");
  }

  // Second walk of the same reader is impossible, so read the two small
  // entries with a fresh reader.
  CANOPY_ASSIGN_OR_RETURN(ArchiveReader again, ArchiveReader::open(zip, name_for_errors));
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(std::optional<ArchiveEntry> entry, again.next());
    if (!entry) break;
    if (!entry->is_regular) continue;
    CANOPY_ASSIGN_OR_RETURN(std::string name, normalize_entry_name(*entry));
    if (name == *manifest_name) {
      CANOPY_ASSIGN_OR_RETURN(scan.manifest_bytes, read_small_entry(again, name, limits.max_manifest_bytes));
    } else if (name == scan.prefix + std::string(kSignatureName)) {
      CANOPY_ASSIGN_OR_RETURN(std::string sig, read_small_entry(again, name, 64 * 1024));
      scan.signature_bytes = std::move(sig);
    }
  }
  return scan;
}

Status check_signature(PackageInfo& info, const std::optional<std::string>& signature_bytes,
                       const VerifyOptions& options) {
  if (!signature_bytes) {
    if (!options.allow_unsigned)
      return make_error(
          ErrorCode::kBadSignature,
          "package is not signed (no canopy.sig); sign it with 'canopy package create --sign KEY'");
    return {};
  }
  auto signature = Signature::from_json(*signature_bytes);
  if (!signature.ok())
    return make_error(ErrorCode::kBadSignature, "canopy.sig: " + signature.error().message);
  if (!verify_detached(signature->public_key, info.manifest_bytes, signature->signature))
    return make_error(ErrorCode::kBadSignature,
                      "signature does not match canopy.json: the manifest was changed after signing");
  if (!options.trusted_keys.empty()) {
    bool trusted = false;
    for (const auto& key : options.trusted_keys)
      if (key.bytes == signature->public_key.bytes) trusted = true;
    if (!trusted)
      return make_error(ErrorCode::kBadSignature,
                        "package is signed by key " + signature->key_id + ", which is not trusted here");
    info.signature_trusted = true;
  }
  info.signature = std::move(*signature);
  return {};
}

// Streams every listed file, checking size and hash; writes them under
// `out_dir` when given.
Status check_contents(const fs::path& zip, const std::string& name_for_errors, const PackageInfo& info,
                      const VerifyOptions& options, const fs::path* out_dir) {
  const Limits& limits = options.limits;
  std::error_code ec;
  const std::uint64_t archive_bytes = fs::file_size(zip, ec);
  const double ratio_budget = static_cast<double>(limits.ratio_allowance_bytes) +
                              limits.max_compression_ratio * static_cast<double>(archive_bytes);
  CANOPY_ASSIGN_OR_RETURN(ArchiveReader reader, ArchiveReader::open(zip, name_for_errors));
  std::set<std::string> found;
  std::uint64_t total = 0;
  std::vector<char> buffer(kChunkBytes);
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(std::optional<ArchiveEntry> entry, reader.next());
    if (!entry) break;
    if (!entry->is_regular) continue;
    CANOPY_ASSIGN_OR_RETURN(std::string name, normalize_entry_name(*entry));
    std::string relative = name.substr(info.root_prefix.size());
    bool is_metadata = relative == kManifestName || relative == kSignatureName;
    const FileEntry* listed = info.manifest.find_file(relative);
    if (!is_metadata && listed == nullptr)
      return rejected(ErrorCode::kCorrupt, entry->name, "not listed in canopy.json");
    if (listed != nullptr && entry->declared_size && *entry->declared_size != listed->size_bytes)
      return rejected(ErrorCode::kCorrupt, entry->name,
                      "size " + std::to_string(*entry->declared_size) + " does not match the manifest's " +
                          std::to_string(listed->size_bytes));
    std::uint64_t expected = listed != nullptr ? listed->size_bytes : limits.max_manifest_bytes;

    int fd = -1;
    if (out_dir != nullptr) {
      fs::path target = *out_dir / relative;
      fs::create_directories(target.parent_path(), ec);
      fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd < 0) return make_error(ErrorCode::kIo, "cannot create " + target.string());
    }
    Sha256 hasher;
    std::uint64_t entry_bytes = 0;
    Status status;
    while (status.ok()) {
      auto n = reader.read(buffer.data(), buffer.size());
      if (!n.ok()) {
        status = n.error();
        break;
      }
      if (*n == 0) break;
      entry_bytes += *n;
      total += *n;
      if (entry_bytes > expected) {
        status = rejected(ErrorCode::kCorrupt, entry->name, "larger than the size the manifest lists");
      } else if (total > limits.max_total_bytes) {
        status = make_error(ErrorCode::kTooLarge,
                            "package expands beyond the limit of " + format_bytes(limits.max_total_bytes));
      } else if (static_cast<double>(total) > ratio_budget) {
        status =
            rejected(ErrorCode::kTooLarge, entry->name,
                     "compression ratio over the limit of " +
                         std::to_string(static_cast<int>(limits.max_compression_ratio)) + ":1 (zip bomb?)");
      } else {
        hasher.update(std::string_view(buffer.data(), *n));
        if (fd >= 0) {
          const ssize_t written = ::write(fd, buffer.data(), *n);
          // A short write to a regular file means the space ran out.
          if (written != static_cast<ssize_t>(*n))
            status = make_error(ErrorCode::kIo, "cannot write extracted file " + relative + ": " +
                                                    (written < 0 ? std::strerror(errno) : "no space left"));
        }
      }
    }
    if (fd >= 0) {
      if (status.ok() && ::fsync(fd) != 0) status = make_error(ErrorCode::kIo, "cannot sync " + relative);
      ::close(fd);
    }
    CANOPY_TRY(status);
    if (listed == nullptr) continue;
    if (entry_bytes != listed->size_bytes)
      return rejected(ErrorCode::kCorrupt, entry->name,
                      "has " + std::to_string(entry_bytes) + " bytes, the manifest lists " +
                          std::to_string(listed->size_bytes));
    if (hasher.finish_hex() != listed->sha256)
      return rejected(ErrorCode::kCorrupt, entry->name,
                      "SHA-256 does not match the manifest (file changed or corrupt)");
    found.insert(relative);
    if (out_dir != nullptr && options.on_file_extracted) options.on_file_extracted(relative);
  }
  for (const auto& file : info.manifest.files)
    if (found.count(file.path) == 0)
      return make_error(ErrorCode::kCorrupt,
                        "package is missing '" + file.path + "', which canopy.json lists");
  return {};
}

Result<PackageInfo> verify_impl(const fs::path& zip, const VerifyOptions& options, const fs::path* out_dir) {
  const std::string name_for_errors = options.display_name.empty() ? zip.string() : options.display_name;
  CANOPY_ASSIGN_OR_RETURN(Scan scan, scan_entries(zip, name_for_errors, options.limits));
  PackageInfo info;
  info.root_prefix = scan.prefix;
  info.manifest_bytes = std::move(scan.manifest_bytes);
  info.manifest_sha256 = sha256_hex(info.manifest_bytes);
  CANOPY_ASSIGN_OR_RETURN(info.manifest, parse_manifest(info.manifest_bytes));
  if (info.manifest.total_size_bytes() > options.limits.max_total_bytes)
    return make_error(ErrorCode::kTooLarge,
                      "package files add up to " + format_bytes(info.manifest.total_size_bytes()) +
                          ", over the limit of " + format_bytes(options.limits.max_total_bytes));
  CANOPY_TRY(check_signature(info, scan.signature_bytes, options));
  CANOPY_TRY(check_contents(zip, name_for_errors, info, options, out_dir));
  return info;
}

// True when the first MiB of `in` is near-random bytes (Shannon entropy above
// 7.9 bits per byte), which deflate cannot shrink but would spend seconds on.
// Rewinds `in`.
bool looks_incompressible(std::ifstream& in) {
  std::vector<char> sample(1 << 20);
  in.read(sample.data(), static_cast<std::streamsize>(sample.size()));
  auto count = static_cast<size_t>(in.gcount());
  in.clear();
  in.seekg(0);
  if (count < 4096) return false;
  std::array<std::uint64_t, 256> histogram{};
  for (size_t i = 0; i < count; ++i) ++histogram[static_cast<unsigned char>(sample[i])];
  double entropy = 0;
  for (auto n : histogram) {
    if (n == 0) continue;
    double p = static_cast<double>(n) / static_cast<double>(count);
    entropy -= p * std::log2(p);
  }
  return entropy > 7.9;
}

// Owns a libarchive writer; the zip goes to a temp file committed at the end.
class ZipWriter {
 public:
  explicit ZipWriter(const fs::path& path) : archive_(archive_write_new()) {
    archive_write_set_format_zip(archive_);
    // Level 1: model weights barely compress, so higher levels cost time for nothing.
    archive_write_set_options(archive_, "zip:compression=deflate,zip:compression-level=1");
    opened_ = archive_write_open_filename(archive_, path.c_str()) == ARCHIVE_OK;
  }
  ~ZipWriter() { archive_write_free(archive_); }
  ZipWriter(const ZipWriter&) = delete;
  ZipWriter& operator=(const ZipWriter&) = delete;

  Status add(const std::string& name, std::uint64_t size,
             const std::function<Status(std::string_view&)>& next_chunk) {
    if (!opened_) return error("cannot open the output");
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, name.c_str());
    archive_entry_set_size(entry, static_cast<la_int64_t>(size));
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    archive_entry_set_mtime(entry, 315532800, 0);  // fixed (1980-01-01): same content, same bytes
    int rc = archive_write_header(archive_, entry);
    archive_entry_free(entry);
    if (rc != ARCHIVE_OK) return error("cannot add " + name);
    std::string_view chunk;
    while (true) {
      CANOPY_TRY(next_chunk(chunk));
      if (chunk.empty()) break;
      if (archive_write_data(archive_, chunk.data(), chunk.size()) < 0) return error("cannot write " + name);
    }
    return {};
  }

  Status add_bytes(const std::string& name, std::string_view bytes) {
    bool sent = false;
    return add(name, bytes.size(), [&](std::string_view& chunk) -> Status {
      chunk = sent ? std::string_view() : bytes;
      sent = true;
      return {};
    });
  }

  Status add_file(const std::string& name, const fs::path& file, std::uint64_t size) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return make_error(ErrorCode::kIo, "cannot open " + file.string());
    // The zip writer takes the compression method at each entry's header.
    if (looks_incompressible(in))
      archive_write_zip_set_compression_store(archive_);
    else
      archive_write_zip_set_compression_deflate(archive_);
    std::vector<char> buffer(kChunkBytes);
    return add(name, size, [&](std::string_view& chunk) -> Status {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      if (in.bad()) return make_error(ErrorCode::kIo, "cannot read " + file.string());
      chunk = std::string_view(buffer.data(), static_cast<size_t>(in.gcount()));
      return {};
    });
  }

  Status close() {
    if (archive_write_close(archive_) != ARCHIVE_OK) return error("cannot finish the zip");
    return {};
  }

 private:
  Error error(const std::string& what) {
    const char* reason = archive_error_string(archive_);
    return make_error(ErrorCode::kIo, what + ": " + (reason ? reason : "unknown error"));
  }
  archive* archive_;
  bool opened_ = false;
};

// Describes the regular file at `path` as the package entry `relative`.
Result<FileEntry> describe_file(const fs::path& path, const std::string& relative, const std::string& role) {
  std::error_code ec;
  if (fs::is_symlink(path, ec) || !fs::is_regular_file(path, ec))
    return make_error(ErrorCode::kInvalidArgument,
                      path.string() + " must be a regular file (not a link or directory)");
  FileEntry entry{relative, "", 0, role};
  entry.size_bytes = fs::file_size(path, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot read the size of " + path.string());
  CANOPY_ASSIGN_OR_RETURN(entry.sha256, sha256_file_hex(path));
  return entry;
}

// A file handed to `package init`: described from where it is now, copied
// into the package directory only once the whole manifest checked out.
struct Placement {
  fs::path source;
  FileEntry entry;
  bool needs_copy = false;
};

Result<Placement> plan_placement(const fs::path& directory, const fs::path& source, const std::string& role) {
  std::error_code ec;
  fs::path dir = fs::weakly_canonical(directory, ec);
  fs::path src = fs::weakly_canonical(source, ec);
  if (!fs::is_regular_file(src, ec))
    return make_error(ErrorCode::kNotFound, source.string() + " does not exist");
  fs::path inside = src.lexically_relative(dir);
  Placement placement{src, {}, false};
  std::string relative = src.filename().string();
  if (!inside.empty() && is_canonical_relative_path(inside.string())) {
    relative = inside.string();
  } else {
    placement.needs_copy = true;
    if (fs::exists(dir / relative, ec))
      return make_error(ErrorCode::kAlreadyExists,
                        (dir / relative).string() + " exists and is not " + source.string());
  }
  CANOPY_ASSIGN_OR_RETURN(placement.entry, describe_file(src, relative, role));
  return placement;
}

}  // namespace

std::string Signature::to_json() const {
  return Json{{"algorithm", "ed25519"},
              {"key_id", key_id},
              {"public_key", base64_encode(public_key.bytes)},
              {"signature", base64_encode(signature)}}
             .dump(2) +
         "\n";
}

Result<Signature> Signature::from_json(std::string_view text) {
  CANOPY_ASSIGN_OR_RETURN(Json json, parse_json(text, "canopy.sig"));
  if (!json.is_object()) return make_error(ErrorCode::kInvalidArgument, "must be a JSON object");
  CANOPY_ASSIGN_OR_RETURN(std::string algorithm, json_get<std::string>(json, "algorithm"));
  if (algorithm != "ed25519")
    return make_error(ErrorCode::kInvalidArgument,
                      "algorithm '" + algorithm + "' is not supported (ed25519 only)");
  CANOPY_ASSIGN_OR_RETURN(std::string public_key, json_get<std::string>(json, "public_key"));
  CANOPY_ASSIGN_OR_RETURN(std::string signature, json_get<std::string>(json, "signature"));
  auto key_bytes = base64_decode(public_key);
  auto sig_bytes = base64_decode(signature);
  if (!key_bytes.ok() || key_bytes->size() != 32 || !sig_bytes.ok() || sig_bytes->size() != 64)
    return make_error(ErrorCode::kInvalidArgument, "public_key or signature is malformed");
  Signature out{"", PublicKey{*key_bytes}, *sig_bytes};
  out.key_id = out.public_key.key_id();
  return out;
}

Signature sign_manifest(const KeyPair& key, std::string_view manifest_bytes) {
  return Signature{key.public_key.key_id(), key.public_key, sign_detached(key, manifest_bytes)};
}

Result<PackageInfo> verify_package(const fs::path& zip, const VerifyOptions& options) {
  return verify_impl(zip, options, nullptr);
}

Result<PackageInfo> verify_extracted(const fs::path& directory, const VerifyOptions& options) {
  const std::string where = options.display_name.empty() ? directory.string() : options.display_name;
  auto damaged = [&](const std::string& file, const std::string& why) {
    return make_error(ErrorCode::kCorrupt, where + ": " + file + " " + why);
  };
  std::error_code ec;
  const fs::path manifest_path = directory / kManifestName;
  const std::uint64_t manifest_size = fs::file_size(manifest_path, ec);
  if (ec) return damaged(std::string(kManifestName), "is missing");
  if (manifest_size > options.limits.max_manifest_bytes)
    return damaged(std::string(kManifestName), "is too large");
  PackageInfo info;
  CANOPY_ASSIGN_OR_RETURN(info.manifest_bytes, read_file(manifest_path));
  info.manifest_sha256 = sha256_hex(info.manifest_bytes);
  std::optional<std::string> signature_bytes;
  if (fs::exists(directory / kSignatureName, ec)) {
    CANOPY_ASSIGN_OR_RETURN(std::string bytes, read_file(directory / kSignatureName));
    signature_bytes = std::move(bytes);
  }
  auto signed_check = check_signature(info, signature_bytes, options);
  if (!signed_check.ok()) return signed_check.error().with_context(where);
  auto manifest = parse_manifest(info.manifest_bytes);
  if (!manifest.ok()) return manifest.error().with_context(where + ": " + std::string(kManifestName));
  info.manifest = std::move(*manifest);
  for (const auto& file : info.manifest.files) {
    const fs::path path = directory / file.path;
    if (fs::is_symlink(path, ec) || !fs::is_regular_file(path, ec))
      return damaged(file.path, "is missing or not a regular file");
    const std::uint64_t size = fs::file_size(path, ec);
    if (ec || size != file.size_bytes)
      return damaged(file.path, "has " + std::to_string(size) + " bytes, the signed manifest lists " +
                                    std::to_string(file.size_bytes));
    CANOPY_ASSIGN_OR_RETURN(std::string sha256, sha256_file_hex(path));
    if (sha256 != file.sha256) return damaged(file.path, "does not match the SHA-256 of the signed manifest");
  }
  return info;
}

Result<PackageInfo> extract_package(const fs::path& zip, const fs::path& destination,
                                    const VerifyOptions& options) {
  std::error_code ec;
  if (fs::exists(destination, ec))
    return make_error(ErrorCode::kAlreadyExists, destination.string() + " already exists");
  fs::path parent = destination.parent_path().empty() ? fs::path(".") : destination.parent_path();
  fs::create_directories(parent, ec);
  CANOPY_ASSIGN_OR_RETURN(fs::path staging,
                          make_temp_dir(parent, "." + destination.filename().string() + ".extract-"));
  auto result = verify_impl(zip, options, &staging);
  Status status;
  if (result.ok()) {
    // The manifest and signature travel with the files so the result can be re-verified.
    status = write_file_atomic(staging / kManifestName, result->manifest_bytes);
    if (status.ok() && result->signature)
      status = write_file_atomic(staging / kSignatureName, result->signature->to_json());
    if (status.ok() && ::rename(staging.c_str(), destination.c_str()) != 0)
      status = make_error(ErrorCode::kIo, "cannot move the extracted package to " + destination.string());
    if (status.ok()) status = fsync_dir(parent);
  }
  if (!result.ok() || !status.ok()) {
    fs::remove_all(staging, ec);
    if (!result.ok()) return result.error();
    return status.error();
  }
  return result;
}

Result<Manifest> init_package(const InitOptions& options) {
  Manifest m;
  m.name = options.name;
  m.labels = options.labels;
  m.input.shape = options.input_shape;
  m.output = Json{{"decoder", "auto"}};
  m.created_at = now_rfc3339();
  std::vector<Placement> placements;
  CANOPY_ASSIGN_OR_RETURN(Placement model, plan_placement(options.directory, options.model, "model"));
  placements.push_back(model);
  for (const auto& [input, output] : options.golden) {
    CANOPY_ASSIGN_OR_RETURN(Placement in, plan_placement(options.directory, input, "golden-input"));
    CANOPY_ASSIGN_OR_RETURN(Placement out, plan_placement(options.directory, output, "golden-output"));
    m.golden.push_back(GoldenSample{in.entry.path, out.entry.path, 1e-3});
    placements.push_back(in);
    placements.push_back(out);
  }
  for (const auto& p : placements) m.files.push_back(p.entry);
  // Check the manifest exactly as a reader will before touching the
  // directory, so init never leaves a manifest create or verify would refuse.
  std::string bytes = serialize_manifest(m);
  auto checked = parse_manifest(bytes);
  if (!checked.ok()) return checked.error();

  std::error_code ec;
  fs::create_directories(options.directory, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create " + options.directory.string());
  for (const auto& p : placements) {
    if (!p.needs_copy || fs::exists(options.directory / p.entry.path, ec)) continue;
    fs::copy_file(p.source, options.directory / p.entry.path, ec);
    if (ec)
      return make_error(ErrorCode::kIo,
                        "cannot copy " + p.source.string() + " into " + options.directory.string());
  }
  CANOPY_TRY(write_file_atomic(options.directory / kManifestName, bytes));
  return m;
}

Result<PackageInfo> create_package(const fs::path& directory, const fs::path& output,
                                   const std::optional<KeyPair>& signing_key) {
  auto manifest_path = directory / kManifestName;
  CANOPY_ASSIGN_OR_RETURN(std::string original, read_file(manifest_path));
  auto parsed = parse_manifest(original);
  if (!parsed.ok()) return parsed.error().with_context(manifest_path.string());
  Manifest m = std::move(*parsed);
  for (auto& file : m.files) {
    CANOPY_ASSIGN_OR_RETURN(FileEntry fresh, describe_file(directory / file.path, file.path, file.role));
    if (fresh.sha256 != file.sha256 || fresh.size_bytes != file.size_bytes)
      spdlog::info("package.refresh file={} size={}", file.path, fresh.size_bytes);
    file = fresh;
  }
  if (m.created_at.empty()) m.created_at = now_rfc3339();
  PackageInfo info;
  info.manifest_bytes = serialize_manifest(m);
  info.manifest_sha256 = sha256_hex(info.manifest_bytes);
  info.manifest = m;
  if (info.manifest_bytes != original) CANOPY_TRY(write_file_atomic(manifest_path, info.manifest_bytes));
  if (signing_key) {
    info.signature = sign_manifest(*signing_key, info.manifest_bytes);
    info.signature_trusted = true;
  }

  fs::path out_dir = output.parent_path().empty() ? fs::path(".") : output.parent_path();
  CANOPY_ASSIGN_OR_RETURN(TempFile temp,
                          TempFile::create(out_dir, "." + output.filename().string() + ".tmp-"));
  {
    ZipWriter zip(temp.path());
    CANOPY_TRY(zip.add_bytes(std::string(kManifestName), info.manifest_bytes));
    if (info.signature) CANOPY_TRY(zip.add_bytes(std::string(kSignatureName), info.signature->to_json()));
    for (const auto& file : m.files)
      CANOPY_TRY(zip.add_file(file.path, directory / file.path, file.size_bytes));
    CANOPY_TRY(zip.close());
  }
  CANOPY_TRY(temp.set_mode(0644));
  CANOPY_TRY(temp.commit_to(output));
  return info;
}

}  // namespace canopy::package
