#include "server/http_api.h"

#include <spdlog/spdlog.h>

#include <regex>

#include "common/hash.h"
#include "common/json.h"
#include "server/http_auth.h"
#include "server/http_json.h"
#include "server/package_response.h"

namespace canopy::server {

namespace {

using httplib::Request;
using httplib::Response;

httplib::Server::HandlerWithContentReader guarded_reader(Registry& registry, Role needed, ReaderHandler handler) {
  return [&registry, needed, handler = std::move(handler)](const Request& req, Response& res,
                                                           const httplib::ContentReader& reader) {
    auto key = authorize(registry, req, needed);
    if (!key.ok()) return send_error(res, key.error());
    handler(req, res, reader, *key);
  };
}

Result<std::int64_t> parse_version_number(const std::string& text) {
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used == text.size() && v > 0) return static_cast<std::int64_t>(v);
  } catch (const std::exception&) {
  }
  return make_error(ErrorCode::kInvalidArgument, "version '" + text + "' must be a positive number");
}

Error upload_too_large(const HttpApiOptions& options) {
  return make_error(ErrorCode::kTooLarge,
                    "upload is larger than the server's limit of " + format_bytes(options.max_upload_bytes));
}

bool is_upload_route(const Request& req) {
  static const std::regex upload_path(R"(/(?:repository/)?[^/]+\.zip|/api/v1/models/[^/]+/versions)");
  return (req.method == "PUT" || req.method == "POST") && std::regex_match(req.path, upload_path);
}

