#include "server/http_auth.h"

#include "server/http_json.h"

namespace canopy::server {

using httplib::Request;
using httplib::Response;

std::string presented_key(const Request& req) {
  std::string key = req.get_header_value("X-API-KEY");
  if (key.empty()) {
    std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) == 0) key = auth.substr(7);
  }
  return key;
}

Result<ApiKeyRecord> authorize(Registry& registry, const Request& req, Role needed) {
  std::optional<ApiKeyRecord> key;
  {
    auto guard = registry.lock();
    key = registry.keys().authenticate(presented_key(req));
  }
  if (!key)
    return make_error(ErrorCode::kUnauthenticated,
                      "a valid API key is required (send it in the X-API-KEY header)");
  if (static_cast<int>(key->role) < static_cast<int>(needed))
    return make_error(ErrorCode::kPermissionDenied, "this needs the " + std::string(role_name(needed)) +
                                                        " role; the key has " + std::string(role_name(key->role)));
  return *key;
}

httplib::Server::Handler guarded(Registry& registry, Role needed, Handler handler) {
  return [&registry, needed, handler = std::move(handler)](const Request& req, Response& res) {
    auto key = authorize(registry, req, needed);
    if (!key.ok()) return send_error(res, key.error());
    handler(req, res, *key);
  };
}

}  // namespace canopy::server
