#include "train/quantize.h"

#include <onnx/onnx_pb.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "common/files.h"
#include "common/progress.h"
#include "infer/detector.h"
#include "infer/onnx_builder.h"
#include "infer/onnx_loader.h"
#include "package/package.h"
#include "train/calibration.h"
#include "train/compression_report.h"
#include "train/evaluate.h"

namespace canopy::train {

namespace {

namespace fs = std::filesystem;
using infer::DataType;
using infer::Tensor;

constexpr const char* kQuantizationMetadataKey = "canopy.quantization";

struct GraphIndex {
  std::map<std::string, int> producer;  // tensor name -> node index
  std::map<std::string, const onnx::TensorProto*> initializers;
  std::set<std::string> graph_inputs;
};

GraphIndex index_graph(const onnx::GraphProto& graph) {
  GraphIndex index;
  for (int i = 0; i < graph.node_size(); ++i)
    for (const auto& output : graph.node(i).output()) index.producer[output] = i;
  for (const auto& tensor : graph.initializer()) index.initializers[tensor.name()] = &tensor;
  for (const auto& input : graph.input()) index.graph_inputs.insert(input.name());
  return index;
}

std::vector<float> float_data(const onnx::TensorProto& tensor) {
  if (tensor.float_data_size() > 0) return {tensor.float_data().begin(), tensor.float_data().end()};
  std::vector<float> values(tensor.raw_data().size() / sizeof(float));
  std::memcpy(values.data(), tensor.raw_data().data(), values.size() * sizeof(float));
  return values;
}

bool is_float_4d(const onnx::TensorProto* tensor) {
  return tensor != nullptr && tensor->data_type() == onnx::TensorProto_DataType_FLOAT && tensor->dims_size() == 4;
}

// Convs worth quantizing: constant float weights, input not from a Sigmoid.
std::vector<int> quantizable_convs(const onnx::GraphProto& graph, const GraphIndex& index) {
  std::vector<int> convs;
  for (int i = 0; i < graph.node_size(); ++i) {
    const auto& node = graph.node(i);
    if (node.op_type() != "Conv" || node.input_size() < 2) continue;
    auto weights = index.initializers.find(node.input(1));
    if (weights == index.initializers.end() || !is_float_4d(weights->second)) continue;
    auto producer = index.producer.find(node.input(0));
    if (producer != index.producer.end() && graph.node(producer->second).op_type() == "Sigmoid") continue;
    convs.push_back(i);
  }
  return convs;
}

// What a calibrated tensor is quantized with.
struct ActivationScale {
  float scale = 1;
  bool is_signed = false;
};

// The rewrite of an fp32 graph into QDQ form for a chosen set of Convs.
class QdqWriter {
 public:
  QdqWriter(const onnx::ModelProto& fp32, const std::map<std::string, ActivationScale>& scales)
      : fp32_(fp32), scales_(scales), index_(index_graph(fp32.graph())) {}

  onnx::ModelProto write(const std::set<int>& convs, const Json& description) {
    onnx::ModelProto model = fp32_;
    onnx::GraphProto& graph = *model.mutable_graph();
    const onnx::GraphProto& source = fp32_.graph();
    std::set<std::string> quantized;  // activations that get Q/DQ
    for (int c : convs) quantized.insert(source.node(c).input(0));
    graph.clear_node();
    std::set<std::string> replaced_initializers;
    for (const auto& name : quantized)
      if (index_.graph_inputs.count(name)) add_qdq(graph, name);
    for (int i = 0; i < source.node_size(); ++i) {
      onnx::NodeProto node = source.node(i);
      for (auto& input : *node.mutable_input())
        if (quantized.count(input)) input = dequantized(input);
      if (convs.count(i)) quantize_conv_weights(graph, node, replaced_initializers);
      if (is_nearest_resize(node) && quantized.count(source.node(i).input(0))) {
        // Nearest resizing commutes with quantization: resize the int8
        // values and dequantize after, so the map stays int8 end to end.
        const std::string& original = source.node(i).input(0);
        const std::string output = node.output(0);
        node.set_input(0, quantized_name(original));
        node.set_output(0, output + "_quantized");
        *graph.add_node() = node;
        add_node(graph, "DequantizeLinear", {output + "_quantized", scale_name(original), zero_name(original)}, {output});
        continue;
      }
      *graph.add_node() = node;
      for (const auto& output : source.node(i).output())
        if (quantized.count(output)) add_qdq(graph, output);
    }
    auto* initializers = graph.mutable_initializer();
    initializers->erase(std::remove_if(initializers->begin(), initializers->end(),
                                       [&](const onnx::TensorProto& t) { return replaced_initializers.count(t.name()) > 0; }),
                        initializers->end());
    for (auto& tensor : added_) *graph.add_initializer() = tensor;
    added_.clear();
    added_names_.clear();
    auto* metadata = model.add_metadata_props();
    metadata->set_key(kQuantizationMetadataKey);
    metadata->set_value(description.dump());
    return model;
  }

