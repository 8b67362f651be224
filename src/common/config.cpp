#include "common/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>

#include "common/text.h"

namespace canopy {

namespace {

void flatten(const YAML::Node& node, const std::string& prefix,
             std::map<std::string, std::string, std::less<>>& out) {
  if (node.IsMap()) {
    for (const auto& item : node) {
      std::string key = item.first.as<std::string>();
      flatten(item.second, prefix.empty() ? key : prefix + "." + key, out);
    }
  } else if (node.IsScalar()) {
    out[prefix] = node.as<std::string>();
  }
}

}  // namespace

Result<Config> Config::load(const std::filesystem::path& yaml_file) {
  Config config;
  if (yaml_file.empty()) return config;
  if (!std::filesystem::exists(yaml_file))
    return make_error(ErrorCode::kNotFound, "config file " + yaml_file.string() + " does not exist");
  try {
    YAML::Node root = YAML::LoadFile(yaml_file.string());
    if (!root.IsNull() && !root.IsMap())
      return make_error(ErrorCode::kInvalidArgument,
                        "config file " + yaml_file.string() + " must be a mapping of settings");
    flatten(root, "", config.file_);
  } catch (const YAML::Exception& e) {
    return make_error(ErrorCode::kInvalidArgument, "config file " + yaml_file.string() + " line " +
                                                       std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return config;
}

void Config::set_flag(std::string key, std::string value) { flags_[std::move(key)] = std::move(value); }

std::string Config::env_name(std::string_view key) {
  std::string name = "CANOPY_";
  for (char c : key) {
    if (c == '.' || c == '-')
      name += '_';
    else
      name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

std::optional<std::string> Config::find(std::string_view key) const {
  if (auto it = flags_.find(key); it != flags_.end()) return it->second;
  if (const char* env = std::getenv(env_name(key).c_str()); env != nullptr && *env != '\0')
    return std::string(env);
  if (auto it = file_.find(key); it != file_.end()) return it->second;
  return std::nullopt;
}

std::string Config::get(std::string_view key, std::string_view fallback) const {
  auto value = find(key);
  return value ? *value : std::string(fallback);
}

Result<std::string> Config::require(std::string_view key) const {
  auto value = find(key);
  if (!value) {
    std::string flag(key);
    for (char& c : flag)
      if (c == '.' || c == '_') c = '-';
    return make_error(ErrorCode::kInvalidArgument, "missing setting '" + std::string(key) + "': pass --" +
                                                       flag + ", set " + env_name(key) + ", or put '" +
                                                       std::string(key) + "' in the config file");
  }
  return *value;
}

Result<long long> Config::get_int(std::string_view key, long long fallback) const {
  auto value = find(key);
  if (!value) return fallback;
  if (const std::optional<std::int64_t> parsed = parse_int(*value)) return *parsed;
  return make_error(ErrorCode::kInvalidArgument,
                    "setting '" + std::string(key) + "' must be an integer, got '" + *value + "'");
}

}  // namespace canopy
