// The field data routes (docs/field.md, "On the server"): devices post their
// outbox's record batches with their device token; operators read a device's
// readings, telemetry, irrigation and plant changes and list and acknowledge
// alerts with an API key. Who a device is, and whether it exists, is the
// fleet's to say; the records are the field data area's.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/http/middleware.h"
#include "server/http/routes.h"

namespace canopy::server {

namespace {

using httplib::Request;
using httplib::Response;

// 1000 records of sensor data are far less; a batch with frames in it is
// cut to this size by the device.
constexpr std::size_t kMaxBatchBytes = 16u << 20;

Result<int> read_limit(const Request& req) {
  CANOPY_ASSIGN_OR_RETURN(std::int64_t limit,
                          number_param(req, "limit", api::kDefaultRowsPerRead, api::kMaxRowsPerRead));
  return static_cast<int>(limit);
}

// kNotFound for a device the fleet does not know, so a misspelt id is not
// answered with an empty list.
Status check_device(Fleet& fleet, const std::string& device_id) {
  auto device = fleet.show_device(device_id);
  if (!device.ok()) return device.error();
  return {};
}

// GET /api/v1/devices/{id}/PATH for Body's records (api::record_kind).
template <typename Body>
void install_records_route(Routes& routes, Fleet& fleet, FieldData& field_data) {
  static constexpr api::RecordKind kind = api::record_kind<Body>();
  routes.get(R"(/api/v1/devices/([^/]+)/)" + std::string(kind.path), Role::kReader,
             [&fleet, &field_data](const Request& req, Response& res, const ApiKeyRecord&) {
               const std::string device_id = req.matches[1].str();
               RecordQuery query;
               if (!kind.subject.empty()) query.subject = req.get_param_value(std::string(kind.subject));
               auto limit = read_limit(req);
               if (!limit.ok()) return send_error(res, limit.error());
               query.limit = *limit;
               if (req.has_param("since_ms")) {
                 auto since = positive_number(req.get_param_value("since_ms"), "since_ms");
                 if (!since.ok()) return send_error(res, since.error());
                 query.since_ms = *since;
               }
               Status known = check_device(fleet, device_id);
               if (!known.ok()) return send_error(res, known.error());
               auto records = field_data.records<Body>(device_id, query);
               if (!records.ok()) return send_error(res, records.error());
               Json rows = Json::array();
               for (const auto& record : *records) rows.push_back(record.to_json());
               send_json(res, 200, {{std::string(kind.path), rows}});
             });
}

}  // namespace

void install_field_data_routes(Routes& routes, Fleet& fleet, FieldData& field_data, SampleStore& samples,
                               DriftMonitor& drift) {
  routes.post_streamed(
      "/api/v1/device/records", kDeviceToken,
      [&fleet, &field_data, &samples, &drift](const Request& req, Response& res,
                                              const httplib::ContentReader& reader,
                                              const std::string& device_id) {
        auto body = read_json_body(req, reader, res, kMaxBatchBytes);
        if (!body.ok()) return send_error(res, body.error());
        auto batch = api::RecordBatch::from_json(*body);
        if (!batch.ok()) return send_error(res, batch.error());
        // Samples go to the sample store, checked before anything of
        // the batch is stored: a bad one refuses the batch (the device
        // then sends it record by record and drops the bad one).
        api::RecordBatch field_records;
        std::vector<api::Sample> sampled;
        std::int64_t last_sample_seq = 0;
        for (api::DeviceRecord& record : batch->records) {
          if (record.stream != api::Stream::kSamples) {
            field_records.records.push_back(std::move(record));
            continue;
          }
          auto sample = api::Sample::from_json(record.body);
          if (!sample.ok()) return send_error(res, sample.error());
          sampled.push_back(std::move(*sample));
          last_sample_seq = std::max(last_sample_seq, record.seq);
        }
        if (!sampled.empty()) {
          Status kept = samples.ingest(device_id, sampled);
          if (!kept.ok()) return send_error(res, kept.error());
          samples.prune_if_due();
        }
        std::vector<const api::DeviceRecord*> fresh;
        auto ack = field_data.store(device_id, field_records, &fresh);
        if (!ack.ok()) return send_error(res, ack.error());
        // The drift monitor counts each telemetry period once; a
        // measure, so a failure is logged and the batch still acked.
        for (const api::DeviceRecord* record : fresh) {
          if (record->stream != api::Stream::kTelemetry) continue;
          auto telemetry = api::Telemetry::from_json(record->body);
          Status observed = telemetry.ok() ? drift.observe(*telemetry, record->at_ms) : telemetry.error();
          if (!observed.ok())
            spdlog::warn("drift.not_observed device={} error=\"{}\"", device_id, observed.error().message);
        }
        if (last_sample_seq > 0) ack->acked[api::Stream::kSamples] = last_sample_seq;
        fleet.mark_seen(device_id);
        send_json(res, 200, ack->to_json());
      });

  install_records_route<api::Reading>(routes, fleet, field_data);
  install_records_route<api::Telemetry>(routes, fleet, field_data);
  install_records_route<api::ActuationEvent>(routes, fleet, field_data);
  install_records_route<api::PlantChangeEvent>(routes, fleet, field_data);

  routes.get("/api/v1/alerts", Role::kReader,
             [&fleet, &field_data](const Request& req, Response& res, const ApiKeyRecord&) {
               AlertQuery query;
               const std::string state = req.get_param_value("state");
               if (!state.empty() && state != "all") {
                 query.state = api::parse_alert_state(state);
                 if (!query.state)
                   return send_error(res,
                                     make_error(ErrorCode::kInvalidArgument,
                                                "state '" + state + "' must be open, acked, cleared or all"));
               }
               auto limit = read_limit(req);
               if (!limit.ok()) return send_error(res, limit.error());
               query.limit = *limit;
               query.device_id = req.get_param_value("device");
               if (!query.device_id.empty()) {
                 Status known = check_device(fleet, query.device_id);
                 if (!known.ok()) return send_error(res, known.error());
               }
               auto alerts = field_data.alerts(query);
               if (!alerts.ok()) return send_error(res, alerts.error());
               Json rows = Json::array();
               for (const api::Alert& alert : *alerts) rows.push_back(alert.to_json());
               send_json(res, 200, {{"alerts", rows}});
             });

  // Acknowledging is a change to the fleet's state, like controlling a
  // deployment: publisher, as that is (operators and admins pass too).
  routes.post(R"(/api/v1/alerts/([^/]+)/ack)", Role::kPublisher,
              [&field_data](const Request& req, Response& res, const ApiKeyRecord& key) {
                auto id = positive_number(req.matches[1].str(), "alert id");
                if (!id.ok()) return send_error(res, id.error());
                auto alert = field_data.ack_alert(*id, key.display_name());
                if (!alert.ok()) return send_error(res, alert.error());
                send_json(res, 200, alert->to_json());
              });
}

}  // namespace canopy::server
