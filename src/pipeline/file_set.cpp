#include "pipeline/file_set.h"

#include <glob.h>

#include <algorithm>

#include "common/hash.h"

namespace canopy::pipeline {

namespace fs = std::filesystem;

Json FileSetDigest::to_json() const {
  return {{"pattern", pattern}, {"files", files}, {"bytes", bytes}, {"sha256", sha256}};
}

Result<FileSetDigest> FileSetDigest::from_json(const Json& json) {
  FileSetDigest digest;
  CANOPY_ASSIGN_OR_RETURN(digest.pattern, json_get<std::string>(json, "pattern"));
  CANOPY_ASSIGN_OR_RETURN(digest.files, json_get<std::uint64_t>(json, "files"));
  CANOPY_ASSIGN_OR_RETURN(digest.bytes, json_get_or<std::uint64_t>(json, "bytes", 0));
  CANOPY_ASSIGN_OR_RETURN(digest.sha256, json_get<std::string>(json, "sha256"));
  return digest;
}

Result<std::vector<fs::path>> expand_pattern(const std::string& pattern, const fs::path& base) {
  const fs::path full = fs::path(pattern).is_absolute() ? fs::path(pattern) : base / pattern;
  glob_t matches{};
  const int rc = ::glob(full.c_str(), GLOB_NOSORT, nullptr, &matches);
  std::vector<fs::path> roots;
  if (rc == 0)
    for (size_t i = 0; i < matches.gl_pathc; ++i) roots.emplace_back(matches.gl_pathv[i]);
  ::globfree(&matches);
  if (rc != 0 && rc != GLOB_NOMATCH)
    return make_error(ErrorCode::kIo, "cannot expand '" + pattern + "' (glob error " + std::to_string(rc) + ")");
  std::vector<fs::path> files;
  for (const auto& root : roots) {
    std::error_code ec;
    if (fs::is_directory(root, ec)) {
      for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec))
        if (it->is_regular_file(ec)) files.push_back(it->path());
      if (ec) return make_error(ErrorCode::kIo, "cannot list " + root.string() + ": " + ec.message());
    } else if (fs::is_regular_file(root, ec)) {
      files.push_back(root);
    }
  }
  if (files.empty()) return make_error(ErrorCode::kNotFound, "'" + pattern + "' matches no file");
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

Result<FileSetDigest> digest_pattern(const std::string& pattern, const fs::path& base) {
  CANOPY_ASSIGN_OR_RETURN(std::vector<fs::path> files, expand_pattern(pattern, base));
  FileSetDigest digest;
  digest.pattern = pattern;
  Sha256 hasher;
  const std::string prefix = base.string() + "/";
  for (const auto& file : files) {
    CANOPY_ASSIGN_OR_RETURN(std::string file_sha256, sha256_file_hex(file));
    std::string name = file.string();
    // Paths under the pipeline's directory are hashed relative to it, so
    // moving the whole project keeps its cache.
    if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
    hasher.update(name);
    hasher.update(std::string_view("\0", 1));
    hasher.update(file_sha256);
    hasher.update("\n");
    std::error_code ec;
    digest.bytes += fs::file_size(file, ec);
    ++digest.files;
  }
  digest.sha256 = hasher.finish_hex();
  return digest;
}

}  // namespace canopy::pipeline
