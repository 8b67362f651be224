#include "client/fleet_client.h"

#include "client/registry_client.h"
#include "common/text.h"

namespace canopy::client {

namespace {

// The server's answer as a T, or an error saying the answer was not one.
template <typename T>
Result<T> answer_as(const Result<Json>& json) {
  if (!json.ok()) return json.error();
  auto value = T::from_json(*json);
  if (!value.ok()) return value.error().with_context("unexpected server answer");
  return value;
}

template <typename T>
Result<std::vector<T>> list_as(const Result<Json>& json, const char* member) {
  if (!json.ok()) return json.error();
  std::vector<T> out;
  for (const Json& entry : json->value(member, Json::array())) {
    auto value = T::from_json(entry);
    if (!value.ok()) return value.error().with_context("unexpected server answer");
    out.push_back(std::move(*value));
  }
  return out;
}

// "?name=value&..." of the parameters that are not empty; "" when all are.
std::string query_string(std::initializer_list<std::pair<std::string_view, std::string>> parameters) {
  std::string query;
  for (const auto& [name, value] : parameters) {
    if (value.empty()) continue;
    query += query.empty() ? '?' : '&';
    query.append(name).append("=").append(url_segment(value));
  }
  return query;
}

std::string limit_text(int limit) { return limit > 0 ? std::to_string(limit) : ""; }

// Sample ids ("DEVICE/CAMERA/MS") are URL paths as they are.
std::string task_path(const std::string& sample_id) { return "/api/v1/labeling/tasks/" + sample_id; }

}  // namespace

FleetClient::FleetClient(const std::string& server_url, const std::string& api_key, HttpOptions options)
    : http_(server_url, [&] {
        options.headers.push_back("X-API-KEY: " + api_key);
        return options;
      }()) {}

Result<Json> FleetClient::call(const std::string& method, const std::string& path, const Json& body,
                               const std::string& what) {
  auto response =
      method == "GET" ? http_.get(path) : http_.send(method, path, body.dump(), "application/json");
  return parse_answer(response, what);
}

Result<Json> FleetClient::create_enrollment_token(const api::EnrollmentTokenRequest& request) {
  return call("POST", "/api/v1/enrollment-tokens", request.to_json(), "creating an enrollment token");
}

Result<Json> FleetClient::list_enrollment_tokens() {
  return call("GET", "/api/v1/enrollment-tokens", nullptr, "listing enrollment tokens");
}

Result<std::vector<api::DeviceInfo>> FleetClient::list_devices(const std::string& group,
                                                               const std::string& tag,
                                                               std::optional<api::DeviceStatus> status) {
  const std::string status_text = status ? std::string(api::device_status_name(*status)) : "";
  const std::string query = query_string({{"group", group}, {"tag", tag}, {"status", status_text}});
  return list_as<api::DeviceInfo>(call("GET", "/api/v1/devices" + query, nullptr, "listing devices"),
                                  "devices");
}

Result<api::DeviceInfo> FleetClient::show_device(const std::string& id) {
  return answer_as<api::DeviceInfo>(
      call("GET", "/api/v1/devices/" + url_segment(id), nullptr, "showing device " + id));
}

Result<api::DeviceInfo> FleetClient::change_device(const std::string& id, const std::string& operation) {
  return answer_as<api::DeviceInfo>(call("POST", "/api/v1/devices/" + url_segment(id) + "/" + operation,
                                         Json::object(), operation + " of device " + id));
}

Result<api::FieldConfigRecord> FleetClient::set_field_config(const std::string& id, const std::string& text) {
  return answer_as<api::FieldConfigRecord>(parse_answer(
      http_.send("PUT", "/api/v1/devices/" + url_segment(id) + "/field-config", text, "application/yaml"),
      "setting the field configuration of device " + id));
}

Result<api::FieldConfigRecord> FleetClient::field_config(const std::string& id,
                                                         std::optional<std::int64_t> version) {
  const std::string query = query_string({{"version", version ? std::to_string(*version) : ""}});
  return answer_as<api::FieldConfigRecord>(
      call("GET", "/api/v1/devices/" + url_segment(id) + "/field-config" + query, nullptr,
           "reading the field configuration of device " + id));
}

Result<api::DeploymentStatus> FleetClient::create_deployment(const api::DeploymentRequest& request) {
  return answer_as<api::DeploymentStatus>(
      call("POST", "/api/v1/deployments", request.to_json(), "creating a deployment"));
}

Result<std::vector<api::DeploymentStatus>> FleetClient::list_deployments() {
  return list_as<api::DeploymentStatus>(call("GET", "/api/v1/deployments", nullptr, "listing deployments"),
                                        "deployments");
}

Result<api::DeploymentStatus> FleetClient::deployment_status(std::int64_t id) {
  return answer_as<api::DeploymentStatus>(
      call("GET", "/api/v1/deployments/" + std::to_string(id), nullptr, "deployment " + std::to_string(id)));
}

Result<api::DeploymentStatus> FleetClient::control_deployment(std::int64_t id, const std::string& operation) {
  return answer_as<api::DeploymentStatus>(
      call("POST", "/api/v1/deployments/" + std::to_string(id) + "/" + operation, Json::object(),
           operation + " of deployment " + std::to_string(id)));
}

template <typename Body>
Result<std::vector<api::StoredRecord<Body>>> FleetClient::device_records(const std::string& device_id,
                                                                         const std::string& subject,
                                                                         int limit) {
  static constexpr api::RecordKind kind = api::record_kind<Body>();
  const std::string path(kind.path);
  const std::string query =
      query_string({{kind.subject, kind.subject.empty() ? "" : subject}, {"limit", limit_text(limit)}});
  return list_as<api::StoredRecord<Body>>(
      call("GET", "/api/v1/devices/" + url_segment(device_id) + "/" + path + query, nullptr,
           "reading the " + path + " of device " + device_id),
      path.c_str());
}

template Result<std::vector<api::StoredReading>> FleetClient::device_records<api::Reading>(const std::string&,
                                                                                           const std::string&,
                                                                                           int);
template Result<std::vector<api::StoredTelemetry>> FleetClient::device_records<api::Telemetry>(
    const std::string&, const std::string&, int);
template Result<std::vector<api::StoredActuation>> FleetClient::device_records<api::ActuationEvent>(
    const std::string&, const std::string&, int);
template Result<std::vector<api::StoredPlantChange>> FleetClient::device_records<api::PlantChangeEvent>(
    const std::string&, const std::string&, int);

Result<std::vector<api::Alert>> FleetClient::list_alerts(const std::string& device_id,
                                                         const std::string& state, int limit) {
  const std::string query =
      query_string({{"device", device_id}, {"state", state}, {"limit", limit_text(limit)}});
  return list_as<api::Alert>(call("GET", "/api/v1/alerts" + query, nullptr, "listing alerts"), "alerts");
}

Result<api::Alert> FleetClient::ack_alert(std::int64_t id) {
  return answer_as<api::Alert>(call("POST", "/api/v1/alerts/" + std::to_string(id) + "/ack", Json::object(),
                                    "acknowledging alert " + std::to_string(id)));
}

namespace {

// A sample id keeps its slashes in the path (/api/v1/samples/DEVICE/CAMERA/MS).
std::string sample_path(const std::string& id) {
  std::string path = "/api/v1/samples";
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = id.find('/', start);
    path +=
        "/" + url_segment(id.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) return path;
    start = slash + 1;
  }
}

}  // namespace