 private:
  static std::string quantized_name(const std::string& t) { return t + "_quantized"; }
  static std::string dequantized(const std::string& t) { return t + "_dequantized"; }
  static std::string scale_name(const std::string& t) { return t + "_scale"; }
  static std::string zero_name(const std::string& t) { return t + "_zero_point"; }

  static bool is_nearest_resize(const onnx::NodeProto& node) {
    if (node.op_type() != "Resize") return false;
    for (const auto& attribute : node.attribute())
      if (attribute.name() == "mode") return attribute.s() == "nearest";
    return true;  // nearest is the default mode
  }

  void add_initializer(const std::string& name, const Tensor& value) {
    if (added_names_.insert(name).second) added_.push_back(infer::to_tensor_proto(name, value));
  }

  static void add_node(onnx::GraphProto& graph, const std::string& op, const std::vector<std::string>& inputs,
                       const std::vector<std::string>& outputs, int axis = -1) {
    onnx::NodeProto* node = graph.add_node();
    node->set_op_type(op);
    node->set_name(outputs[0] + "_" + op);
    for (const auto& input : inputs) node->add_input(input);
    for (const auto& output : outputs) node->add_output(output);
    if (axis >= 0) {
      auto* attribute = node->add_attribute();
      attribute->set_name("axis");
      attribute->set_type(onnx::AttributeProto_AttributeType_INT);
      attribute->set_i(axis);
    }
  }

  void add_qdq(onnx::GraphProto& graph, const std::string& tensor) {
    const ActivationScale& s = scales_.at(tensor);
    Tensor scale = Tensor::allocate(DataType::kFloat32, {});
    scale.data<float>()[0] = s.scale;
    add_initializer(scale_name(tensor), scale);
    add_initializer(zero_name(tensor), Tensor::allocate(s.is_signed ? DataType::kInt8 : DataType::kUInt8, {}));
    add_node(graph, "QuantizeLinear", {tensor, scale_name(tensor), zero_name(tensor)}, {quantized_name(tensor)});
    add_node(graph, "DequantizeLinear", {quantized_name(tensor), scale_name(tensor), zero_name(tensor)},
             {dequantized(tensor)});
  }

  // NAME_quantized (int8 or int32), NAME_scale per channel, zero points 0,
  // and a DequantizeLinear along axis 0 giving NAME_dequantized.
  void add_per_channel_constant(onnx::GraphProto& graph, const std::string& name, const Tensor& quantized,
                                const Tensor& scale) {
    add_initializer(name + "_quantized", quantized);
    add_initializer(name + "_scale", scale);
    add_initializer(name + "_zero_point", Tensor::allocate(quantized.dtype(), {scale.numel()}));
    add_node(graph, "DequantizeLinear", {name + "_quantized", name + "_scale", name + "_zero_point"},
             {name + "_dequantized"}, 0);
  }

