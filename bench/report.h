// What every benchmark program shares: writing results into
// docs/benchmarks.md (each benchmark owns the text between
// "<!-- NAME:begin -->" and "<!-- NAME:end -->" and replaces it on every run,
// leaving the hand-written text around it alone), stopping with a message,
// and percentiles.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace canopy::bench {

Status replace_section(const std::filesystem::path& markdown, const std::string& name, const std::string& content);

// Prints "PROGRAM: message" to stderr and exits 1: a benchmark that cannot
// measure has nothing to report.
[[noreturn]] void die(const std::string& message);

template <typename T>
T check(Result<T> result, const std::string& what) {
  if (!result.ok()) die(what + ": " + result.error().message);
  return std::move(result).value();
}

inline void check(const Status& status, const std::string& what) {
  if (!status.ok()) die(what + ": " + status.error().message);
}

// `value` printed with a printf `format` ("%.2f").
std::string fmt(const char* format, double value);

// The value at fraction `p` (0-1) of the sorted values; 0 for none.
double percentile(std::vector<double> values, double p);

}  // namespace canopy::bench
