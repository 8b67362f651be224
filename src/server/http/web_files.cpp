// The web pages (docs/labeling.md): static files from the web directory,
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

void set_page_headers(Response& res) {
  res.set_header("Content-Security-Policy", kContentSecurityPolicy);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  // Pages change with the server; the browser asks again rather than run an old script with a new API.
  res.set_header("Cache-Control", "no-cache");
}

}  // namespace

Status install_web_files(httplib::Server& http, const std::filesystem::path& web_dir) {
  for (const char* page : {"label", "assets"}) {
    const std::filesystem::path dir = web_dir / page;
    if (!http.set_mount_point(std::string("/") + page + "/", dir.string()))
      return make_error(ErrorCode::kNotFound, "the web pages are not in " + web_dir.string() + " (no " +
                                                  dir.string() + "); pass --web-dir DIR");
  }
  http.set_file_request_handler([](const Request&, Response& res) { set_page_headers(res); });
  auto to_labeling = [](const Request&, Response& res) { res.set_redirect("/label/"); };
  http.Get("/", to_labeling);
  http.Get("/label", to_labeling);
  return {};
}

}  // namespace canopy::server
