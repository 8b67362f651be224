// Answers a request for a stored package file: ETag (the blob's SHA-256) and
// If-None-Match, byte ranges (206, 416), streamed from the blob store. Both
// the registry's download route and the device route use it.
// Private to src/server/http/.
// Thread-safety: stateless.
#pragma once

#include <httplib.h>

#include "server/registry/registry.h"

namespace canopy::server {

void serve_package(const VersionRecord& record, const fs::path& path, const httplib::Request& req,
                   httplib::Response& res);

}  // namespace canopy::server
