// Wall-clock timestamps as stored by Canopy: RFC 3339, UTC, seconds.
#pragma once

#include <string>

namespace canopy {

std::string now_rfc3339();

}  // namespace canopy
