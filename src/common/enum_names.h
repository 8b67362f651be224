// Enums written as words in files and on the wire: one table of (value, name)
// pairs per enum, read both ways by these two functions.
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace canopy {

template <typename Enum, std::size_t N>
using EnumNames = std::array<std::pair<Enum, std::string_view>, N>;

// The name of `value`; the table's first name for a value not in it.
template <typename Enum, std::size_t N>
constexpr std::string_view enum_name(const EnumNames<Enum, N>& names, Enum value) {
  for (const auto& [known, name] : names)
    if (known == value) return name;
  return names.front().second;
}

template <typename Enum, std::size_t N>
constexpr std::optional<Enum> enum_value(const EnumNames<Enum, N>& names, std::string_view text) {
  for (const auto& [value, name] : names)
    if (name == text) return value;
  return std::nullopt;
}

}  // namespace canopy
