#include "common/yaml_reader.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "common/text.h"

namespace canopy {

Error YamlReader::error_at(const YAML::Node& node, const std::string& message) const {
  // A missing node has no place, nor has the empty document (its mark is -1).
  const YAML::Mark mark = node.IsDefined() ? node.Mark() : YAML::Mark::null_mark();
  if (mark.line < 0) return make_error(ErrorCode::kInvalidArgument, file_ + ": " + message);
  return make_error(ErrorCode::kInvalidArgument, file_ + ":" + std::to_string(mark.line + 1) + ":" +
                                                     std::to_string(mark.column + 1) + ": " + message);
}

Error YamlReader::error_from(const YAML::Exception& exception) const {
  return make_error(ErrorCode::kInvalidArgument, file_ + ":" + std::to_string(exception.mark.line + 1) + ":" +
                                                     std::to_string(exception.mark.column + 1) + ": " +
                                                     exception.msg);
}

Result<YAML::Node> YamlReader::load(std::string_view text) const {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return error_from(e);
  }
}

Result<std::string> YamlReader::scalar(const YAML::Node& node, const std::string& what) const {
  if (!node.IsScalar()) return error_at(node, what + " must be a single value");
  return node.Scalar();
}

Result<std::string> YamlReader::nonempty(const YAML::Node& node, const std::string& what) const {
  CANOPY_ASSIGN_OR_RETURN(std::string text, scalar(node, what));
  if (text.empty()) return error_at(node, what + " must not be empty");
  return text;
}

Result<bool> YamlReader::boolean(const YAML::Node& node, const std::string& what) const {
  CANOPY_ASSIGN_OR_RETURN(std::string text, scalar(node, what));
  bool value = false;
  if (!YAML::convert<bool>::decode(node, value))
    return error_at(node, what + " must be true or false, not '" + text + "'");
  return value;
}

Result<double> YamlReader::number(const YAML::Node& node, const std::string& what) const {
  CANOPY_ASSIGN_OR_RETURN(std::string text, scalar(node, what));
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value))
    return error_at(node, what + " must be a number, not '" + text + "'");
  return value;
}

Result<long long> YamlReader::integer(const YAML::Node& node, const std::string& what) const {
  CANOPY_ASSIGN_OR_RETURN(std::string text, scalar(node, what));
  const std::optional<std::int64_t> value = parse_int(text);
  if (!value) return error_at(node, what + " must be a whole number, not '" + text + "'");
  return *value;
}

Result<double> YamlReader::duration_s(const YAML::Node& node, const std::string& what) const {
  CANOPY_ASSIGN_OR_RETURN(std::string text, scalar(node, what));
  double unit = 1;
  std::string digits = text;
  if (!digits.empty()) {
    const std::string units = "smhd";
    const double seconds[] = {1, 60, 3600, 86400};
    if (const std::size_t i = units.find(digits.back()); i != std::string::npos) {
      unit = seconds[i];
      digits.pop_back();
    }
  }
  char* end = nullptr;
  const double value = std::strtod(digits.c_str(), &end);
  if (digits.empty() || end != digits.c_str() + digits.size() || !(value > 0) || !std::isfinite(value))
    return error_at(node, what + ": '" + text + "' is not a duration (e.g. 90, 90s, 5m, 2h, 3d)");
  return value * unit;
}

Result<std::vector<std::string>> YamlReader::strings(const YAML::Node& node, const std::string& what) const {
  std::vector<std::string> out;
  if (node.IsNull()) return out;
  if (node.IsScalar()) {
    out.push_back(node.Scalar());
    return out;
  }
  if (!node.IsSequence()) return error_at(node, what + " must be a string or a list of strings");
  for (const auto& item : node) {
    CANOPY_ASSIGN_OR_RETURN(std::string text, nonempty(item, what + " entry"));
    out.push_back(std::move(text));
  }
  return out;
}

Status YamlReader::check_keys(const YAML::Node& map, const std::vector<std::string>& allowed,
                              const std::string& what) const {
  for (const auto& item : map) {
    if (!item.first.IsScalar()) return error_at(item.first, "keys of " + what + " must be plain names");
    const std::string& key = item.first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return error_at(item.first, "unknown key '" + key + "' in " + what + " (known keys: " + list + ")");
    }
  }
  return {};
}

}  // namespace canopy