  // Per-channel symmetric int8 weights and int32 bias, each behind a
  // DequantizeLinear along axis 0; the Conv reads the dequantized values.
  void quantize_conv_weights(onnx::GraphProto& graph, onnx::NodeProto& conv, std::set<std::string>& replaced) {
    const std::string w_name = conv.input(1);
    const onnx::TensorProto& w_proto = *index_.initializers.at(w_name);
    const std::vector<float> w = float_data(w_proto);
    const std::int64_t channels = w_proto.dims(0);
    const std::int64_t per_channel = static_cast<std::int64_t>(w.size()) / channels;
    Tensor wq = Tensor::allocate(DataType::kInt8, {w_proto.dims(0), w_proto.dims(1), w_proto.dims(2), w_proto.dims(3)});
    Tensor w_scale = Tensor::allocate(DataType::kFloat32, {channels});
    for (std::int64_t m = 0; m < channels; ++m) {
      float peak = 0;
      for (std::int64_t k = 0; k < per_channel; ++k) peak = std::max(peak, std::fabs(w[static_cast<size_t>(m * per_channel + k)]));
      const float s = peak > 0 ? peak / 127.0f : 1.0f;
      w_scale.data<float>()[m] = s;
      for (std::int64_t k = 0; k < per_channel; ++k) {
        const float q = std::nearbyint(w[static_cast<size_t>(m * per_channel + k)] / s);
        wq.data<std::int8_t>()[m * per_channel + k] = static_cast<std::int8_t>(std::clamp(q, -127.0f, 127.0f));
      }
    }
    add_per_channel_constant(graph, w_name, wq, w_scale);
    replaced.insert(w_name);
    // The activation feeding this Conv (its Q/DQ was written before it).
    const std::string x = conv.input(0).substr(0, conv.input(0).size() - std::string("_dequantized").size());
    conv.set_input(1, w_name + "_dequantized");
    if (conv.input_size() < 3 || conv.input(2).empty()) return;
    const std::string b_name = conv.input(2);
    auto bias = index_.initializers.find(b_name);
    if (bias == index_.initializers.end()) return;
    const std::vector<float> b = float_data(*bias->second);
    const float x_scale = scales_.at(x).scale;
    Tensor bq = Tensor::allocate(DataType::kInt32, {channels});
    Tensor b_scale = Tensor::allocate(DataType::kFloat32, {channels});
    for (std::int64_t m = 0; m < channels; ++m) {
      const float s = x_scale * w_scale.data<float>()[m];
      b_scale.data<float>()[m] = s;
      bq.data<std::int32_t>()[m] = static_cast<std::int32_t>(std::nearbyint(b[static_cast<size_t>(m)] / s));
    }
    add_per_channel_constant(graph, b_name, bq, b_scale);
    replaced.insert(b_name);
    conv.set_input(2, b_name + "_dequantized");
  }

  const onnx::ModelProto& fp32_;
  const std::map<std::string, ActivationScale>& scales_;
  GraphIndex index_;
  std::vector<onnx::TensorProto> added_;
  std::set<std::string> added_names_;
};

Result<std::unique_ptr<infer::Engine>> load_engine(const onnx::ModelProto& model, const infer::EngineOptions& options) {
  CANOPY_ASSIGN_OR_RETURN(infer::Graph graph, infer::load_onnx_bytes(model.SerializeAsString(), options.limits));
  return infer::Engine::from_graph(std::move(graph), options);
}

// Histograms of every tensor in `tensors`, from the fp32 model run on `inputs`.
Result<std::map<std::string, ActivationHistogram>> calibrate(const onnx::ModelProto& fp32,
                                                             const std::set<std::string>& tensors,
                                                             const std::vector<Tensor>& inputs,
                                                             const QuantizeOptions& options) {
  onnx::ModelProto probe = fp32;
  const std::string input_name = fp32.graph().input(0).name();
  std::set<std::string> outputs;
  for (const auto& output : fp32.graph().output()) outputs.insert(output.name());
  for (const auto& name : tensors) {
    if (name == input_name || outputs.count(name)) continue;
    auto* output = probe.mutable_graph()->add_output();
    output->set_name(name);
    output->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto_DataType_FLOAT);
  }
  CANOPY_ASSIGN_OR_RETURN(auto engine, load_engine(probe, options.engine));
  auto context = engine->create_context();
  std::map<std::string, ActivationHistogram> histograms;
  ProgressReporter progress("calibrate", inputs.size() * 2, false);
  if (!options.show_progress) progress.silence();
  std::uint64_t done = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (const Tensor& input : inputs) {
      CANOPY_ASSIGN_OR_RETURN(std::vector<Tensor> values, context->run({input}));
      const auto observe = [&](const std::string& name, const Tensor& value) {
        if (!tensors.count(name)) return;
        if (pass == 0) histograms[name].observe_range(value.data<float>(), value.numel());
        else histograms[name].observe(value.data<float>(), value.numel());
      };
      observe(input_name, input);
      for (size_t k = 0; k < values.size(); ++k) observe(engine->outputs()[k].name, values[k]);
      progress.update(++done);
    }
  }
  progress.finish();
  return histograms;
}

