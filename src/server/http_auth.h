// API-key authentication of the HTTP API (docs/api.md, "Authentication"):
// the key from X-API-KEY or Authorization: Bearer, checked against a role.
// Thread-safety: stateless; the key store is used under the registry's lock.
#pragma once

#include <httplib.h>

#include <functional>
#include <string>

#include "common/error.h"
#include "server/registry.h"

namespace canopy::server {

// The key a request presents: X-API-KEY, else "Authorization: Bearer KEY".
std::string presented_key(const httplib::Request& req);

// Authenticates the request and checks its role. The same answer is given for
// a missing key and an unknown one, and before any lookup of what the request
// names, so nothing leaks about what exists.
Result<ApiKeyRecord> authorize(Registry& registry, const httplib::Request& req, Role needed);

using Handler = std::function<void(const httplib::Request&, httplib::Response&, const ApiKeyRecord&)>;
using ReaderHandler = std::function<void(const httplib::Request&, httplib::Response&, const httplib::ContentReader&,
                                         const ApiKeyRecord&)>;

// A route handler that runs `handler` only for a key with at least `needed`.
httplib::Server::Handler guarded(Registry& registry, Role needed, Handler handler);

}  // namespace canopy::server
