// The registry's HTTP API on cpp-httplib: routes, authentication by API key
// (X-API-KEY or Authorization: Bearer), JSON errors. docs/api.md is the
// reference for every endpoint.
// Thread-safety: handlers run on httplib's worker threads; all shared state
// lives in Registry, which is thread-safe.
#pragma once

#include <httplib.h>

#include <cstdint>

#include "server/registry.h"

namespace canopy::server {

struct HttpApiOptions {
  std::uint64_t max_upload_bytes = 4ull << 30;
};

// Registers every route on `http`. `registry` must outlive `http`.
void install_http_api(httplib::Server& http, Registry& registry, const HttpApiOptions& options);

}  // namespace canopy::server
