// The fleet's HTTP routes (docs/fleet.md): enrollment and the device API,
// authenticated by device token, and the admin/operator API for enrollment
// tokens, devices and deployments, authenticated by API key. Device tokens
// are accepted only on /api/v1/device/...; API keys never are there.
// Thread-safety: handlers run on httplib's workers; Fleet and Registry are thread-safe.
#pragma once

#include <httplib.h>

#include "server/fleet.h"
#include "server/registry.h"

namespace canopy::server {

// Registers the fleet routes on `http`. `fleet` and `registry` must outlive `http`.
void install_fleet_routes(httplib::Server& http, Fleet& fleet, Registry& registry);

}  // namespace canopy::server
