#include "pipeline/redact.h"

#include <algorithm>
#include <cctype>

#include "common/json.h"

namespace canopy::pipeline {

bool looks_secret(std::string_view variable_name) {
  std::string upper;
  for (char c : variable_name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const char* word : {"KEY", "TOKEN", "SECRET", "PASSWORD"})
    if (upper.find(word) != std::string::npos) return true;
  return false;
}

void Redactor::add(std::string_view secret_value) {
  if (secret_value.size() < kMinSecretLength) return;
  auto insert = [this](std::string value) {
    if (std::find(secrets_.begin(), secrets_.end(), value) != secrets_.end()) return;
    secrets_.push_back(std::move(value));
  };
  insert(std::string(secret_value));
  // Also the form the value takes inside a JSON string, for text that is
  // redacted after serialisation.
  std::string quoted = Json(std::string(secret_value)).dump();
  insert(quoted.substr(1, quoted.size() - 2));
  std::sort(secrets_.begin(), secrets_.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string Redactor::redact(std::string_view text) const {
  std::string out(text);
  for (const auto& secret : secrets_) {
    for (size_t at = out.find(secret); at != std::string::npos; at = out.find(secret, at + std::char_traits<char>::length(kMask)))
      out.replace(at, secret.size(), kMask);
  }
  return out;
}

}  // namespace canopy::pipeline
