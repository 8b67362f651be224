// ONNX Runtime 1.20 (CPU) as the reference Canopy's inference engine is
// checked against. Each call runs `node tests/support/ort_run.mjs` in a child
// process with the onnxruntime-node package that scripts/install-onnxruntime.sh
// installs into tools/onnxruntime; tensors travel through a temp directory.
// The session runs ORT's default graph optimizations on one intra-op thread.
// Thread-safety: calls are independent (own temp dir, own child process).
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "infer/tensor.h"

namespace canopy::testing {

// True when node is on PATH and onnxruntime-node is installed, so that
// run_onnxruntime can work; tests that need it may skip otherwise.
bool onnxruntime_available();

// Runs `model` on `inputs` (name, tensor) and returns its outputs in the order
// the model's graph lists them. Errors: kNotFound when node or the package is
// missing (the message says how to install it); kCorrupt when the model file
// cannot be parsed; kInternal when ORT fails (the message holds ORT's stderr)
// or returns an output type infer::Tensor cannot hold.
Result<std::vector<infer::Tensor>> run_onnxruntime(
    const std::filesystem::path& model,
    const std::vector<std::pair<std::string, infer::Tensor>>& inputs);

}  // namespace canopy::testing
