// A detector package loaded as a device loads its active model, for the
// benchmarks that run the field loop.
#pragma once

#include <filesystem>
#include <memory>

#include "agent/active_model.h"
#include "common/files.h"
#include "infer/engine.h"
#include "package/manifest.h"
#include "report.h"

namespace canopy::bench {

// The package in `dir`, with one engine thread (the agent's default).
inline std::shared_ptr<const agent::LoadedModel> load_field_model(const std::filesystem::path& dir) {
  auto model = std::make_shared<agent::LoadedModel>();
  model->directory = dir;
  model->ref.model = {"field-detector", 1};
  model->manifest =
      check(package::parse_manifest(check(read_file(dir / package::kManifestName), "the manifest")),
            (dir / package::kManifestName).string());
  infer::EngineOptions engine;
  engine.threads = 1;
  model->engine =
      check(infer::Engine::load(dir / model->manifest.model_file().path, engine), "loading the model");
  return model;
}

}  // namespace canopy::bench
