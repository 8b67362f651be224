// The runs area's routes (docs/api.md, "Pipeline runs").
#include "server/http/middleware.h"
#include "server/http/routes.h"

namespace canopy::server {

using httplib::Request;
using httplib::Response;

void install_runs_routes(Routes& routes, RunRecords& runs) {
  constexpr size_t kMaxRunBytes = 4 << 20;  // a record of hundreds of steps stays far below this
  routes.post(
      "/api/v1/runs", Role::kPublisher, [&runs](const Request& req, Response& res, const ApiKeyRecord& key) {
        if (req.body.size() > kMaxRunBytes)
          return send_error(res, make_error(ErrorCode::kTooLarge, "a run record may be at most 4 MiB"));
        auto body = parse_json(req.body, "request body");
        if (!body.ok()) return send_error(res, body.error());
        auto created = runs.put(*body, key.id);
        if (!created.ok()) return send_error(res, created.error());
        send_json(res, *created ? 201 : 200,
                  {{"id", (*body)["id"]}, {"status", (*body)["status"]}, {"created", *created}});
      });

  routes.get("/api/v1/runs", Role::kReader, [&runs](const Request& req, Response& res, const ApiKeyRecord&) {
    auto limit = number_param(req, "limit", 50, 1000);
    if (!limit.ok()) return send_error(res, limit.error());
    auto listed = runs.list(static_cast<int>(*limit));
    if (!listed.ok()) return send_error(res, listed.error());
    send_json(res, 200, *listed);
  });

  routes.get(R"(/api/v1/runs/([^/]+))", Role::kReader,
             [&runs](const Request& req, Response& res, const ApiKeyRecord&) {
               auto run = runs.get(req.matches[1].str());
               if (!run.ok()) return send_error(res, run.error());
               send_json(res, 200, *run);
             });
}

}  // namespace canopy::server