Result<std::vector<api::StoredSample>> FleetClient::list_samples(const api::SampleQuery& query) {
  std::string text;
  for (const auto& [name, value] : query.to_params())
    text += (text.empty() ? "?" : "&") + name + "=" + url_segment(value);
  return list_as<api::StoredSample>(call("GET", "/api/v1/samples" + text, nullptr, "listing samples"),
                                    "samples");
}

Result<api::StoredSample> FleetClient::show_sample(const std::string& id) {
  return answer_as<api::StoredSample>(call("GET", sample_path(id), nullptr, "showing sample " + id));
}

Result<std::string> FleetClient::sample_image(const std::string& id, bool thumbnail) {
  const std::string what = "fetching the image of sample " + id;
  auto response = http_.get(sample_path(id) + (thumbnail ? "/thumbnail" : "/image"));
  if (!response.ok()) return response.error();
  if (response->status != 200) return http_status_error(*response, what);
  return std::move(response->body);
}

Result<api::SampleStats> FleetClient::sample_stats() {
  return answer_as<api::SampleStats>(
      call("GET", "/api/v1/samples/stats", nullptr, "reading sample statistics"));
}

Result<std::optional<api::LabelTask>> FleetClient::next_task(const api::TaskFilter& filter) {
  CANOPY_ASSIGN_OR_RETURN(Json answer,
                          call("POST", "/api/v1/labeling/next", filter.to_json(), "taking the next task"));
  const Json task = answer.value("task", Json(nullptr));
  if (task.is_null()) return std::optional<api::LabelTask>();
  CANOPY_ASSIGN_OR_RETURN(api::LabelTask parsed, answer_as<api::LabelTask>(task));
  return std::optional<api::LabelTask>(std::move(parsed));
}

