// libFuzzer target over everything an untrusted model file reaches: the
// ONNX loader (protobuf, checker, shape inference, conversion), the graph
// optimizer, plan compilation, and one run of small models on the reference
// backend. Any input must end in a value or an Error: never a crash, a leak
// or a hang. Built with clang (-fsanitize=fuzzer,address); run by the
// onnx_loader_fuzz test for a bounded time over Debian's ONNX test models.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <spdlog/spdlog.h>

#include "infer/engine.h"
#include "infer/onnx_loader.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  using namespace canopy::infer;
  LoadLimits limits;
  limits.max_model_bytes = 1 << 20;
  // 256 Ki elements per tensor and per intermediate value: enough for every
  // operator's structure, and small enough that a model of many large
  // intermediates cannot take the fuzzer past its 2 GB memory limit.
  limits.max_tensor_elements = 1 << 18;
  auto graph = load_onnx_bytes(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (!graph.ok()) return 0;
  // Running is bounded to small inputs so a legitimately heavy model is not a "hang".
  for (int v : graph->inputs) {
    std::int64_t elements = 1;
    for (auto d : graph->values[static_cast<size_t>(v)].shape) elements *= d < 0 ? 1 : d;
    if (elements > (1 << 16)) return 0;
  }
  EngineOptions options;
  options.backend = BackendKind::kReference;
  auto engine = Engine::from_graph(std::move(*graph), options);
  if (!engine.ok()) return 0;
  std::vector<Tensor> inputs;
  for (const auto& spec : (*engine)->inputs()) {
    Shape shape = spec.shape;
    for (auto& d : shape) d = d < 0 ? 1 : d;
    inputs.push_back(Tensor::allocate(spec.dtype, shape));
  }
  (void)(*engine)->run(inputs);
  return 0;
}
