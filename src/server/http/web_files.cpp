// The web pages (docs/dashboard.md, docs/labeling.md): static files from the web directory,
// served as they are (no build step), with headers that keep a page to its
// own origin: scripts, styles, images and requests only from this server
// (Content-Security-Policy), never framed, never sniffed.
#include "server/http/routes.h"

namespace canopy::server {

namespace {

using httplib::Request;
using httplib::Response;

constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const httplib::Headers kPageHeaders = {
    {"Content-Security-Policy", kContentSecurityPolicy},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    // Pages change with the server; the browser asks again rather than run an old script with a new API.
    {"Cache-Control", "no-cache"},
};

}  // namespace

Status install_web_files(Routes& routes, const std::filesystem::path& web_dir) {
  for (const char* page : {"dashboard", "label", "assets"}) {
    const std::filesystem::path dir = web_dir / page;
    if (!routes.public_files(std::string("/") + page + "/", dir, kPageHeaders).ok())
      return make_error(ErrorCode::kNotFound, "the web pages are not in " + web_dir.string() + " (no " +
                                                  dir.string() + "); pass --web-dir DIR");
  }
  // The libraries from npm (web/package.json), the files the pages load and nothing else of node_modules.
  const std::pair<const char*, const char*> libraries[] = {{"/vendor/htm/", "htm/preact"},
                                                           {"/vendor/uplot/", "uplot/dist"}};
  for (const auto& [prefix, dir] : libraries)
    if (!routes.public_files(prefix, web_dir / "node_modules" / dir, kPageHeaders).ok())
      return make_error(ErrorCode::kNotFound, "the web pages' libraries are not installed (no " +
                                                  (web_dir / "node_modules" / dir).string() +
                                                  "); run scripts/install-web.sh");
  auto to_dashboard = [](const Request&, Response& res) { res.set_redirect("/dashboard/"); };
  routes.get("/", kPublic, to_dashboard);
  routes.get("/dashboard", kPublic, to_dashboard);
  routes.get("/label", kPublic, [](const Request&, Response& res) { res.set_redirect("/label/"); });
  return {};
}

}  // namespace canopy::server
