// Reads YAML nodes of a configuration file into typed values, turning every
// problem into an Error that points at the node as FILE:LINE:COLUMN, so a
// person can find the line to fix. Only nodes that exist are asked for their
// Mark(): in yaml-cpp 0.7 Mark() on a missing ("zombie") node throws.
// Thread-safety: stateless apart from the file name.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace canopy {

class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }
  // "FILE:LINE:COLUMN: message" (just "FILE: message" for a missing node), kInvalidArgument.
  Error error_at(const YAML::Node& node, const std::string& message) const;
  // The error yaml-cpp threw, at the place it names.
  Error error_from(const YAML::Exception& exception) const;
  // Parses `text`; a syntax error names its line.
  Result<YAML::Node> load(std::string_view text) const;

  Result<std::string> scalar(const YAML::Node& node, const std::string& what) const;
  Result<std::string> nonempty(const YAML::Node& node, const std::string& what) const;
  Result<bool> boolean(const YAML::Node& node, const std::string& what) const;
  Result<double> number(const YAML::Node& node, const std::string& what) const;
  Result<long long> integer(const YAML::Node& node, const std::string& what) const;
  // A positive duration in seconds: "90", "90s", "5m", "2h", "1.5h", "3d".
  Result<double> duration_s(const YAML::Node& node, const std::string& what) const;
  // A single string or a list of strings.
  Result<std::vector<std::string>> strings(const YAML::Node& node, const std::string& what) const;
  // Fails on the first key of `map` that is not in `allowed`, listing the known ones.
  Status check_keys(const YAML::Node& map, const std::vector<std::string>& allowed,
                    const std::string& what) const;

 private:
  std::string file_;
};

}  // namespace canopy
