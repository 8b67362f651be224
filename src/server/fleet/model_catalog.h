// What the fleet needs of the model registry, and nothing more: resolving a
// model reference to a package, checking that a version still exists, and a
// say before any version is deleted. The server wires it to the registry;
// tests give the fleet a catalog of their own. The fleet never includes the
// registry or reads its tables.
// Thread-safety: implementations may be called from any thread. The fleet
// never calls the catalog while holding one of its own locks; the catalog
// may call the delete guard under its own.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/error.h"
#include "server/fleet/fleet_model.h"

namespace canopy::server {

class ModelCatalog {
 public:
  virtual ~ModelCatalog() = default;

  // The package `selector` names now. kNotFound when there is none.
  virtual Result<PackageRef> resolve(const api::ModelSelector& selector) = 0;
  // The package of `version`; kNotFound when it does not exist (any more).
  virtual Result<PackageRef> find(const ModelRef& version) = 0;

  // Asked before a version is deleted; an error refuses the delete. Setting
  // an empty guard removes it.
  using DeleteGuard = std::function<Status(const ModelRef& version)>;
  virtual void set_delete_guard(DeleteGuard guard) = 0;
};

}  // namespace canopy::server
