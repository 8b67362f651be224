// Errors as values. Every call that can fail across a module boundary returns
// Result<T>: either a value or an Error with a code (for callers to branch on)
// and a message (for a person to read: what was wrong and what to do).
// Thread-safety: plain values, no shared state.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace canopy {

enum class ErrorCode {
  kInvalidArgument,   // the caller's input is malformed
  kNotFound,          // the named thing does not exist
  kAlreadyExists,     // creating something that is already there
  kUnauthenticated,   // missing or unknown credentials
  kPermissionDenied,  // credentials are valid but not allowed to do this
  kConflict,          // the operation clashes with current state (e.g. referenced)
  kTooLarge,          // input exceeds a configured limit
  kCorrupt,           // stored or received data fails integrity checks
  kBadSignature,      // a signature is missing, wrong, or by an untrusted key
  kIo,                // the operating system refused a file operation
  kNetwork,           // a connection failed or timed out
  kInternal,          // a bug or an unexpected library failure
};

std::string_view error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  // Returns a copy whose message is prefixed with `context: `.
  Error with_context(std::string_view context) const {
    return Error{code, std::string(context) + ": " + message};
  }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : data_(std::move(error)) {}  // NOLINT

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(data_); }
  const T& value() const& { assert(ok()); return std::get<0>(data_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(data_); }

 private:
  std::variant<T, Error> data_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { assert(!ok()); return *error_; }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace canopy

// Propagates an error from an expression returning Result/Status.
#define CANOPY_TRY(expr)                       \
  do {                                         \
    auto canopy_try_result_ = (expr);          \
    if (!canopy_try_result_.ok()) return canopy_try_result_.error(); \
  } while (0)

#define CANOPY_CONCAT_INNER(a, b) a##b
#define CANOPY_CONCAT(a, b) CANOPY_CONCAT_INNER(a, b)
// Evaluates a Result<T> expression; on error returns it, else moves the value into `lhs`.
#define CANOPY_ASSIGN_OR_RETURN(lhs, expr)                              \
  auto CANOPY_CONCAT(canopy_result_, __LINE__) = (expr);                \
  if (!CANOPY_CONCAT(canopy_result_, __LINE__).ok())                    \
    return CANOPY_CONCAT(canopy_result_, __LINE__).error();             \
  lhs = std::move(CANOPY_CONCAT(canopy_result_, __LINE__)).value()
