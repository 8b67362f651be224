// Graph rewrites done once when a model loads, each a small pass:
//  - fold_constants: nodes whose inputs are all constants are computed now
//    (DequantizeLinear only after fuse_qdq_convolutions: the int8 kernels
//    need its int8 weights; what it leaves, e.g. the weights of a layer a
//    quantizer kept in float, is folded then);
//  - fold_batch_norm: Conv followed by BatchNormalization becomes one Conv;
//  - fuse_post_ops: activations (incl. SiLU written as x*Sigmoid(x)) and
//    residual Adds that follow a Conv become post-ops of that Conv;
//  - fuse_qdq_convolutions: DequantizeLinear -> Conv -> QuantizeLinear with
//    constant int8 weights and scales becomes one QLinearConv, so int8
//    models run true int8 convolutions; a fused residual sum whose operand
//    is itself dequantized int8 stays fused, reading the int8 operand;
//  - remove_dead_nodes: drops nodes whose outputs nobody reads.
// Each pass keeps the graph valid and in topological order.
#pragma once

#include "common/error.h"
#include "infer/graph.h"

namespace canopy::infer {

Status fold_constants(Graph& graph, bool fold_dequantize = false);
void fold_batch_norm(Graph& graph);
void fuse_post_ops(Graph& graph);
void fuse_qdq_convolutions(Graph& graph);
void remove_dead_nodes(Graph& graph);

// All of the above, in the order that makes each one most effective.
Status optimize_graph(Graph& graph);

}  // namespace canopy::infer
