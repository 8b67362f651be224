// Fresh pre-labels (docs/labeling.md, "Pre-labels"): on request, the
// production model of a sample's model name runs on the sample's image on
// the server, through Canopy's own inference engine (never libtorch), so a
// labeler can start from the model the fleet is about to run rather than
// the older one the device had. Packages come from the registry through
// ProductionPackages; each version is extracted once under the cache
// directory and its detector kept in memory.
//
// Thread-safety: every public method may be called from any thread; one
// detection runs at a time (a detector's buffers are its own).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/samples.h"
#include "common/error.h"

namespace canopy::infer {
class Detector;
}

namespace canopy::server {

// What the prelabeler needs of the registry.
class ProductionPackages {
 public:
  struct Package {
    std::string label;  // NAME:VERSION
    std::filesystem::path zip;
  };
  virtual ~ProductionPackages() = default;
  // The package the `production` alias of `model` names; kNotFound without one.
  virtual Result<Package> production(const std::string& model) = 0;
};

struct Prelabels {
  std::string model;  // NAME:VERSION
  std::vector<api::SampleBox> boxes;
};

class Prelabeler {
 public:
  Prelabeler(ProductionPackages& packages, std::filesystem::path cache_dir);
  ~Prelabeler();

  // The production model of `model_name` on `jpeg`, boxes in 0-1
  // coordinates, down to a low score so the page's threshold can choose.
  Result<Prelabels> predict(const std::string& model_name, const std::string& jpeg);

 private:
  Result<infer::Detector*> detector_locked(const ProductionPackages::Package& package);

  std::mutex mutex_;  // guards detectors_ and every detection
  ProductionPackages& packages_;
  const std::filesystem::path cache_dir_;
  std::map<std::string, std::unique_ptr<infer::Detector>> detectors_;  // by NAME:VERSION
};

}  // namespace canopy::server
