// Secrets in a step's environment never reach a log or a record. A variable is
// secret when it is declared `secret: true` or its name contains KEY, TOKEN,
// SECRET or PASSWORD (any case). The Redactor replaces every occurrence of
// those variables' values with "***" in text before it is printed or stored.
// Thread-safety: immutable after construction; redact() may be called from
// any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace canopy::pipeline {

bool looks_secret(std::string_view variable_name);

class Redactor {
 public:
  static constexpr const char* kMask = "***";
  // Values shorter than this are not redacted: masking every "1" or "yes"
  // would garble output, and a 3-character value protects nothing.
  static constexpr size_t kMinSecretLength = 4;

  void add(std::string_view secret_value);
  std::string redact(std::string_view text) const;
  bool empty() const { return secrets_.empty(); }

 private:
  std::vector<std::string> secrets_;  // longest first, so a secret containing another is masked whole
};

}  // namespace canopy::pipeline