Result<api::LabelTask> FleetClient::submit_labels(const std::string& sample_id,
                                                  const api::LabelSubmission& submission) {
  return answer_as<api::LabelTask>(call("POST", task_path(sample_id) + "/submit", submission.to_json(),
                                        "submitting the labels of " + sample_id));
}

Result<api::LabelTask> FleetClient::skip_task(const std::string& sample_id) {
  return answer_as<api::LabelTask>(
      call("POST", task_path(sample_id) + "/skip", Json::object(), "skipping " + sample_id));
}

Result<std::vector<api::LabelRevision>> FleetClient::task_revisions(const std::string& sample_id) {
  return list_as<api::LabelRevision>(
      call("GET", task_path(sample_id) + "/revisions", nullptr, "reading the revisions of " + sample_id),
      "revisions");
}

Result<api::LabelingStats> FleetClient::labeling_stats() {
  return answer_as<api::LabelingStats>(
      call("GET", "/api/v1/labeling/stats", nullptr, "reading labeling statistics"));
}

Result<api::DatasetVersion> FleetClient::create_dataset_version(const std::string& name,
                                                                const api::DatasetVersionRequest& request) {
  return answer_as<api::DatasetVersion>(call("POST", "/api/v1/datasets/" + url_segment(name) + "/versions",
                                             request.to_json(), "creating a version of dataset " + name));
}

Result<std::vector<api::DatasetVersion>> FleetClient::list_dataset_versions(const std::string& name) {
  return list_as<api::DatasetVersion>(
      call("GET", "/api/v1/datasets" + query_string({{"name", name}}), nullptr, "listing dataset versions"),
      "versions");
}

Result<api::DatasetVersion> FleetClient::dataset_version(const std::string& name, std::int64_t version) {
  return answer_as<api::DatasetVersion>(
      call("GET", "/api/v1/datasets/" + url_segment(name) + "/versions/" + std::to_string(version), nullptr,
           "reading dataset version " + name + ":" + std::to_string(version)));
}

Result<Json> FleetClient::add_user(const std::string& name, const std::string& role,
                                   const std::string& password) {
  return call("POST", "/api/v1/users", {{"name", name}, {"role", role}, {"password", password}},
              "adding user " + name);
}

Result<Json> FleetClient::list_users() { return call("GET", "/api/v1/users", nullptr, "listing users"); }

Result<Json> FleetClient::remove_user(const std::string& name) {
  return call("DELETE", "/api/v1/users/" + url_segment(name), nullptr, "removing user " + name);
}

Result<Json> FleetClient::update_user(const std::string& name, const std::string& role,
                                      const std::string& password) {
  Json body = Json::object();
  if (!role.empty()) body["role"] = role;
  if (!password.empty()) body["password"] = password;
  return call("PATCH", "/api/v1/users/" + url_segment(name), body, "changing user " + name);
}

Status FleetClient::put_dataset_image(const std::string& sha256, const std::string& bytes) {
  auto response = http_.send("PUT", "/api/v1/datasets/images/" + sha256, bytes, "application/octet-stream");
  if (!response.ok()) return response.error();
  if (response->status != 200) return http_status_error(*response, "importing image " + sha256);
  return {};
}

Result<api::DatasetVersion> FleetClient::import_dataset_version(const std::string& name,
                                                                const std::vector<std::string>& labels,
                                                                const std::vector<api::DatasetItem>& items) {
  Json rows = Json::array();
  for (const api::DatasetItem& item : items) rows.push_back(item.to_json());
  return answer_as<api::DatasetVersion>(call("POST", "/api/v1/datasets/" + url_segment(name) + "/imports",
                                             {{"labels", labels}, {"items", rows}},
                                             "importing dataset " + name));
}

