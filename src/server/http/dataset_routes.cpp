// The datasets routes (docs/labeling.md, "Datasets"): publishers make
// versions of what people labeled; any API key reads them, with their
// items, to pull and train on.
#include "server/http/middleware.h"
#include "server/http/routes.h"

namespace canopy::server {

namespace {

using httplib::Request;
using httplib::Response;

constexpr std::size_t kMaxRequestBody = 64 << 10;

}  // namespace

void install_dataset_routes(httplib::Server& http, const Access& access, DatasetVersions& datasets) {
  http.Get("/api/v1/datasets", guarded(access, Role::kReader,
                                       [&datasets](const Request& req, Response& res, const ApiKeyRecord&) {
                                         auto versions = datasets.list(req.get_param_value("name"));
                                         if (!versions.ok()) return send_error(res, versions.error());
                                         Json rows = Json::array();
                                         for (const api::DatasetVersion& version : *versions)
                                           rows.push_back(version.to_json());
                                         send_json(res, 200, {{"versions", rows}});
                                       }));

  http.Post(R"(/api/v1/datasets/([^/]+)/versions)",
            guarded(access, Role::kPublisher,
                    [&datasets](const Request& req, Response& res, const ApiKeyRecord& caller) {
                      if (req.body.size() > kMaxRequestBody)
                        return send_error(res, body_too_large(kMaxRequestBody));
                      auto body =
                          req.body.empty() ? Result<Json>(Json::object()) : parse_json_object(req.body);
                      if (!body.ok()) return send_error(res, body.error());
                      auto request = api::DatasetVersionRequest::from_json(*body);
                      if (!request.ok()) return send_error(res, request.error());
                      auto created = datasets.create(req.matches[1].str(), *request, caller.display_name());
                      if (!created.ok()) return send_error(res, created.error());
                      created->item_list.clear();
                      send_json(res, 201, created->to_json());
                    }));

  http.Get(
      R"(/api/v1/datasets/([^/]+)/versions/([0-9]+))",
      guarded(access, Role::kReader, [&datasets](const Request& req, Response& res, const ApiKeyRecord&) {
        auto number = positive_number(req.matches[2].str(), "version");
        if (!number.ok()) return send_error(res, number.error());
        auto version = datasets.get(req.matches[1].str(), *number);
        if (!version.ok()) return send_error(res, version.error());
        send_json(res, 200, version->to_json());
      }));
}

}  // namespace canopy::server
