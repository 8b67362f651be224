// A client for the fleet's admin and operator API (docs/fleet.md): enrollment
// tokens, devices, their field configurations and deployments, and what
// devices sent from the field (docs/field.md): their records, alerts and
// samples, authenticated by API key. Calls take and return the api library's types; an
// Error carries the server's one-line explanation.
// Thread-safety: one FleetClient per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/datasets.h"
#include "api/deployment.h"
#include "api/device.h"
#include "api/field_data.h"
#include "api/labeling.h"
#include "api/retrain.h"
#include "api/samples.h"
#include "common/error.h"
#include "common/http_client.h"
#include "common/json.h"

namespace canopy::client {

class FleetClient {
 public:
  FleetClient(const std::string& server_url, const std::string& api_key, HttpOptions options = {});

  // The token record with its secret ("token"), shown once.
  Result<Json> create_enrollment_token(const api::EnrollmentTokenRequest& request);
  Result<Json> list_enrollment_tokens();

  // Empty filters are left out; `tag` is "key:value" or "key".
  Result<std::vector<api::DeviceInfo>> list_devices(const std::string& group, const std::string& tag,
                                                    std::optional<api::DeviceStatus> status);
  Result<api::DeviceInfo> show_device(const std::string& id);
  // `operation` is approve, revoke or decommission.
  Result<api::DeviceInfo> change_device(const std::string& id, const std::string& operation);

  // Stores `text` (YAML) as the device's next field configuration; the
  // answer has no text.
  Result<api::FieldConfigRecord> set_field_config(const std::string& id, const std::string& text);
  // The newest version, or `version`, with its text.
  Result<api::FieldConfigRecord> field_config(const std::string& id, std::optional<std::int64_t> version);

  Result<api::DeploymentStatus> create_deployment(const api::DeploymentRequest& request);
  Result<std::vector<api::DeploymentStatus>> list_deployments();
  Result<api::DeploymentStatus> deployment_status(std::int64_t id);
  // `operation` is pause, resume, abort or rollback.
  Result<api::DeploymentStatus> control_deployment(std::int64_t id, const std::string& operation);

  // A device's stored records of Body's stream (api::RecordKind), newest
  // first. `subject` filters by sensor or zone where the stream has one;
  // empty matches all. A `limit` of 0 takes the server's default.
  template <typename Body>
  Result<std::vector<api::StoredRecord<Body>>> device_records(const std::string& device_id,
                                                              const std::string& subject, int limit);
  // Alerts, newest first; empty filters match all, `state` is open, acked,
  // cleared or all.
  Result<std::vector<api::Alert>> list_alerts(const std::string& device_id, const std::string& state,
                                              int limit);
  Result<api::Alert> ack_alert(std::int64_t id);

  // The samples devices kept (docs/samples.md).
  Result<std::vector<api::StoredSample>> list_samples(const api::SampleQuery& query);
  Result<api::StoredSample> show_sample(const std::string& id);
  // The sample's JPEG, or its thumbnail.
  Result<std::string> sample_image(const std::string& id, bool thumbnail = false);
  Result<api::SampleStats> sample_stats();

  // The labeling queue (docs/labeling.md): the caller's next task (nullopt
  // when none waits), submitting boxes, a task's revisions, the statistics.
  Result<std::optional<api::LabelTask>> next_task(const api::TaskFilter& filter);
  Result<api::LabelTask> submit_labels(const std::string& sample_id, const api::LabelSubmission& submission);
  Result<api::LabelTask> skip_task(const std::string& sample_id);
  Result<std::vector<api::LabelRevision>> task_revisions(const std::string& sample_id);
  Result<api::LabelingStats> labeling_stats();

  // The closed loop (docs/loop.md). As a worker: claim the oldest queued
  // retrain job (nullopt when none waits), renew its lease, report its end.
  Result<std::optional<api::JobLease>> claim_job(const std::string& worker);
  Result<api::JobLease> job_heartbeat(std::int64_t id, const std::string& worker,
                                      const std::string& progress);
  Result<api::RetrainJob> complete_job(std::int64_t id, const api::JobOutcome& outcome);
  // As a person: policies, jobs and what to do with them, drift, lineage.
  Result<api::RetrainPolicy> set_retrain_policy(const api::RetrainPolicy& policy);
  Result<Json> retrain_policy(const std::string& model);  // {"policy", "decision"}
  Result<std::vector<api::RetrainJob>> list_jobs(const std::string& model, const std::string& state);
  Result<api::RetrainJob> job(std::int64_t id);
  Result<api::RetrainJob> request_job(const std::string& model);
  // `operation` is cancel, approve or decline.
  Result<api::RetrainJob> control_job(std::int64_t id, const std::string& operation);
  Result<Json> drift(bool all_alerts);  // {"reports", "alerts"}
  Result<Json> lineage_of_version(const std::string& model, std::int64_t version);
  Result<Json> lineage_of_sample(const std::string& sample_id);

  // Dataset versions (docs/labeling.md, "Datasets").
  Result<api::DatasetVersion> create_dataset_version(const std::string& name,
                                                     const api::DatasetVersionRequest& request);
  // Every version of `name` (empty: all), newest first, without items.
  Result<std::vector<api::DatasetVersion>> list_dataset_versions(const std::string& name);
  // One version with its items.
  Result<api::DatasetVersion> dataset_version(const std::string& name, std::int64_t version);
  // A dataset made elsewhere, imported: each image (PUT once, by its
  // SHA-256), then the version of exactly `items`.
  Status put_dataset_image(const std::string& sha256, const std::string& bytes);
  Result<api::DatasetVersion> import_dataset_version(const std::string& name,
                                                     const std::vector<std::string>& labels,
                                                     const std::vector<api::DatasetItem>& items);
  // An image of a version's item by its SHA-256 (imported, or a sample's).
  Result<std::string> dataset_image(const std::string& sha256);

  // People's accounts for the web pages (admin).
  Result<Json> add_user(const std::string& name, const std::string& role, const std::string& password);
  Result<Json> list_users();
  Result<Json> remove_user(const std::string& name);
  // A new role and/or password (empty: unchanged).
  Result<Json> update_user(const std::string& name, const std::string& role, const std::string& password);

 private:
  Result<Json> call(const std::string& method, const std::string& path, const Json& body,
                    const std::string& what);
  HttpClient http_;
};

}  // namespace canopy::client
