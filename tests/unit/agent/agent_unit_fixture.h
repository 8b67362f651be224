// The agent unit tests' fixture: a work directory, a signing key, and signed
// model packages built on demand.
#pragma once

#include <gtest/gtest.h>

#include "common/hash.h"
#include "common/keys.h"
#include "model_packages.h"
#include "package/package.h"
#include "test_support.h"

namespace canopy::agent {

namespace fs = std::filesystem;
using canopy::testing::build_model_package;
using canopy::testing::ModelPackageSpec;
using canopy::testing::TempDir;

using canopy::testing::build_model_package;
using canopy::testing::ModelPackageSpec;
using canopy::testing::TempDir;

class AgentUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(init_crypto().ok());
    key_ = KeyPair::generate();
  }

  // A signed package zip; returns its path.
  fs::path package(const std::string& name, ModelPackageSpec spec = {}) {
    fs::path zip = work_ / (name + ".zip");
    build_model_package(work_ / ("src-" + name), zip, spec, key_);
    return zip;
  }

  package::VerifyOptions trusting() const {
    package::VerifyOptions options;
    options.trusted_keys = {key_.public_key};
    return options;
  }

  TempDir work_;
  KeyPair key_;
};

}  // namespace canopy::agent
