// Small text helpers that parsing code across the modules shares.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace canopy {

// `text` without leading and trailing blanks (space, tab, CR, LF).
std::string_view trim(std::string_view text);

// The non-empty parts of `text` between `separator`s: "a,,b," gives {a, b}.
std::vector<std::string> split(std::string_view text, char separator);

// `text` as a whole decimal integer (an optional '-', digits, nothing else),
// or nullopt when it is not one or does not fit in 64 bits.
std::optional<std::int64_t> parse_int(std::string_view text);

}  // namespace canopy