// Streams the request body into a temp file, then hands it to the registry.
void receive_upload(Registry& registry, const HttpApiOptions& options, const Request& req, Response& res,
                    const httplib::ContentReader& reader, const ApiKeyRecord& key,
                    const std::optional<std::string>& expected_name) {
  if (req.get_header_value<std::uint64_t>("Content-Length") > options.max_upload_bytes) {
    // Answer without reading the body; closing is the only way to skip it.
    res.set_header("Connection", "close");
    return send_error(res, upload_too_large(options));
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
    if (received > options.max_upload_bytes) {
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
  if (too_large) return send_error(res, upload_too_large(options));
  if (write_status.ok()) write_status = temp->write(pending);
  if (!write_status.ok()) return send_error(res, write_status.error());
  if (!complete)
    return send_error(res, make_error(ErrorCode::kInvalidArgument,
                                      "upload was cut off before all its bytes arrived; send it again"));
  if (received == 0)
    return send_error(res, make_error(ErrorCode::kInvalidArgument, "upload is empty; send a model package zip"));
  auto published = registry.publish(std::move(*temp), hasher.finish_hex(), expected_name, key.id);
  if (!published.ok()) {
    spdlog::warn("http.upload.rejected path={} key={} reason=\"{}\"", req.path, key.id, published.error().message);
    return send_error(res, published.error());
  }
  Json body = published->version.to_json(false);
  body["created"] = published->created;
  send_json(res, published->created ? 201 : 200, body);
}

void install_model_routes(httplib::Server& http, Registry& registry, const HttpApiOptions& options) {
  // The deploy step MLOps pipelines use as-is: curl -T model.zip "$MODEL_REPOSITORY/model.zip"
  http.Put(R"(/(?:repository/)?([^/]+\.zip))",
           guarded_reader(registry, Role::kPublisher,
                          [&registry, options](const Request& req, Response& res, const httplib::ContentReader& reader,
                                               const ApiKeyRecord& key) {
                            receive_upload(registry, options, req, res, reader, key, std::nullopt);
                          }));
  http.Post(R"(/api/v1/models/([^/]+)/versions)",
            guarded_reader(registry, Role::kPublisher,
                           [&registry, options](const Request& req, Response& res, const httplib::ContentReader& reader,
                                                const ApiKeyRecord& key) {
                             receive_upload(registry, options, req, res, reader, key, req.matches[1].str());
                           }));

  http.Get("/api/v1/models", guarded(registry, Role::kReader, [&registry](const Request& req, Response& res,
                                                                          const ApiKeyRecord&) {
             auto models = registry.list_models(req.get_param_value("q"), req.get_param_value("tag"));
             if (!models.ok()) return send_error(res, models.error());
             Json list = Json::array();
             for (const auto& m : *models) list.push_back(m.to_json());
             send_json(res, 200, {{"models", list}});
           }));

  http.Get(R"(/api/v1/models/([^/]+))",
           guarded(registry, Role::kReader, [&registry](const Request& req, Response& res, const ApiKeyRecord&) {
             auto versions = registry.list_versions(req.matches[1].str());
             if (!versions.ok()) return send_error(res, versions.error());
             Json list = Json::array();
             Json aliases = Json::object();
             for (const auto& v : *versions) {
               list.push_back(v.to_json(false));
               for (const auto& a : v.aliases) aliases[a] = v.version;
             }
             send_json(res, 200, {{"name", req.matches[1].str()}, {"versions", list}, {"aliases", aliases}});
           }));

  http.Get(R"(/api/v1/models/([^/]+)/versions/([^/]+))",
           guarded(registry, Role::kReader, [&registry](const Request& req, Response& res, const ApiKeyRecord&) {
             auto version = registry.resolve(req.matches[1].str(), req.matches[2].str());
             if (!version.ok()) return send_error(res, version.error());
             send_json(res, 200, version->to_json(true));
           }));

  http.Get(R"(/api/v1/models/([^/]+)/versions/([^/]+)/package)",
           guarded(registry, Role::kReader, [&registry](const Request& req, Response& res, const ApiKeyRecord&) {
             auto version = registry.resolve(req.matches[1].str(), req.matches[2].str());
             if (!version.ok()) return send_error(res, version.error());
             serve_package(*version, registry.blob_path(version->blob_sha256), req, res);
           }));

  http.Delete(R"(/api/v1/models/([^/]+)/versions/([^/]+))",
              guarded(registry, Role::kAdmin, [&registry](const Request& req, Response& res, const ApiKeyRecord&) {
                auto number = parse_version_number(req.matches[2].str());
                if (!number.ok()) return send_error(res, number.error());
                Status deleted = registry.delete_version(req.matches[1].str(), *number);
                if (!deleted.ok()) return send_error(res, deleted.error());
                send_json(res, 200, {{"deleted", {{"model", req.matches[1].str()}, {"version", *number}}}});
              }));
}

void install_alias_routes(httplib::Server& http, Registry& registry) {
  http.Get(R"(/api/v1/models/([^/]+)/aliases/([^/]+))",
           guarded(registry, Role::kReader, [&registry](const Request& req, Response& res, const ApiKeyRecord&) {
             auto version = registry.resolve(req.matches[1].str(), "@" + req.matches[2].str());
             if (!version.ok()) return send_error(res, version.error());
             send_json(res, 200, version->to_json(false));
           }));

  http.Put(R"(/api/v1/models/([^/]+)/aliases/([^/]+))",
           guarded(registry, Role::kPublisher, [&registry](const Request& req, Response& res, const ApiKeyRecord& key) {
             auto body = parse_json(req.body, "request body");
             if (!body.ok()) return send_error(res, body.error());
             auto version = json_get<std::int64_t>(*body, "version");
             if (!version.ok()) return send_error(res, version.error().with_context("request body"));
             Status set = registry.set_alias(req.matches[1].str(), req.matches[2].str(), *version, key.id);
             if (!set.ok()) return send_error(res, set.error());
             send_json(res, 200, {{"model", req.matches[1].str()}, {"alias", req.matches[2].str()}, {"version", *version}});
           }));

  http.Delete(R"(/api/v1/models/([^/]+)/aliases/([^/]+))",
              guarded(registry, Role::kPublisher, [&registry](const Request& req, Response& res, const ApiKeyRecord& key) {
                Status removed = registry.remove_alias(req.matches[1].str(), req.matches[2].str(), key.id);
                if (!removed.ok()) return send_error(res, removed.error());
                send_json(res, 200, {{"model", req.matches[1].str()}, {"alias", req.matches[2].str()}, {"removed", true}});
              }));

  http.Get(R"(/api/v1/models/([^/]+)/aliases/([^/]+)/history)",
           guarded(registry, Role::kReader, [&registry](const Request& req, Response& res, const ApiKeyRecord&) {
             auto history = registry.alias_history(req.matches[1].str(), req.matches[2].str());
             if (!history.ok()) return send_error(res, history.error());
             Json list = Json::array();
             for (const auto& change : *history)
               list.push_back({{"version", change.version ? Json(*change.version) : Json(nullptr)},
                               {"changed_at", change.changed_at},
                               {"changed_by", change.changed_by}});
             send_json(res, 200, {{"alias", req.matches[2].str()}, {"history", list}});
           }));
}

Json key_to_json(const ApiKeyRecord& key) {
  return {{"id", key.id}, {"name", key.name}, {"role", role_name(key.role)},
          {"created_at", key.created_at}, {"revoked", key.revoked}};
}

void install_key_routes(httplib::Server& http, Registry& registry) {
  http.Get("/api/v1/keys", guarded(registry, Role::kAdmin, [&registry](const Request&, Response& res, const ApiKeyRecord&) {
             auto guard = registry.lock();
             auto keys = registry.keys().list();
             if (!keys.ok()) return send_error(res, keys.error());
             Json list = Json::array();
             for (const auto& k : *keys) list.push_back(key_to_json(k));
             send_json(res, 200, {{"keys", list}});
           }));

  http.Post("/api/v1/keys", guarded(registry, Role::kAdmin, [&registry](const Request& req, Response& res, const ApiKeyRecord&) {
              auto body = parse_json(req.body, "request body");
              if (!body.ok()) return send_error(res, body.error());
              auto role_text = json_get<std::string>(*body, "role");
              if (!role_text.ok()) return send_error(res, role_text.error().with_context("request body"));
              auto role = parse_role(*role_text);
              if (!role)
                return send_error(res, make_error(ErrorCode::kInvalidArgument,
                                                  "role '" + *role_text + "' must be reader, publisher or admin"));
              auto name = json_get_or<std::string>(*body, "name", "");
              if (!name.ok()) return send_error(res, name.error().with_context("request body"));
              auto guard = registry.lock();
              auto created = registry.keys().create(*role, *name);
              if (!created.ok()) return send_error(res, created.error());
              Json out = key_to_json(created->record);
              out["key"] = created->secret;
              send_json(res, 201, out);
            }));

  http.Delete(R"(/api/v1/keys/([^/]+))",
              guarded(registry, Role::kAdmin, [&registry](const Request& req, Response& res, const ApiKeyRecord&) {
                auto guard = registry.lock();
                Status revoked = registry.keys().revoke(req.matches[1].str());
                if (!revoked.ok()) return send_error(res, revoked.error());
                send_json(res, 200, {{"id", req.matches[1].str()}, {"revoked", true}});
              }));

  http.Get("/api/v1/publisher-key",
           guarded(registry, Role::kReader, [&registry](const Request&, Response& res, const ApiKeyRecord&) {
             send_json(res, 200, {{"key_id", registry.publishing_key().key_id()},
                                  {"public_key", registry.publishing_key().to_text()}});
           }));
}

void install_run_routes(httplib::Server& http, Registry& registry) {
  constexpr size_t kMaxRunBytes = 4 << 20;  // a record of hundreds of steps stays far below this
  http.Post("/api/v1/runs", guarded(registry, Role::kPublisher, [&registry](const Request& req, Response& res,
                                                                             const ApiKeyRecord& key) {
              if (req.body.size() > kMaxRunBytes)
                return send_error(res, make_error(ErrorCode::kTooLarge, "a run record may be at most 4 MiB"));
              auto body = parse_json(req.body, "request body");
              if (!body.ok()) return send_error(res, body.error());
              auto created = registry.put_run(*body, key.id);
              if (!created.ok()) return send_error(res, created.error());
              send_json(res, *created ? 201 : 200,
                        {{"id", (*body)["id"]}, {"status", (*body)["status"]}, {"created", *created}});
            }));

  http.Get("/api/v1/runs", guarded(registry, Role::kReader, [&registry](const Request& req, Response& res,
                                                                         const ApiKeyRecord&) {
             int limit = 50;
             if (req.has_param("limit")) {
               auto parsed = parse_version_number(req.get_param_value("limit"));
               if (!parsed.ok() || *parsed > 1000)
                 return send_error(res, make_error(ErrorCode::kInvalidArgument, "limit must be between 1 and 1000"));
               limit = static_cast<int>(*parsed);
             }
             auto runs = registry.list_runs(limit);
             if (!runs.ok()) return send_error(res, runs.error());
             send_json(res, 200, *runs);
           }));

  http.Get(R"(/api/v1/runs/([^/]+))",
           guarded(registry, Role::kReader, [&registry](const Request& req, Response& res, const ApiKeyRecord&) {
             auto run = registry.get_run(req.matches[1].str());
             if (!run.ok()) return send_error(res, run.error());
             send_json(res, 200, *run);
           }));
}

}  // namespace

void install_http_api(httplib::Server& http, Registry& registry, const HttpApiOptions& options) {
  http.Get("/api/v1/health", [](const Request&, Response& res) { send_json(res, 200, {{"status", "ok"}}); });
  install_model_routes(http, registry, options);
  install_alias_routes(http, registry);
  install_key_routes(http, registry);
  install_run_routes(http, registry);

  // Refuse an upload before its body is sent (curl sends Expect: 100-continue
  // for large bodies), so a bad key or an oversize file costs no transfer.
  http.set_expect_100_continue_handler([&registry, options](const Request& req, Response& res) {
    if (!is_upload_route(req)) return 100;
    auto key = authorize(registry, req, Role::kPublisher);
    if (!key.ok()) {
      send_error(res, key.error());
      return res.status;
    }
    if (req.get_header_value<std::uint64_t>("Content-Length") > options.max_upload_bytes) {
      send_error(res, upload_too_large(options));
      return res.status;
    }
    return 100;
  });
  // Errors httplib produces itself (no route, body over the payload limit) get a JSON body too.
  http.set_error_handler([](const Request&, Response& res) {
    if (!res.body.empty()) return;
    ErrorCode code = res.status == 404   ? ErrorCode::kNotFound
                     : res.status == 413 ? ErrorCode::kTooLarge
                     : res.status >= 500 ? ErrorCode::kInternal
                                         : ErrorCode::kInvalidArgument;
    std::string message = res.status == 404   ? "no such endpoint; see docs/api.md"
                          : res.status == 413 ? "request body is larger than the server's limit"
                                              : "request could not be processed (HTTP " + std::to_string(res.status) + ")";
    send_error(res, make_error(code, message), res.status);
  });
  // A handler bug must still answer in JSON, and be logged.
  http.set_exception_handler([](const Request& req, Response& res, std::exception_ptr error) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("http.exception method={} path={} what=\"{}\"", req.method, req.path, what);
    send_error(res, make_error(ErrorCode::kInternal, "internal error; the server log has details"));
  });
  http.set_payload_max_length(static_cast<size_t>(options.max_upload_bytes));
  http.set_logger([](const Request& req, const Response& res) {
    spdlog::debug("http.request method={} path={} status={}", req.method, req.path, res.status);
  });
}

}  // namespace canopy::server
