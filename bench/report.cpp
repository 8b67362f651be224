#include "report.h"

#include "common/files.h"

namespace canopy::bench {

Status replace_section(const std::filesystem::path& markdown, const std::string& name, const std::string& content) {
  const std::string begin = "<!-- " + name + ":begin -->", end = "<!-- " + name + ":end -->";
  auto existing = read_file(markdown);
  std::string text = existing.ok() ? *existing : "# Benchmarks\n";
  const std::string block = begin + "\n" + content + end;
  const auto a = text.find(begin), b = text.find(end);
  if (a != std::string::npos && b != std::string::npos && b > a) {
    text.replace(a, b + end.size() - a, block);
  } else {
    text += "\n" + block + "\n";
  }
  return write_file_atomic(markdown, text);
}

}  // namespace canopy::bench