std::map<std::string, ActivationScale> scales_for(const std::map<std::string, ActivationHistogram>& histograms,
                                                  Calibrator calibrator) {
  std::map<std::string, ActivationScale> scales;
  for (const auto& [name, histogram] : histograms) {
    const float threshold = histogram.threshold(calibrator);
    scales[name] = {threshold / (histogram.is_signed() ? 127.0f : 255.0f), histogram.is_signed()};
  }
  return scales;
}

// Relative squared error of `ours` against `reference`, boxes and scores
// each normalized by their own energy, so neither unit dominates.
double output_error(const Tensor& ours, const Tensor& reference, std::int64_t row_length) {
  double box_error = 0, box_energy = 0, score_error = 0, score_energy = 0;
  const float* a = ours.data<float>();
  const float* b = reference.data<float>();
  for (std::int64_t i = 0; i < reference.numel(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    if (i % row_length < 4) {
      box_error += d * d;
      box_energy += static_cast<double>(b[i]) * b[i];
    } else {
      score_error += d * d;
      score_energy += static_cast<double>(b[i]) * b[i];
    }
  }
  return box_error / std::max(box_energy, 1e-12) + score_error / std::max(score_energy, 1e-12);
}

}  // namespace

Json QuantizeResult::to_json() const {
  Json layers_json = Json::array();
  for (const auto& layer : layers)
    layers_json.push_back({{"node", layer.node}, {"output_error", layer.output_error}, {"kept_float", layer.kept_float}});
  return Json{{"calibrator", calibrator},
              {"calibrator_map50", calibrator_map50},
              {"layers", layers_json},
              {"original_map50", original_map50},
              {"quantized_map50", quantized_map50}};
}

namespace {

// The fp32 model, its quantizable Convs, the calibration inputs and the
// histograms of every tensor that gets quantized.
struct Calibrated {
  onnx::ModelProto fp32;
  std::vector<int> convs;
  std::vector<Tensor> inputs;
  std::map<std::string, ActivationHistogram> histograms;
};

Result<Calibrated> load_and_calibrate(const fs::path& model_file, const package::Manifest& manifest,
                                      const std::vector<cv::Mat>& calibration, const QuantizeOptions& options) {
  if (calibration.empty()) return Error{ErrorCode::kInvalidArgument, "quantization needs calibration images"};
  Calibrated c;
  CANOPY_ASSIGN_OR_RETURN(std::string bytes, read_file(model_file));
  if (!c.fp32.ParseFromString(bytes) || c.fp32.graph().input_size() != 1 || c.fp32.graph().output_size() != 1)
    return Error{ErrorCode::kInvalidArgument, model_file.string() + " is not a one-input, one-output ONNX detector"};
  c.convs = quantizable_convs(c.fp32.graph(), index_graph(c.fp32.graph()));
  if (c.convs.empty()) return Error{ErrorCode::kInvalidArgument, model_file.string() + " has no Conv to quantize"};
  const auto& shape = manifest.input.shape;
  for (const cv::Mat& image : calibration) {
    Tensor input = Tensor::allocate(DataType::kFloat32, {1, shape[1], shape[2], shape[3]});
    infer::prepare_input(manifest.input, image, input.data<float>());
    c.inputs.push_back(std::move(input));
  }
  std::set<std::string> tensors;
  for (int conv : c.convs) tensors.insert(c.fp32.graph().node(conv).input(0));
  CANOPY_ASSIGN_OR_RETURN(c.histograms, calibrate(c.fp32, tensors, c.inputs, options));
  return c;
}

}  // namespace

Result<std::string> quantize_all(const fs::path& model_file, const package::Manifest& manifest,
                                 const std::vector<cv::Mat>& calibration, Calibrator calibrator,
                                 const QuantizeOptions& options) {
  CANOPY_ASSIGN_OR_RETURN(Calibrated c, load_and_calibrate(model_file, manifest, calibration, options));
  const auto scales = scales_for(c.histograms, calibrator);
  return QdqWriter(c.fp32, scales)
      .write(std::set<int>(c.convs.begin(), c.convs.end()), Json{{"calibrator", calibrator_name(calibrator)}})
      .SerializeAsString();
}

Result<std::map<std::string, InputRange>> calibrated_conv_inputs(const fs::path& model_file,
                                                                 const package::Manifest& manifest,
                                                                 const std::vector<cv::Mat>& calibration,
                                                                 Calibrator calibrator, const QuantizeOptions& options) {
  CANOPY_ASSIGN_OR_RETURN(Calibrated c, load_and_calibrate(model_file, manifest, calibration, options));
  const auto scales = scales_for(c.histograms, calibrator);
  std::map<std::string, InputRange> ranges;
  for (int conv : c.convs) {
    const ActivationScale& s = scales.at(c.fp32.graph().node(conv).input(0));
    ranges[c.fp32.graph().node(conv).name()] = {s.scale, s.is_signed};
  }
  return ranges;
}

