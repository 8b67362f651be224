// Areas seen through the narrow interfaces other areas declare for what
// they need of them: the registry as the fleet's ModelCatalog and the runs
// area's RunLineage, the sample store as the labeling queue's SampleSource,
// and the two together as the datasets area's LabeledSamples; the registry
// again as the prelabeler's ProductionPackages.
// Only the server's composition (server.cpp) knows both sides, so neither
// side links the other.
// Thread-safety: as the Registry's methods.
#pragma once

#include "server/datasets/dataset_versions.h"
#include "server/fleet/model_catalog.h"
#include "server/labeling/label_queue.h"
#include "server/prelabel/prelabeler.h"
#include "server/registry/registry.h"
#include "server/runs/run_records.h"
#include "server/samples/sample_store.h"

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

class RegistryProductionPackages final : public ProductionPackages {
 public:
  explicit RegistryProductionPackages(Registry& registry) : registry_(registry) {}
  Result<Package> production(const std::string& model) override;

 private:
  Registry& registry_;
};

class LabeledFieldSamples final : public LabeledSamples {
 public:
  LabeledFieldSamples(LabelQueue& queue, SampleStore& samples) : queue_(queue), samples_(samples) {}
  Result<std::vector<api::DatasetItem>> labeled(const std::string& field, bool reviewed_only) override;

 private:
  LabelQueue& queue_;
  SampleStore& samples_;
};

class SampleStoreSource final : public SampleSource {
 public:
  explicit SampleStoreSource(SampleStore& samples) : samples_(samples) {}
  Result<std::vector<Sequenced>> stored_after(std::int64_t sequence, int limit) override;
  Result<api::StoredSample> sample(const std::string& id) override;
  Status set_label_state(const std::string& id, const std::string& state) override;

 private:
  SampleStore& samples_;
};

}  // namespace canopy::server
