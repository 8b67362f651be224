// The samples routes (docs/samples.md, "On the server"): operators list,
// show and pull the samples devices kept, and read the store's statistics,
// with an API key of any role. Sample ids ("DEVICE/CAMERA/MS") hold slashes
// and nothing a URL path has to escape, so they are the path itself.
#include "server/http/middleware.h"
#include "server/http/routes.h"

namespace canopy::server {

namespace {

using httplib::Request;
using httplib::Response;

// The latest "shadow.agreement" each device reported with its telemetry.
std::map<std::string, double> shadow_agreement(FieldData& field_data, const api::SampleStats& stats) {
  std::map<std::string, double> agreement;
  for (const auto& [device_id, count] : stats.by_device) {
    auto telemetry = field_data.records<api::Telemetry>(device_id, RecordQuery{"", 0, 200});
    if (!telemetry.ok()) continue;
    for (const auto& record : *telemetry) {
      const auto found = record.body.values.find("shadow.agreement");
      if (found == record.body.values.end()) continue;
      agreement[device_id] = found->second;
      break;
    }
  }
  return agreement;
}

}  // namespace

void install_samples_routes(Routes& routes, SampleStore& samples, FieldData& field_data) {
  routes.get("/api/v1/samples", Role::kReader,
             [&samples](const Request& req, Response& res, const ApiKeyRecord&) {
               std::map<std::string, std::string> params;
               for (const auto& [name, value] : req.params) params[name] = value;
               auto query = api::SampleQuery::from_params(params);
               if (!query.ok()) return send_error(res, query.error());
               auto found = samples.list(*query);
               if (!found.ok()) return send_error(res, found.error());
               Json rows = Json::array();
               for (const api::StoredSample& sample : *found) rows.push_back(sample.to_json());
               send_json(res, 200, {{"samples", rows}});
             });

  // Before the id routes: "stats" is no sample id (an id has two slashes).
  routes.get("/api/v1/samples/stats", Role::kReader,
             [&samples, &field_data](const Request&, Response& res, const ApiKeyRecord&) {
               auto stats = samples.stats();
               if (!stats.ok()) return send_error(res, stats.error());
               stats->shadow_agreement = shadow_agreement(field_data, *stats);
               send_json(res, 200, stats->to_json());
             });

  routes.get(R"(/api/v1/samples/([^/]+/[^/]+/[0-9]+)/(image|thumbnail))", Role::kReader,
             [&samples](const Request& req, Response& res, const ApiKeyRecord&) {
               auto jpeg = samples.image(req.matches[1].str(), req.matches[2].str() == "thumbnail");
               if (!jpeg.ok()) return send_error(res, jpeg.error());
               res.set_header("Cache-Control", "private, max-age=86400, immutable");
               res.set_content(std::move(*jpeg), "image/jpeg");
             });

  routes.get(R"(/api/v1/samples/([^/]+/[^/]+/[0-9]+))", Role::kReader,
             [&samples](const Request& req, Response& res, const ApiKeyRecord&) {
               auto sample = samples.get(req.matches[1].str());
               if (!sample.ok()) return send_error(res, sample.error());
               send_json(res, 200, sample->to_json());
             });
}

}  // namespace canopy::server