Result<std::string> FleetClient::dataset_image(const std::string& sha256) {
  auto response = http_.get("/api/v1/datasets/images/" + sha256);
  if (!response.ok()) return response.error();
  if (response->status != 200) return http_status_error(*response, "fetching image " + sha256);
  return std::move(response->body);
}

Result<std::optional<api::JobLease>> FleetClient::claim_job(const std::string& worker) {
  auto response =
      http_.send("POST", "/api/v1/retrain/jobs/claim", Json{{"worker", worker}}.dump(), "application/json");
  if (response.ok() && response->status == 204) return std::optional<api::JobLease>();
  CANOPY_ASSIGN_OR_RETURN(api::JobLease lease,
                          answer_as<api::JobLease>(parse_answer(response, "claiming a retrain job")));
  return std::optional<api::JobLease>(std::move(lease));
}

Result<api::JobLease> FleetClient::job_heartbeat(std::int64_t id, const std::string& worker,
                                                 const std::string& progress) {
  return answer_as<api::JobLease>(call("POST", "/api/v1/retrain/jobs/" + std::to_string(id) + "/heartbeat",
                                       {{"worker", worker}, {"progress", progress}},
                                       "renewing the lease of retrain job " + std::to_string(id)));
}

Result<api::RetrainJob> FleetClient::complete_job(std::int64_t id, const api::JobOutcome& outcome) {
  return answer_as<api::RetrainJob>(call("POST", "/api/v1/retrain/jobs/" + std::to_string(id) + "/complete",
                                         outcome.to_json(),
                                         "reporting the end of retrain job " + std::to_string(id)));
}

Result<api::RetrainPolicy> FleetClient::set_retrain_policy(const api::RetrainPolicy& policy) {
  return answer_as<api::RetrainPolicy>(call("PUT", "/api/v1/retrain/policies/" + url_segment(policy.model),
                                            policy.to_json(),
                                            "setting the retrain policy of " + policy.model));
}

Result<Json> FleetClient::retrain_policy(const std::string& model) {
  return call("GET", "/api/v1/retrain/policies/" + url_segment(model), nullptr,
              "reading the retrain policy of " + model);
}

Result<std::vector<api::RetrainJob>> FleetClient::list_jobs(const std::string& model,
                                                            const std::string& state) {
  return list_as<api::RetrainJob>(
      call("GET", "/api/v1/retrain/jobs" + query_string({{"model", model}, {"state", state}}), nullptr,
           "listing retrain jobs"),
      "jobs");
}

Result<api::RetrainJob> FleetClient::job(std::int64_t id) {
  return answer_as<api::RetrainJob>(call("GET", "/api/v1/retrain/jobs/" + std::to_string(id), nullptr,
                                         "reading retrain job " + std::to_string(id)));
}

Result<api::RetrainJob> FleetClient::request_job(const std::string& model) {
  return answer_as<api::RetrainJob>(
      call("POST", "/api/v1/retrain/jobs", {{"model", model}}, "asking for a retrain job of " + model));
}

Result<api::RetrainJob> FleetClient::control_job(std::int64_t id, const std::string& operation) {
  return answer_as<api::RetrainJob>(call("POST",
                                         "/api/v1/retrain/jobs/" + std::to_string(id) + "/" + operation,
                                         Json::object(), operation + " retrain job " + std::to_string(id)));
}

Result<Json> FleetClient::drift(bool all_alerts) {
  return call("GET", std::string("/api/v1/drift") + (all_alerts ? "?alerts=all" : ""), nullptr,
              "reading the drift monitor");
}

Result<Json> FleetClient::lineage_of_version(const std::string& model, std::int64_t version) {
  return call("GET", "/api/v1/lineage/models/" + url_segment(model) + "/versions/" + std::to_string(version),
              nullptr, "reading the lineage of " + model + ":" + std::to_string(version));
}

Result<Json> FleetClient::lineage_of_sample(const std::string& sample_id) {
  // Sample ids are paths ("DEVICE/CAMERA/MS", "import/NAME/FILE"): their slashes stay.
  std::string path = "/api/v1/lineage/samples";
  for (const std::string& segment : split(sample_id, '/')) path += "/" + url_segment(segment);
  return call("GET", path, nullptr, "reading the lineage of sample " + sample_id);
}

}  // namespace canopy::client
