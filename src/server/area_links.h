// The registry seen through the narrow interfaces other areas declare for
// what they need of it: the fleet's ModelCatalog and the runs area's
// RunLineage. Only the server's composition (server.cpp) knows both sides,
// so neither the fleet nor the runs area links the registry, and the
// registry knows nothing of them.
// Thread-safety: as the Registry's methods.
#pragma once

#include "server/fleet/model_catalog.h"
#include "server/registry/registry.h"
#include "server/runs/run_records.h"

namespace canopy::server {

class RegistryCatalog final : public ModelCatalog {
 public:
  explicit RegistryCatalog(Registry& registry) : registry_(registry) {}
  Result<PackageRef> resolve(const api::ModelSelector& selector) override;
  Result<PackageRef> find(const ModelRef& version) override;
  void set_delete_guard(DeleteGuard guard) override;

 private:
  Registry& registry_;
};

class RegistryLineage final : public RunLineage {
 public:
  explicit RegistryLineage(Registry& registry) : registry_(registry) {}
  Result<std::vector<RunOutput>> outputs_of(const std::string& run_id) override;

 private:
  Registry& registry_;
};

}  // namespace canopy::server
