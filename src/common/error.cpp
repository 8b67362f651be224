#include "common/error.h"

namespace canopy {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kPermissionDenied: return "permission_denied";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kBadSignature: return "bad_signature";
    case ErrorCode::kIo: return "io_error";
    case ErrorCode::kNetwork: return "network_error";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

}  // namespace canopy
