// Backends turn graph nodes into kernels. The reference backend runs every
// operator; oneDNN and XNNPACK run the heavy ones faster and return nullptr
// for anything they cannot do, in which case the plan uses the reference
// kernel for that node (and says so once in the log).
// Thread-safety: a Kernel is used by one context at a time; creating kernels
// happens under the engine's plan lock.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "infer/graph.h"
#include "infer/ops/op.h"

namespace canopy::infer {

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Inputs and outputs follow the node's; outputs are allocated with the
  // planned shapes. Omitted optional inputs/outputs are nullptr.
  virtual Status run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) = 0;
  // True when the kernel applies the node's post-ops itself.
  virtual bool fuses_post_ops() const { return false; }
  virtual std::string_view backend() const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // The layout this backend wants for the 4-D outputs of its kernels; the
  // plan passes it in `outputs` to create().
  virtual Layout preferred_layout() const { return Layout::kNchw; }
  // A kernel for `node` with these input and output types, shapes and
  // layouts, or nullptr when this backend does not handle it.
  virtual Result<std::unique_ptr<Kernel>> create(const Node& node, const std::vector<TensorInfo>& inputs,
                                                 const std::vector<TensorInfo>& outputs) = 0;
};

std::unique_ptr<Backend> make_reference_backend();
// oneDNN (x86-64): float32 Conv and ConvTranspose with fused post-ops.
std::unique_ptr<Backend> make_onednn_backend(int threads);
// XNNPACK (portable, ARM first): float32 Conv and ConvTranspose, int8 QLinearConv, NHWC.
std::unique_ptr<Backend> make_xnnpack_backend(int threads);

// Copies a 4-D tensor (`in`, whose memory is in `from`) into `out` in `to`.
void convert_layout(const Tensor& in, Layout from, Layout to, void* out);
// A kernel doing that: the plan's boundary steps.
std::unique_ptr<Kernel> make_layout_conversion(Layout from, Layout to);

// Applies `node`'s post-ops in place on `output` (the reference way, for
// kernels that do not fuse them).
void apply_post_ops(const Node& node, const std::vector<const Tensor*>& inputs, Tensor& output);

}  // namespace canopy::infer
