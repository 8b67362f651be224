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

}  // namespace canopy::server
