// The registry's routes (docs/api.md): models, versions, packages, aliases,
// uploads, and the server's publisher key.
#include <spdlog/spdlog.h>

#include <regex>

#include "common/hash.h"
#include "common/json.h"
#include "server/http/middleware.h"
#include "server/http/package_response.h"
#include "server/http/routes.h"

namespace canopy::server {

namespace {

using httplib::Request;
using httplib::Response;

// The upload's publisher: its API key, and the pipeline run the request
// names in X-Canopy-Run (a deploy step sends its CANOPY_RUN_ID), if any.
Result<Publisher> publisher_of(const Request& req, const ApiKeyRecord& key) {
  static const std::regex run_id("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  const std::string run = req.get_header_value("X-Canopy-Run");
  if (!run.empty() && !std::regex_match(run, run_id))
    return make_error(ErrorCode::kInvalidArgument,
                      "X-Canopy-Run '" + run + "' is not a run id (1-64 letters, digits, '.', '_' or '-')");
  return Publisher{key.id, run};
}

// Streams the request body into a temp file, then hands it to the registry.
void receive_upload(Registry& registry, std::uint64_t max_upload_bytes, const Request& req, Response& res,
                    const httplib::ContentReader& reader, const ApiKeyRecord& key,
                    const std::optional<std::string>& expected_name) {
  if (req.get_header_value<std::uint64_t>("Content-Length") > max_upload_bytes) {
    // Answer without reading the body; closing is the only way to skip it.
    res.set_header("Connection", "close");
    return send_error(res, upload_too_large(max_upload_bytes));
  }
  auto publisher = publisher_of(req, key);
  if (!publisher.ok()) {
    res.set_header("Connection", "close");  // the body is not read
    return send_error(res, publisher.error());
  }
  auto temp = TempFile::create(registry.tmp_dir(), "upload-");
  if (!temp.ok()) return send_error(res, temp.error());
  // httplib hands the body over in small pieces; gather them into large
  // writes, and hash on the way so the stored file is never read back for it.
  constexpr size_t kWriteBytes = 1 << 20;
  std::string pending;
  pending.reserve(kWriteBytes);
  Sha256 hasher;
  std::uint64_t received = 0;
  bool too_large = false;
  Status write_status;
  bool complete = reader([&](const char* data, size_t length) {
    received += length;
    if (received > max_upload_bytes) {
      too_large = true;
      return false;
    }
    hasher.update(std::string_view(data, length));
    pending.append(data, length);
    if (pending.size() >= kWriteBytes) {
      write_status = temp->write(pending);
      pending.clear();
    }
    return write_status.ok();
  });
  if (too_large) return send_error(res, upload_too_large(max_upload_bytes));
  if (write_status.ok()) write_status = temp->write(pending);
  if (!write_status.ok()) return send_error(res, write_status.error());
  if (!complete)
    return send_error(res, make_error(ErrorCode::kInvalidArgument,
                                      "upload was cut off before all its bytes arrived; send it again"));
  if (received == 0)
    return send_error(res,
                      make_error(ErrorCode::kInvalidArgument, "upload is empty; send a model package zip"));
  auto published = registry.publish(std::move(*temp), hasher.finish_hex(), expected_name, *publisher);
  if (!published.ok()) {
    spdlog::warn("http.upload.rejected path={} key={} reason=\"{}\"", req.path, key.id,
                 published.error().message);
    return send_error(res, published.error());
  }
  Json body = published->version.to_json(false);
  body["created"] = published->created;
  send_json(res, published->created ? 201 : 200, body);
}

void install_model_routes(Routes& routes, Registry& registry, std::uint64_t max_upload_bytes) {
  // The deploy step MLOps pipelines use as-is: curl -T model.zip "$MODEL_REPOSITORY/model.zip"
  routes.put_streamed(
      R"(/(?:repository/)?([^/]+\.zip))", Role::kPublisher,
      [&registry, max_upload_bytes](const Request& req, Response& res, const httplib::ContentReader& reader,
                                    const ApiKeyRecord& key) {
        receive_upload(registry, max_upload_bytes, req, res, reader, key, std::nullopt);
      });
  routes.post_streamed(
      R"(/api/v1/models/([^/]+)/versions)", Role::kPublisher,
      [&registry, max_upload_bytes](const Request& req, Response& res, const httplib::ContentReader& reader,
                                    const ApiKeyRecord& key) {
        receive_upload(registry, max_upload_bytes, req, res, reader, key, req.matches[1].str());
      });

  routes.get("/api/v1/models", Role::kReader,
             [&registry](const Request& req, Response& res, const ApiKeyRecord&) {
               auto models = registry.list_models(req.get_param_value("q"), req.get_param_value("tag"));
               if (!models.ok()) return send_error(res, models.error());
               Json list = Json::array();
               for (const auto& m : *models) list.push_back(m.to_json());
               send_json(res, 200, {{"models", list}});
             });

  routes.get(
      R"(/api/v1/models/([^/]+))", Role::kReader,
      [&registry](const Request& req, Response& res, const ApiKeyRecord&) {
        auto versions = registry.list_versions(req.matches[1].str());
        if (!versions.ok()) return send_error(res, versions.error());
        Json list = Json::array();
        Json aliases = Json::object();
        for (const auto& v : *versions) {
          list.push_back(v.to_json(false));
          for (const auto& a : v.aliases) aliases[a] = v.version;
        }
        send_json(res, 200, {{"name", req.matches[1].str()}, {"versions", list}, {"aliases", aliases}});
      });

  routes.get(R"(/api/v1/models/([^/]+)/versions/([^/]+))", Role::kReader,
             [&registry](const Request& req, Response& res, const ApiKeyRecord&) {
               auto version = registry.resolve(req.matches[1].str(), req.matches[2].str());
               if (!version.ok()) return send_error(res, version.error());
               send_json(res, 200, version->to_json(true));
             });

  routes.get(R"(/api/v1/models/([^/]+)/versions/([^/]+)/package)", Role::kReader,
             [&registry](const Request& req, Response& res, const ApiKeyRecord&) {
               auto version = registry.resolve(req.matches[1].str(), req.matches[2].str());
               if (!version.ok()) return send_error(res, version.error());
               serve_package(*version, registry.blob_path(version->blob_sha256), req, res);
             });

  routes.del(R"(/api/v1/models/([^/]+)/versions/([^/]+))", Role::kAdmin,
             [&registry](const Request& req, Response& res, const ApiKeyRecord&) {
               auto number = positive_number(req.matches[2].str(), "version");
               if (!number.ok()) return send_error(res, number.error());
               Status deleted = registry.delete_version(req.matches[1].str(), *number);
               if (!deleted.ok()) return send_error(res, deleted.error());
               send_json(res, 200, {{"deleted", {{"model", req.matches[1].str()}, {"version", *number}}}});
             });
}

void install_alias_routes(Routes& routes, Registry& registry) {
  routes.get(R"(/api/v1/models/([^/]+)/aliases/([^/]+))", Role::kReader,
             [&registry](const Request& req, Response& res, const ApiKeyRecord&) {
               auto version = registry.resolve(req.matches[1].str(), "@" + req.matches[2].str());
               if (!version.ok()) return send_error(res, version.error());
               send_json(res, 200, version->to_json(false));
             });

  routes.put(R"(/api/v1/models/([^/]+)/aliases/([^/]+))", Role::kPublisher,
             [&registry](const Request& req, Response& res, const ApiKeyRecord& key) {
               auto body = parse_json(req.body, "request body");
               if (!body.ok()) return send_error(res, body.error());
               auto version = json_get<std::int64_t>(*body, "version");
               if (!version.ok()) return send_error(res, version.error().with_context("request body"));
               Status set = registry.set_alias(req.matches[1].str(), req.matches[2].str(), *version, key.id);
               if (!set.ok()) return send_error(res, set.error());
               send_json(
                   res, 200,
                   {{"model", req.matches[1].str()}, {"alias", req.matches[2].str()}, {"version", *version}});
             });

  routes.del(R"(/api/v1/models/([^/]+)/aliases/([^/]+))", Role::kPublisher,
             [&registry](const Request& req, Response& res, const ApiKeyRecord& key) {
               Status removed = registry.remove_alias(req.matches[1].str(), req.matches[2].str(), key.id);
               if (!removed.ok()) return send_error(res, removed.error());
               send_json(
                   res, 200,
                   {{"model", req.matches[1].str()}, {"alias", req.matches[2].str()}, {"removed", true}});
             });

  routes.get(R"(/api/v1/models/([^/]+)/aliases/([^/]+)/history)", Role::kReader,
             [&registry](const Request& req, Response& res, const ApiKeyRecord&) {
               auto history = registry.alias_history(req.matches[1].str(), req.matches[2].str());
               if (!history.ok()) return send_error(res, history.error());
               Json list = Json::array();
               for (const auto& change : *history)
                 list.push_back({{"version", change.version ? Json(*change.version) : Json(nullptr)},
                                 {"changed_at", change.changed_at},
                                 {"changed_by", change.changed_by}});
               send_json(res, 200, {{"alias", req.matches[2].str()}, {"history", list}});
             });
}

void install_publisher_key_route(Routes& routes, Registry& registry) {
  routes.get("/api/v1/publisher-key", Role::kReader,
             [&registry](const Request&, Response& res, const ApiKeyRecord&) {
               send_json(res, 200,
                         {{"key_id", registry.publishing_key().key_id()},
                          {"public_key", registry.publishing_key().to_text()}});
             });
}

}  // namespace

bool is_upload_route(const Request& req) {
  static const std::regex upload_path(R"(/(?:repository/)?[^/]+\.zip|/api/v1/models/[^/]+/versions)");
  return (req.method == "PUT" || req.method == "POST") && std::regex_match(req.path, upload_path);
}

Error upload_too_large(std::uint64_t max_upload_bytes) {
  return make_error(ErrorCode::kTooLarge,
                    "upload is larger than the server's limit of " + format_bytes(max_upload_bytes));
}

void install_registry_routes(Routes& routes, Registry& registry, std::uint64_t max_upload_bytes) {
  install_model_routes(routes, registry, max_upload_bytes);
  install_alias_routes(routes, registry);
  install_publisher_key_route(routes, registry);
}

}  // namespace canopy::server
