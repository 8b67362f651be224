// The model the device serves, and the holder that swaps it while inference
// keeps running: readers take a shared_ptr snapshot and keep using it for as
// long as they hold it; the updater publishes a new, already loaded and
// health-checked model with one atomic store, so the switch costs no loading
// time on the inference path and no reader ever sees a half-installed model.
// Thread-safety: ActiveModel::get and set may be called from any thread.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "agent/update_state.h"
#include "infer/engine.h"
#include "package/manifest.h"

namespace canopy::agent {

struct LoadedModel {
  PackageRef ref;
  std::filesystem::path directory;  // the extracted package
  package::Manifest manifest;
  std::unique_ptr<infer::Engine> engine;
  // The model this one replaced, still in the other slot after an update:
  // hard-case selection runs it in shadow (agent/sample_collector.h).
  std::optional<PackageRef> previous;
  std::filesystem::path previous_directory;
};

class ActiveModel {
 public:
  // Null until the first model is installed.
  std::shared_ptr<const LoadedModel> get() const { return model_.load(); }
  void set(std::shared_ptr<const LoadedModel> model) { model_.store(std::move(model)); }

 private:
  std::atomic<std::shared_ptr<const LoadedModel>> model_;
};

}  // namespace canopy::agent
