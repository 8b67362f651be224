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
constexpr std::size_t kMaxImageBytes = 32 << 20;
constexpr std::size_t kMaxImportBody = 64 << 20;

}  // namespace

void install_dataset_routes(Routes& routes, DatasetVersions& datasets, SampleStore& samples) {
  routes.get("/api/v1/datasets", Role::kReader,
             [&datasets](const Request& req, Response& res, const ApiKeyRecord&) {
               auto versions = datasets.list(req.get_param_value("name"));
               if (!versions.ok()) return send_error(res, versions.error());
               Json rows = Json::array();
               for (const api::DatasetVersion& version : *versions) rows.push_back(version.to_json());
               send_json(res, 200, {{"versions", rows}});
             });

  routes.post(R"(/api/v1/datasets/([^/]+)/versions)", Role::kPublisher,
              [&datasets](const Request& req, Response& res, const ApiKeyRecord& caller) {
                auto body = optional_json_body(req, kMaxRequestBody);
                if (!body.ok()) return send_error(res, body.error());
                auto request = api::DatasetVersionRequest::from_json(*body);
                if (!request.ok()) return send_error(res, request.error());
                auto created = datasets.create(req.matches[1].str(), *request, caller.display_name());
                if (!created.ok()) return send_error(res, created.error());
                created->item_list.clear();
                send_json(res, 201, created->to_json());
              });

  routes.get(R"(/api/v1/datasets/([^/]+)/versions/([0-9]+))", Role::kReader,
             [&datasets](const Request& req, Response& res, const ApiKeyRecord&) {
               auto number = positive_number(req.matches[2].str(), "version");
               if (!number.ok()) return send_error(res, number.error());
               auto version = datasets.get(req.matches[1].str(), *number);
               if (!version.ok()) return send_error(res, version.error());
               send_json(res, 200, version->to_json());
             });

  routes.put_streamed(R"(/api/v1/datasets/images/([0-9a-f]{64}))", Role::kPublisher,
                      [&datasets](const Request& req, Response& res, const httplib::ContentReader& reader,
                                  const ApiKeyRecord&) {
                        auto bytes = read_body(req, reader, res, kMaxImageBytes);
                        if (!bytes.ok()) return send_error(res, bytes.error());
                        Status stored = datasets.put_image(*bytes, req.matches[1].str());
                        if (!stored.ok()) return send_error(res, stored.error());
                        send_json(res, 200, {{"sha256", req.matches[1].str()}, {"bytes", bytes->size()}});
                      });

  // An imported image, or a sample's (a version's items are either).
  routes.get(R"(/api/v1/datasets/images/([0-9a-f]{64}))", Role::kReader,
             [&datasets, &samples](const Request& req, Response& res, const ApiKeyRecord&) {
               const std::string sha256 = req.matches[1].str();
               auto bytes = datasets.image(sha256);
               if (!bytes.ok() && bytes.error().code == ErrorCode::kNotFound)
                 bytes = samples.image_by_sha256(sha256);
               if (!bytes.ok()) return send_error(res, bytes.error());
               res.set_header("Cache-Control", "private, max-age=86400, immutable");
               res.set_content(std::move(*bytes), "application/octet-stream");
             });

  routes.post_streamed(
      R"(/api/v1/datasets/([^/]+)/imports)", Role::kPublisher,
      [&datasets](const Request& req, Response& res, const httplib::ContentReader& reader,
                  const ApiKeyRecord& caller) {
        auto body = read_json_body(req, reader, res, kMaxImportBody);
        if (!body.ok()) return send_error(res, body.error());
        auto labels = json_get<std::vector<std::string>>(*body, "labels");
        if (!labels.ok()) return send_error(res, labels.error().with_context("request body"));
        const Json rows = body->value("items", Json::array());
        if (!rows.is_array())
          return send_error(res,
                            make_error(ErrorCode::kInvalidArgument, "request body: items must be a list"));
        std::vector<api::DatasetItem> items;
        for (std::size_t i = 0; i < rows.size(); ++i) {
          auto item = api::DatasetItem::from_json(rows[i]);
          if (!item.ok())
            return send_error(res, item.error().with_context("items[" + std::to_string(i) + "]"));
          items.push_back(std::move(*item));
        }
        auto created =
            datasets.import_version(req.matches[1].str(), *labels, std::move(items), caller.display_name());
        if (!created.ok()) return send_error(res, created.error());
        created->item_list.clear();
        send_json(res, 201, created->to_json());
      });
}

}  // namespace canopy::server
