// The health check a model passes before it goes live, and again whenever
// the device loads it from its slot: its files match the signed manifest
// (package::verify_extracted: a bit flipped on the storage is caught here,
// even where the golden samples would not notice it), it loads in the
// inference engine, reproduces every golden sample of its package within the
// sample's tolerance, and stays within the manifest's latency and memory
// budgets. The loaded engine is handed back so that the model that was
// checked is exactly the one that is served.
// Thread-safety: stateless; one call per thread.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "agent/active_model.h"
#include "common/error.h"
#include "common/keys.h"
#include "infer/engine.h"

namespace canopy::agent {

struct HealthOptions {
  infer::EngineOptions engine;
  // Who may sign the manifest; empty accepts any valid signature. An
  // unsigned package never passes.
  std::vector<PublicKey> trusted_keys;
  int latency_runs = 5;  // timed runs after one warm-up; their median is compared to the budget
};

// Loads and checks the package extracted at `directory`. A failure's message
// is the one-line reason reported to the server, e.g. "golden sample
// golden/output_0.pb: element 12 differs by 0.5 (tolerance 0.001)".
Result<std::unique_ptr<LoadedModel>> check_model(const std::filesystem::path& directory,
                                                 const PackageRef& ref, const HealthOptions& options);

}  // namespace canopy::agent