Result<QuantizeResult> quantize_model(const fs::path& model_file, const package::Manifest& manifest,
                                      const std::vector<cv::Mat>& calibration, const vision::Dataset& validation,
                                      const QuantizeOptions& options) {
  if (validation.samples.empty()) return Error{ErrorCode::kInvalidArgument, "quantization needs validation images"};
  std::vector<Calibrator> calibrators;
  if (options.calibrator == "auto") {
    calibrators.assign(kAllCalibrators.begin(), kAllCalibrators.end());
  } else {
    CANOPY_ASSIGN_OR_RETURN(Calibrator chosen, parse_calibrator(options.calibrator));
    calibrators.push_back(chosen);
  }
  CANOPY_ASSIGN_OR_RETURN(Calibrated calibrated, load_and_calibrate(model_file, manifest, calibration, options));
  const onnx::ModelProto& fp32 = calibrated.fp32;
  const std::vector<int>& convs = calibrated.convs;
  const std::vector<Tensor>& inputs = calibrated.inputs;
  const auto& histograms = calibrated.histograms;

  CANOPY_ASSIGN_OR_RETURN(const fs::path scratch, make_temp_dir(fs::temp_directory_path(), "canopy-quantize-"));
  const std::unique_ptr<const fs::path, void (*)(const fs::path*)> remove_scratch(&scratch, [](const fs::path* dir) {
    std::error_code ignored;
    fs::remove_all(*dir, ignored);
  });
  EvalOptions eval;
  eval.engine = options.engine;
  eval.show_progress = false;
  const auto map50_of = [&](const onnx::ModelProto& model) -> Result<double> {
    const fs::path file = scratch / "candidate.onnx";
    CANOPY_TRY(write_file_atomic(file, model.SerializeAsString()));
    CANOPY_ASSIGN_OR_RETURN(vision::EvaluationResult result, evaluate_with_manifest(file, manifest, validation, eval));
    return result.map50.value_or(0.0);
  };

  QuantizeResult result;
  CANOPY_ASSIGN_OR_RETURN(result.original_map50, map50_of(fp32));
  std::set<int> chosen(convs.begin(), convs.end());
  std::map<std::string, ActivationScale> scales;
  double best = -1;
  for (Calibrator calibrator : calibrators) {
    auto candidate_scales = scales_for(histograms, calibrator);
    QdqWriter writer(fp32, candidate_scales);
    CANOPY_ASSIGN_OR_RETURN(double map50, map50_of(writer.write(chosen, Json::object())));
    result.calibrator_map50[calibrator_name(calibrator)] = map50;
    spdlog::info("quantize.calibrator name={} map50={:.4f}", calibrator_name(calibrator), map50);
    if (map50 > best) {
      best = map50;
      scales = std::move(candidate_scales);
      result.calibrator = calibrator_name(calibrator);
    }
  }
  result.quantized_map50 = best;

  // Layer by layer: the output error with only that Conv in int8.
  QdqWriter writer(fp32, scales);
  {
    const size_t probe_count = std::min<size_t>(inputs.size(), static_cast<size_t>(std::max(1, options.sensitivity_images)));
    CANOPY_ASSIGN_OR_RETURN(auto reference_engine, load_engine(fp32, options.engine));
    std::vector<Tensor> reference;
    for (size_t k = 0; k < probe_count; ++k) {
      CANOPY_ASSIGN_OR_RETURN(auto outputs, reference_engine->run({inputs[k]}));
      reference.push_back(std::move(outputs[0]));
    }
    ProgressReporter progress("sensitivity", convs.size(), false);
    if (!options.show_progress) progress.silence();
    for (int c : convs) {
      CANOPY_ASSIGN_OR_RETURN(auto engine, load_engine(writer.write({c}, Json::object()), options.engine));
      double error = 0;
      for (size_t k = 0; k < probe_count; ++k) {
        CANOPY_ASSIGN_OR_RETURN(auto outputs, engine->run({inputs[k]}));
        error += output_error(outputs[0], reference[k], reference[k].shape().back()) / static_cast<double>(probe_count);
      }
      result.layers.push_back({fp32.graph().node(c).name(), error, false});
      progress.update(result.layers.size());
    }
    progress.finish();
  }

  // Back to float, most sensitive first, while the int8 model loses too much.
  std::vector<size_t> order(convs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return result.layers[a].output_error > result.layers[b].output_error; });
  for (size_t k = 0; k < order.size() && static_cast<int>(k) < options.max_float_layers &&
                     result.original_map50 - result.quantized_map50 > options.max_map_drop;
       ++k) {
    const size_t layer = order[k];
    chosen.erase(convs[layer]);
    CANOPY_ASSIGN_OR_RETURN(double map50, map50_of(writer.write(chosen, Json::object())));
    spdlog::info("quantize.keep_float node={} map50={:.4f}", result.layers[layer].node, map50);
    if (map50 > result.quantized_map50) {
      result.layers[layer].kept_float = true;
      result.quantized_map50 = map50;
    } else {
      chosen.insert(convs[layer]);  // it did not help: keep it in int8
    }
  }
  Json float_layers = Json::array();
  for (const auto& layer : result.layers)
    if (layer.kept_float) float_layers.push_back(layer.node);
  result.model = writer.write(chosen, Json{{"calibrator", result.calibrator}, {"float_layers", float_layers}})
                     .SerializeAsString();
  return result;
}

