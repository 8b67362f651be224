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

Result<std::vector<SampleSource::Sequenced>> SampleStoreSource::stored_after(std::int64_t sequence, int limit) {
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

Result<std::vector<api::DatasetItem>> LabeledFieldSamples::labeled(const std::string& field, bool reviewed_only) {
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
  return Package{record->model + ":" + std::to_string(record->version), registry_.blob_path(record->blob_sha256)};
}

}  // namespace canopy::server
