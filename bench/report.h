// Writes benchmark results into docs/benchmarks.md: each benchmark owns the
// text between "<!-- NAME:begin -->" and "<!-- NAME:end -->" and replaces it
// on every run, leaving the hand-written text around it alone.
#pragma once

#include <filesystem>
#include <string>

#include "common/error.h"

namespace canopy::bench {

Status replace_section(const std::filesystem::path& markdown, const std::string& name, const std::string& content);

}  // namespace canopy::bench
