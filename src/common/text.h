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

// A name people give things (models, aliases, runs, steps): 1 to `max_size`
// characters, each a letter, a digit or one of `punctuation`; the first a
// letter, a digit or one of `leading_punctuation`.
bool is_plain_name(std::string_view text, std::size_t max_size, std::string_view punctuation = "._-",
                   std::string_view leading_punctuation = "");

// The offset of the first byte of `text` that does not start a well-formed
// UTF-8 sequence (an overlong form, a surrogate or a code point above
// U+10FFFF is not one), or nullopt when all of `text` is UTF-8.
std::optional<std::size_t> invalid_utf8_at(std::string_view text);

}  // namespace canopy
