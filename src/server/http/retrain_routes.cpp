// The closed loop's routes (docs/loop.md, docs/api.md): retrain policies,
// jobs and the workers' leases, drift reports and alerts, lineage.
#include "common/time.h"
#include "server/http/middleware.h"
#include "server/http/routes.h"

namespace canopy::server {

namespace {

using httplib::Request;
using httplib::Response;

constexpr std::size_t kMaxRequestBody = 64 << 10;
constexpr std::int64_t kMaxHistoryHours = 24 * 90;  // a season, 2,160 points

Json jobs_json(const std::vector<api::RetrainJob>& jobs) {
  Json rows = Json::array();
  for (const api::RetrainJob& job : jobs) rows.push_back(job.to_json());
  return rows;
}

// A worker names itself in every call; the name holds the lease.
Result<std::string> worker_of(const Json& body) {
  auto worker = json_get<std::string>(body, "worker");
  if (!worker.ok() || worker->empty() || worker->size() > 128)
    return make_error(ErrorCode::kInvalidArgument, "field 'worker' must name the worker (1-128 characters)");
  return *worker;
}

// POST /api/v1/retrain/jobs/{id}/OPERATION for a person or a worker.
using JobOperation =
    std::function<Result<api::RetrainJob>(std::int64_t id, const Json& body, const std::string& actor)>;

Handler job_operation(JobOperation operation) {
  return [operation = std::move(operation)](const Request& req, Response& res, const ApiKeyRecord& caller) {
    auto id = positive_number(req.matches[1].str(), "job");
    if (!id.ok()) return send_error(res, id.error());
    auto body = optional_json_body(req, kMaxRequestBody);
    if (!body.ok()) return send_error(res, body.error());
    auto job = operation(*id, *body, caller.display_name());
    if (!job.ok()) return send_error(res, job.error());
    send_json(res, 200, job->to_json());
  };
}

}  // namespace

void install_retrain_routes(Routes& routes, RetrainJobs& jobs, DriftMonitor& drift) {
  routes.get("/api/v1/retrain/policies", Role::kReader,
             [&jobs](const Request&, Response& res, const ApiKeyRecord&) {
               auto policies = jobs.policies();
               if (!policies.ok()) return send_error(res, policies.error());
               Json rows = Json::array();
               for (const api::RetrainPolicy& policy : *policies) rows.push_back(policy.to_json());
               send_json(res, 200, {{"policies", rows}});
             });

  // A policy with what it says now (and the job it queues, if it does).
  routes.get(R"(/api/v1/retrain/policies/([^/]+))", Role::kReader,
             [&jobs](const Request& req, Response& res, const ApiKeyRecord&) {
               auto policy = jobs.policy(req.matches[1].str());
               if (!policy.ok()) return send_error(res, policy.error());
               auto decision = jobs.evaluate(policy->model);
               if (!decision.ok()) return send_error(res, decision.error());
               send_json(res, 200, {{"policy", policy->to_json()}, {"decision", decision->reason}});
             });

  routes.put(R"(/api/v1/retrain/policies/([^/]+))", Role::kAdmin,
             [&jobs](const Request& req, Response& res, const ApiKeyRecord&) {
               auto body = optional_json_body(req, kMaxRequestBody);
               if (!body.ok()) return send_error(res, body.error());
               (*body)["model"] = req.matches[1].str();
               auto policy = api::RetrainPolicy::from_json(*body);
               if (!policy.ok()) return send_error(res, policy.error());
               auto set = jobs.set_policy(*policy);
               if (!set.ok()) return send_error(res, set.error());
               send_json(res, 200, set->to_json());
             });

  routes.del(R"(/api/v1/retrain/policies/([^/]+))", Role::kAdmin,
             [&jobs](const Request& req, Response& res, const ApiKeyRecord&) {
               Status removed = jobs.remove_policy(req.matches[1].str());
               if (!removed.ok()) return send_error(res, removed.error());
               res.status = 204;
             });

  routes.get("/api/v1/retrain/jobs", Role::kReader,
             [&jobs](const Request& req, Response& res, const ApiKeyRecord&) {
               // Reading the loop moves it on: policies evaluated, promotions followed.
               Status evaluated = jobs.evaluate_all();
               if (!evaluated.ok()) return send_error(res, evaluated.error());
               JobQuery query{req.get_param_value("model"), req.get_param_value("state"), 100};
               if (req.has_param("limit")) {
                 auto limit = positive_number(req.get_param_value("limit"), "limit");
                 if (!limit.ok()) return send_error(res, limit.error());
                 query.limit = static_cast<int>(std::min<std::int64_t>(*limit, 1000));
               }
               auto found = jobs.jobs(query);
               if (!found.ok()) return send_error(res, found.error());
               send_json(res, 200, {{"jobs", jobs_json(*found)}});
             });

  routes.post("/api/v1/retrain/jobs", Role::kPublisher,
              [&jobs](const Request& req, Response& res, const ApiKeyRecord& caller) {
                auto body = optional_json_body(req, kMaxRequestBody);
                if (!body.ok()) return send_error(res, body.error());
                auto model = json_get<std::string>(*body, "model");
                if (!model.ok())
                  return send_error(res, make_error(ErrorCode::kInvalidArgument, "field 'model' is missing"));
                auto job = jobs.request(*model, caller.display_name());
                if (!job.ok()) return send_error(res, job.error());
                send_json(res, 201, job->to_json());
              });

  // Before /jobs/{id}: "claim" is not a number.
  routes.post("/api/v1/retrain/jobs/claim", Role::kPublisher,
              [&jobs](const Request& req, Response& res, const ApiKeyRecord&) {
                auto body = optional_json_body(req, kMaxRequestBody);
                if (!body.ok()) return send_error(res, body.error());
                auto worker = worker_of(*body);
                if (!worker.ok()) return send_error(res, worker.error());
                auto lease = jobs.claim(*worker);
                if (!lease.ok()) return send_error(res, lease.error());
                if (!*lease) {
                  res.status = 204;
                  return;
                }
                send_json(res, 200, (*lease)->to_json());
              });

  routes.get(R"(/api/v1/retrain/jobs/([0-9]+))", Role::kReader,
             [&jobs](const Request& req, Response& res, const ApiKeyRecord&) {
               auto id = positive_number(req.matches[1].str(), "job");
               if (!id.ok()) return send_error(res, id.error());
               auto job = jobs.job(*id);
               if (!job.ok()) return send_error(res, job.error());
               send_json(res, 200, job->to_json());
             });

  routes.post(R"(/api/v1/retrain/jobs/([0-9]+)/heartbeat)", Role::kPublisher,
              [&jobs](const Request& req, Response& res, const ApiKeyRecord&) {
                auto id = positive_number(req.matches[1].str(), "job");
                if (!id.ok()) return send_error(res, id.error());
                auto body = optional_json_body(req, kMaxRequestBody);
                if (!body.ok()) return send_error(res, body.error());
                auto worker = worker_of(*body);
                if (!worker.ok()) return send_error(res, worker.error());
                auto lease = jobs.heartbeat(*id, *worker, body->value("progress", std::string()));
                if (!lease.ok()) return send_error(res, lease.error());
                send_json(res, 200, lease->to_json());
              });

  routes.post(R"(/api/v1/retrain/jobs/([0-9]+)/complete)", Role::kPublisher,
              job_operation(
                  [&jobs](std::int64_t id, const Json& body, const std::string&) -> Result<api::RetrainJob> {
                    CANOPY_ASSIGN_OR_RETURN(api::JobOutcome outcome, api::JobOutcome::from_json(body));
                    return jobs.complete(id, outcome);
                  }));
  routes.post(R"(/api/v1/retrain/jobs/([0-9]+)/cancel)", Role::kPublisher,
              job_operation([&jobs](std::int64_t id, const Json&, const std::string& actor) {
                return jobs.cancel(id, actor);
              }));
  routes.post(R"(/api/v1/retrain/jobs/([0-9]+)/approve)", Role::kPublisher,
              job_operation([&jobs](std::int64_t id, const Json&, const std::string& actor) {
                return jobs.approve(id, actor);
              }));
  routes.post(R"(/api/v1/retrain/jobs/([0-9]+)/decline)", Role::kPublisher,
              job_operation([&jobs](std::int64_t id, const Json&, const std::string& actor) {
                return jobs.decline(id, actor);
              }));

  routes.get("/api/v1/drift", Role::kReader,
             [&drift](const Request& req, Response& res, const ApiKeyRecord&) {
               auto reports = drift.evaluate();
               if (!reports.ok()) return send_error(res, reports.error());
               auto alerts = drift.alerts(req.get_param_value("alerts") != "all");
               if (!alerts.ok()) return send_error(res, alerts.error());
               Json report_rows = Json::array(), alert_rows = Json::array();
               for (const api::DriftReport& report : *reports) report_rows.push_back(report.to_json());
               for (const api::DriftAlert& alert : *alerts) alert_rows.push_back(alert.to_json());
               send_json(res, 200, {{"reports", report_rows}, {"alerts", alert_rows}});
             });

  // One version's measures in one field, hour by hour, for a chart.
  routes.get("/api/v1/drift/history", Role::kReader,
             [&drift](const Request& req, Response& res, const ApiKeyRecord&) {
               const std::string model = req.get_param_value("model"), field = req.get_param_value("field");
               if (model.empty() || !req.has_param("field"))
                 return send_error(res,
                                   make_error(ErrorCode::kInvalidArgument,
                                              "parameters 'model' (NAME:VERSION) and 'field' are required"));
               auto hours = number_param(req, "hours", 168, kMaxHistoryHours);
               if (!hours.ok()) return send_error(res, hours.error());
               auto history = drift.history(model, field, *hours * 3'600'000);
               if (!history.ok()) return send_error(res, history.error());
               Json points = Json::array();
               for (const DriftPoint& point : history->points) {
                 Json row = {{"hour", format_utc(point.hour_ms)}, {"detections", point.detections}};
                 for (const api::DriftMeasure& measure : point.measures)
                   row[measure.name] = measure.value ? Json(*measure.value) : Json();
                 points.push_back(std::move(row));
               }
               Json thresholds = Json::object();
               if (!history->points.empty())
                 for (const api::DriftMeasure& measure : history->points.front().measures)
                   thresholds[measure.name] = measure.threshold;
               send_json(res, 200,
                         {{"model", model},
                          {"field", field},
                          {"window_s", history->window_ms / 1000},
                          {"reference_from", format_utc(history->reference_from_ms)},
                          {"thresholds", thresholds},
                          {"points", points}});
             });

  routes.get(R"(/api/v1/lineage/models/([^/]+)/versions/([0-9]+))", Role::kReader,
             [&jobs](const Request& req, Response& res, const ApiKeyRecord&) {
               auto version = positive_number(req.matches[2].str(), "version");
               if (!version.ok()) return send_error(res, version.error());
               auto lineage = jobs.lineage_of_version(req.matches[1].str(), *version);
               if (!lineage.ok()) return send_error(res, lineage.error());
               send_json(res, 200, *lineage);
             });

  routes.get(R"(/api/v1/lineage/samples/(.+))", Role::kReader,
             [&jobs](const Request& req, Response& res, const ApiKeyRecord&) {
               auto lineage = jobs.lineage_of_sample(req.matches[1].str());
               if (!lineage.ok()) return send_error(res, lineage.error());
               send_json(res, 200, *lineage);
             });
}

}  // namespace canopy::server
