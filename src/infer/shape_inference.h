// Shapes and types of every value of a graph for given input shapes,
// computed with the operators' own infer functions (the same code that runs
// at plan time). The engine does not use libonnx's shape inference: fuzzing
// showed it crashing on malformed models.
// Thread-safety: pure function.
#pragma once

#include <vector>

#include "common/error.h"
#include "infer/graph.h"
#include "infer/ops/op.h"

namespace canopy::infer {

// One TensorInfo per graph value; constants carry their values.
Result<std::vector<TensorInfo>> infer_value_infos(const Graph& graph, const std::vector<Shape>& input_shapes);

// The declared input shapes with unknown dimensions set to 1.
std::vector<Shape> default_input_shapes(const Graph& graph);

}  // namespace canopy::infer
