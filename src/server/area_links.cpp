#include "server/area_links.h"

namespace canopy::server {

namespace {

PackageRef package_of(const VersionRecord& record) {
  return PackageRef{{record.model, record.version}, record.blob_sha256, record.size_bytes};
}

}  // namespace

Result<PackageRef> RegistryCatalog::resolve(const api::ModelSelector& selector) {
  CANOPY_ASSIGN_OR_RETURN(VersionRecord record, registry_.resolve(selector.name, selector.reference));
  return package_of(record);
}

Result<PackageRef> RegistryCatalog::find(const ModelRef& version) {
  CANOPY_ASSIGN_OR_RETURN(VersionRecord record, registry_.get_version(version.name, version.version));
  return package_of(record);
}

void RegistryCatalog::set_delete_guard(DeleteGuard guard) {
  if (!guard) return registry_.set_delete_guard(nullptr);
  registry_.set_delete_guard([guard = std::move(guard)](const std::string& model, std::int64_t version) {
    return guard(ModelRef{model, version});
  });
}

Result<std::vector<RunOutput>> RegistryLineage::outputs_of(const std::string& run_id) {
  CANOPY_ASSIGN_OR_RETURN(std::vector<VersionRecord> versions, registry_.versions_of_run(run_id));
  std::vector<RunOutput> outputs;
  for (VersionRecord& version : versions)
    outputs.push_back({version.model, version.version, version.created_at, std::move(version.aliases)});
  return outputs;
}

Result<std::vector<SampleSource::Sequenced>> SampleStoreSource::stored_after(std::int64_t sequence,
                                                                             int limit) {
  CANOPY_ASSIGN_OR_RETURN(std::vector<SequencedSample> stored, samples_.stored_after(sequence, limit));
  std::vector<Sequenced> out;
  out.reserve(stored.size());
  for (SequencedSample& item : stored) out.push_back({item.sequence, std::move(item.sample)});
  return out;
}

Result<api::StoredSample> SampleStoreSource::sample(const std::string& id) { return samples_.get(id); }

Status SampleStoreSource::set_label_state(const std::string& id, const std::string& state) {
  return samples_.set_label_state(id, state);
}

Result<std::vector<api::DatasetItem>> LabeledFieldSamples::labeled(const std::string& field,
                                                                   bool reviewed_only) {
  CANOPY_ASSIGN_OR_RETURN(std::vector<LabeledTask> tasks, queue_.labeled(field, reviewed_only));
  std::vector<api::DatasetItem> items;
  items.reserve(tasks.size());
  for (LabeledTask& task : tasks) {
    auto sample = samples_.get(task.sample_id);
    if (!sample.ok() && sample.error().code == ErrorCode::kNotFound) continue;  // removed since
    if (!sample.ok()) return sample.error();
    api::DatasetItem item;
    item.sample_id = task.sample_id;
    item.image_sha256 = sample->image_sha256;
    item.width = sample->sample.width;
    item.height = sample->sample.height;
    item.boxes = std::move(task.labels);
    item.labeled_by = task.labeled_by;
    item.device_id = task.device_id;
    item.field = task.field;
    items.push_back(std::move(item));
  }
  return items;
}

Result<ProductionPackages::Package> RegistryProductionPackages::production(const std::string& model) {
  auto record = registry_.resolve(model, "@production");
  if (!record.ok() && record.error().code == ErrorCode::kNotFound)
    return make_error(ErrorCode::kNotFound, "model " + model + " has no production alias to pre-label with");
  if (!record.ok()) return record.error();
  return Package{record->model + ":" + std::to_string(record->version),
                 registry_.blob_path(record->blob_sha256)};
}

Result<std::int64_t> LoopLinks::labeled_count(const std::string& field, bool reviewed_only) {
  return queue_.labeled_count(field, reviewed_only);
}

Result<std::string> LoopLinks::make_dataset(const api::RetrainPolicy& policy, const std::string& actor) {
  api::DatasetVersionRequest request;
  request.field = policy.field;
  request.reviewed_only = policy.reviewed_only;
  request.bases = policy.bases;
  // The classes in the order of the model the job fine-tunes, so class i means the same in both.
  auto production = registry_.resolve(policy.model, "@production");
  if (production.ok() && production->summary.contains("labels") && production->summary["labels"].is_array())
    for (const Json& label : production->summary["labels"])
      if (label.is_string()) request.labels.push_back(label.get<std::string>());
  CANOPY_ASSIGN_OR_RETURN(api::DatasetVersion version,
                          datasets_.create(policy.dataset_name(), request, actor));
  return version.ref();
}

Result<std::optional<std::int64_t>> LoopLinks::alias(const std::string& model, const std::string& alias) {
  auto record = registry_.resolve(model, "@" + alias);
  if (!record.ok() && record.error().code == ErrorCode::kNotFound) return std::optional<std::int64_t>();
  if (!record.ok()) return record.error();
  return std::optional<std::int64_t>(record->version);
}

Status LoopLinks::set_alias(const std::string& model, const std::string& alias, std::int64_t version,
                            const std::string& actor) {
  return registry_.set_alias(model, alias, version, actor);
}

Result<std::optional<std::int64_t>> LoopLinks::published_by(const std::string& model,
                                                            const std::string& run_id) {
  if (run_id.empty()) return std::optional<std::int64_t>();
  CANOPY_ASSIGN_OR_RETURN(std::vector<VersionRecord> versions, registry_.versions_of_run(run_id));
  std::optional<std::int64_t> newest;
  for (const VersionRecord& version : versions)
    if (version.model == model && (!newest || version.version > *newest)) newest = version.version;
  return newest;
}

Result<std::int64_t> LoopLinks::start_rollout(const api::RetrainPolicy& policy, std::int64_t version,
                                              const std::string& actor) {
  api::DeploymentRequest request;
  request.model = api::ModelSelector{policy.model, std::to_string(version)};
  request.target = policy.target;
  request.strategy = policy.strategy;
  if (request.strategy.stages.empty()) request.strategy = api::RolloutStrategy::from_json(Json()).value();
  CANOPY_ASSIGN_OR_RETURN(api::DeploymentStatus status, fleet_.create_deployment(request, actor));
  return status.id;
}

Result<api::DeploymentState> LoopLinks::rollout_state(std::int64_t deployment) {
  CANOPY_ASSIGN_OR_RETURN(api::DeploymentStatus status, fleet_.deployment_status(deployment));
  return status.state;
}

Result<std::vector<std::string>> LoopLinks::open_drift(const std::string& model) {
  CANOPY_ASSIGN_OR_RETURN(std::optional<std::int64_t> production, alias(model, "production"));
  if (!production) return std::vector<std::string>();
  // Every worker's claim asks; the measures move with hours of telemetry, not seconds.
  CANOPY_TRY(drift_.refresh(60'000));
  CANOPY_ASSIGN_OR_RETURN(std::vector<api::DriftAlert> alerts,
                          drift_.open_alerts(model + ":" + std::to_string(*production)));
  std::vector<std::string> out;
  for (const api::DriftAlert& alert : alerts) out.push_back(alert.describe());
  return out;
}

Result<std::string> LoopLinks::run_of(const std::string& model, std::int64_t version) {
  CANOPY_ASSIGN_OR_RETURN(VersionRecord record, registry_.get_version(model, version));
  const Json run = record.summary.value("lineage", Json::object()).value("pipeline_run", Json());
  return run.is_string() ? run.get<std::string>() : std::string();
}

Result<api::DatasetVersion> LoopLinks::dataset(const std::string& ref) {
  CANOPY_ASSIGN_OR_RETURN(auto parsed, api::parse_dataset_ref(ref));
  return datasets_.get(parsed.first, parsed.second);
}

Result<std::vector<std::string>> LoopLinks::datasets_with_sample(const std::string& sample_id) {
  return datasets_.versions_with_sample(sample_id);
}

Result<std::vector<std::string>> LoopLinks::devices_running(const std::string& model, std::int64_t version) {
  DeviceQuery running;
  running.model = api::ModelRef{model, version}.label();
  std::vector<std::string> out;
  for (const api::DeviceInfo& device : fleet_.query_devices(running).devices) out.push_back(device.id);
  return out;
}

Result<std::vector<api::ModelAccuracy>> LabelingAccuracy::accuracy() {
  CANOPY_ASSIGN_OR_RETURN(api::LabelingStats stats, queue_.stats());
  return std::move(stats.accuracy);
}

}  // namespace canopy::server
