// Areas seen through the narrow interfaces other areas declare for what
// they need of them: the registry as the fleet's ModelCatalog and the runs
// area's RunLineage, the sample store as the labeling queue's SampleSource,
// and the two together as the datasets area's LabeledSamples; the registry
// again as the prelabeler's ProductionPackages; most of them together as
// the retrain area's RetrainLinks, and the labeling queue as the drift
// monitor's DriftAccuracy.
// Only the server's composition (server.cpp) knows both sides, so neither
// side links the other.
// Thread-safety: as the Registry's methods.
#pragma once

#include "server/datasets/dataset_versions.h"
#include "server/fleet/fleet.h"
#include "server/fleet/model_catalog.h"
#include "server/labeling/label_queue.h"
#include "server/prelabel/prelabeler.h"
#include "server/registry/registry.h"
#include "server/retrain/drift_monitor.h"
#include "server/retrain/retrain_jobs.h"
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

// The retrain area's view of the others: label counts from the labeling
// queue, dataset versions, aliases and lineage from the registry, rollouts
// and running devices from the fleet, open drift alerts of the production
// version from the drift monitor.
class LoopLinks final : public RetrainLinks {
 public:
  LoopLinks(LabelQueue& queue, DatasetVersions& datasets, Registry& registry, Fleet& fleet,
            DriftMonitor& drift)
      : queue_(queue), datasets_(datasets), registry_(registry), fleet_(fleet), drift_(drift) {}
  Result<std::int64_t> labeled_count(const std::string& field, bool reviewed_only) override;
  Result<std::string> make_dataset(const api::RetrainPolicy& policy, const std::string& actor) override;
  Result<std::optional<std::int64_t>> alias(const std::string& model, const std::string& alias) override;
  Status set_alias(const std::string& model, const std::string& alias, std::int64_t version,
                   const std::string& actor) override;
  Result<std::optional<std::int64_t>> published_by(const std::string& model,
                                                   const std::string& run_id) override;
  Result<std::int64_t> start_rollout(const api::RetrainPolicy& policy, std::int64_t version,
                                     const std::string& actor) override;
  Result<api::DeploymentState> rollout_state(std::int64_t deployment) override;
  Result<std::vector<std::string>> open_drift(const std::string& model) override;
  Result<std::string> run_of(const std::string& model, std::int64_t version) override;
  Result<api::DatasetVersion> dataset(const std::string& ref) override;
  Result<std::vector<std::string>> datasets_with_sample(const std::string& sample_id) override;
  Result<std::vector<std::string>> devices_running(const std::string& model, std::int64_t version) override;

 private:
  LabelQueue& queue_;
  DatasetVersions& datasets_;
  Registry& registry_;
  Fleet& fleet_;
  DriftMonitor& drift_;
};

// The drift monitor's view of the labeling queue: its live accuracy.
class LabelingAccuracy final : public DriftAccuracy {
 public:
  explicit LabelingAccuracy(LabelQueue& queue) : queue_(queue) {}
  Result<std::vector<api::ModelAccuracy>> accuracy() override;

 private:
  LabelQueue& queue_;
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
