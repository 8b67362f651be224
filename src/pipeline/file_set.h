// The files a step reads (inputs) and writes (outputs), named by paths or
// shell globs (*, ?, [...]) relative to the pipeline's directory. A directory
// stands for every regular file under it. A set's digest is the SHA-256 of
// its sorted (path, file SHA-256) pairs: it changes when a file is added,
// removed, renamed or edited, and only then.
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/json.h"

namespace canopy::pipeline {

struct FileSetDigest {
  std::string pattern;    // as rendered (placeholders replaced)
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  std::string sha256;

  Json to_json() const;
  static Result<FileSetDigest> from_json(const Json& json);
};

// Every regular file `pattern` names, sorted. Fails with kNotFound when it names none.
Result<std::vector<std::filesystem::path>> expand_pattern(const std::string& pattern, const std::filesystem::path& base);

Result<FileSetDigest> digest_pattern(const std::string& pattern, const std::filesystem::path& base);

}  // namespace canopy::pipeline
