// Layered configuration. A setting is looked up, highest precedence first, in:
//   1. command-line flags given to the program,
//   2. the environment: CANOPY_<KEY> with dots and dashes as underscores,
//      upper-cased ("server.listen" -> CANOPY_SERVER_LISTEN),
//   3. a YAML file (--config FILE or CANOPY_CONFIG), nested maps flattened
//      with dots ({server: {listen: x}} -> "server.listen"),
//   4. the built-in default the caller passes.
// Thread-safety: read-only after load; set_flag is for start-up only.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace canopy {

class Config {
 public:
  // Loads `yaml_file` if non-empty; a missing or malformed file is an error.
  static Result<Config> load(const std::filesystem::path& yaml_file);

  void set_flag(std::string key, std::string value);

  std::optional<std::string> find(std::string_view key) const;
  std::string get(std::string_view key, std::string_view fallback = "") const;
  // Fails with a message naming the flag, variable and file key when missing.
  Result<std::string> require(std::string_view key) const;
  Result<long long> get_int(std::string_view key, long long fallback) const;

  static std::string env_name(std::string_view key);

 private:
  std::map<std::string, std::string, std::less<>> flags_;
  std::map<std::string, std::string, std::less<>> file_;
};

}  // namespace canopy
