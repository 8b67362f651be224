// Who may call a route. Every route declares it where it is registered
// (Routes, route_table.h), which applies it; HttpServer::routes() lists the
// declarations, and tests/integration/access_table_test.cpp holds every
// route to the statuses each kind of caller must get.
// Free of cpp-httplib, unlike the rest of this folder: http_server.h shows it.
#pragma once

#include <string>

#include "server/auth/api_keys.h"

namespace canopy::server {

struct RouteAccess {
  enum class Kind {
    kPublic,       // anyone: no credentials, or ones the handler checks (an enrollment token, a password)
    kDeviceToken,  // a device token ("Authorization: Bearer cdt_..."); API keys are refused
    kSignedIn,     // a person's live session of any role, with its CSRF token on changes
    kRole,         // an API key, or a session, with at least `least_role` (role_allows)
  };
  Kind kind = Kind::kPublic;
  Role least_role = Role::kReader;  // for kRole only

  // "public", "device token", "signed in" or "role NAME".
  std::string describe() const;
};

struct RouteInfo {
  std::string method;   // GET (which answers HEAD too), POST, PUT, PATCH or DELETE
  std::string pattern;  // a regular expression every path the route answers matches
  RouteAccess access;
};

}  // namespace canopy::server