Result<Json> quantize_package(const fs::path& package_dir, const std::vector<cv::Mat>& calibration,
                              const vision::Dataset& validation, const QuantizeOptions& options,
                              const fs::path& out_dir, const fs::path& original_dir) {
  CANOPY_ASSIGN_OR_RETURN(std::string manifest_bytes, read_file(package_dir / package::kManifestName));
  CANOPY_ASSIGN_OR_RETURN(package::Manifest manifest, package::parse_manifest(manifest_bytes));
  const fs::path float_model = package_dir / manifest.model_file().path;
  CANOPY_ASSIGN_OR_RETURN(QuantizeResult result, quantize_model(float_model, manifest, calibration, validation, options));
  const fs::path reference_dir = original_dir.empty() ? package_dir : original_dir;
  CANOPY_ASSIGN_OR_RETURN(std::string reference_bytes, read_file(reference_dir / package::kManifestName));
  CANOPY_ASSIGN_OR_RETURN(package::Manifest reference, package::parse_manifest(reference_bytes));
  const fs::path original = reference_dir / reference.model_file().path;

  CANOPY_ASSIGN_OR_RETURN(const fs::path scratch, make_temp_dir(fs::temp_directory_path(), "canopy-quantize-"));
  const std::unique_ptr<const fs::path, void (*)(const fs::path*)> remove_scratch(&scratch, [](const fs::path* dir) {
    std::error_code ignored;
    fs::remove_all(*dir, ignored);
  });
  const fs::path candidate = scratch / "model.onnx";
  CANOPY_TRY(write_file_atomic(candidate, result.model));
  MeasureOptions measure;
  measure.engine = options.engine;
  measure.engine.threads = 1;
  std::vector<ModelFigures> figures;
  CANOPY_ASSIGN_OR_RETURN(ModelFigures before, measure_model("original", original, manifest, validation, measure));
  CANOPY_ASSIGN_OR_RETURN(ModelFigures after, measure_model("int8", candidate, manifest, validation, measure));
  figures.push_back(std::move(before));
  figures.push_back(std::move(after));
  if (options.show_progress) print_report(figures, manifest.labels);

  Json report = report_json(figures, manifest.labels);
  report["quantization"] = result.to_json();
  Json metrics = vision::to_json(figures.back().accuracy, manifest.labels);
  for (auto& [label, per_class] : metrics["per_class"].items()) per_class.erase("pr_curve50");
  metrics["parameters"] = figures.back().parameters;
  metrics["gflops"] = figures.back().gflops;
  metrics["compression"] = report;
  Json lineage = manifest.lineage;
  lineage["compression"] = "int8 post-training quantization (" + result.calibrator + ")";
  if (!original_dir.empty()) lineage["compression"] = "int8 after quantization-aware fine-tuning (" + result.calibrator + ")";
  CANOPY_TRY(write_derived_package(package_dir, result.model, out_dir / "package", metrics, lineage));
  CANOPY_TRY(write_file_atomic(out_dir / "report.json", report.dump(2) + "\n"));
  return report;
}

}  // namespace canopy::train
