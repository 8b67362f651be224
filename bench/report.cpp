#include "report.h"

#include "common/files.h"

#include <errno.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

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

void die(const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, message.c_str());
  std::exit(1);
}

std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())))];
}

}  // namespace canopy::bench
