#include "onnxruntime.h"

#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "common/subprocess.h"
#include "test_support.h"

namespace canopy::testing {

namespace {

const fs::path kRunScript = CANOPY_ORT_RUN_SCRIPT;
const fs::path kPackageDir = CANOPY_ONNXRUNTIME_DIR;
const std::string kInstallHint = "run scripts/install-onnxruntime.sh";

// CANOPY_NODE as a path when it holds a '/', else searched on PATH like
// `/usr/bin/env node` does.
std::optional<fs::path> find_node() {
  const std::string node = CANOPY_NODE;
  if (node.find('/') != std::string::npos) {
    if (::access(node.c_str(), X_OK) == 0) return fs::path(node);
    return std::nullopt;
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    fs::path candidate = fs::path(dir.empty() ? "." : dir) / node;
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

bool package_installed() {
  std::error_code ec;
  return fs::is_regular_file(kPackageDir / "node_modules" / "onnxruntime-node" / "package.json", ec);
}

// The file name stem of a tensor: bytes outside [A-Za-z0-9_-] as %XX (see ort_run.mjs).
std::string encode_name(const std::string& name) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (char c : name) {
    auto byte = static_cast<unsigned char>(c);
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
    if (plain) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

std::optional<infer::DataType> parse_dtype(const std::string& name) {
  for (auto type : {infer::DataType::kFloat32, infer::DataType::kUInt8, infer::DataType::kInt8,
                    infer::DataType::kInt32, infer::DataType::kInt64}) {
    if (infer::data_type_name(type) == name) return type;
  }
  return std::nullopt;
}

Status write_tensor(const fs::path& dir, const std::string& name, const infer::Tensor& tensor) {
  const std::string stem = encode_name(name);
  nlohmann::json meta = {{"dtype", std::string(infer::data_type_name(tensor.dtype()))},
                         {"shape", tensor.shape()}};
  std::ofstream json(dir / (stem + ".json"));
  json << meta.dump() << '\n';
  std::ofstream bin(dir / (stem + ".bin"), std::ios::binary);
  if (tensor.size_bytes() > 0)
    bin.write(static_cast<const char*>(tensor.raw()), static_cast<std::streamsize>(tensor.size_bytes()));
  json.close();
  bin.close();
  if (!json || !bin) return make_error(ErrorCode::kIo, "cannot write input " + name + " to " + dir.string());
  return {};
}

Result<infer::Tensor> read_tensor(const fs::path& dir, const std::string& name) {
  const std::string stem = encode_name(name);
  std::error_code ec;
  if (!fs::is_regular_file(dir / (stem + ".json"), ec) || !fs::is_regular_file(dir / (stem + ".bin"), ec))
    return make_error(ErrorCode::kInternal, "onnxruntime wrote no output named " + name);
  nlohmann::json meta = nlohmann::json::parse(read_bytes(dir / (stem + ".json")), nullptr, false);
  if (meta.is_discarded() || !meta.is_object() || !meta.contains("dtype") || !meta["dtype"].is_string() ||
      !meta.contains("shape") || !meta["shape"].is_array())
    return make_error(ErrorCode::kInternal, "unreadable metadata for output " + name);
  const std::string dtype_name = meta["dtype"].get<std::string>();
  auto dtype = parse_dtype(dtype_name);
  if (!dtype)
    return make_error(ErrorCode::kInternal,
                      "output " + name + " has type " + dtype_name + ", which infer::Tensor cannot hold");
  infer::Tensor tensor = infer::Tensor::allocate(*dtype, meta["shape"].get<infer::Shape>());
  std::string bytes = read_bytes(dir / (stem + ".bin"));
  if (bytes.size() != tensor.size_bytes())
    return make_error(ErrorCode::kInternal, "output " + name + ": " + std::to_string(bytes.size()) +
                                                " bytes for shape " + infer::shape_to_string(tensor.shape()) +
                                                " of " + dtype_name);
  if (!bytes.empty()) std::memcpy(tensor.raw(), bytes.data(), bytes.size());
  return tensor;
}

Result<std::vector<std::string>> model_output_names(const fs::path& model) {
  std::ifstream in(model, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open model " + model.string());
  onnx::ModelProto proto;
  if (!proto.ParseFromIstream(&in))
    return make_error(ErrorCode::kCorrupt, model.string() + " is not an ONNX model");
  std::vector<std::string> names;
  for (const auto& output : proto.graph().output()) names.push_back(output.name());
  return names;
}

}  // namespace

bool onnxruntime_available() {
  std::error_code ec;
  return find_node().has_value() && fs::is_regular_file(kRunScript, ec) && package_installed();
}

Result<std::vector<infer::Tensor>> run_onnxruntime(
    const fs::path& model, const std::vector<std::pair<std::string, infer::Tensor>>& inputs) {
  auto node = find_node();
  if (!node)
    return make_error(ErrorCode::kNotFound, std::string("node (") + CANOPY_NODE + ") is not on PATH: " + kInstallHint);
  if (!package_installed())
    return make_error(ErrorCode::kNotFound,
                      "onnxruntime-node is not installed in " + kPackageDir.string() + ": " + kInstallHint);
  CANOPY_ASSIGN_OR_RETURN(auto output_names, model_output_names(model));

  TempDir temp;
  const fs::path in_dir = temp / "in";
  const fs::path out_dir = temp / "out";
  fs::create_directories(in_dir);
  fs::create_directories(out_dir);
  for (const auto& [name, tensor] : inputs) CANOPY_TRY(write_tensor(in_dir, name, tensor));

  const fs::path stderr_file = temp / "stderr";
  auto child = Subprocess::start({{node->string(), kRunScript.string(), fs::absolute(model).string(),
                                   in_dir.string(), out_dir.string()},
                                  {{"CANOPY_ONNXRUNTIME_DIR", kPackageDir.string()}},
                                  temp / "stdout",
                                  stderr_file});
  if (!child.ok()) return child.error().with_context("cannot start onnxruntime");
  int exit_code = child->wait();
  if (exit_code != 0) {
    std::string message = read_bytes(stderr_file);
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
    return make_error(ErrorCode::kInternal, "onnxruntime failed on " + model.string() + " (exit " +
                                                std::to_string(exit_code) + "): " + message);
  }

  std::vector<infer::Tensor> outputs;
  for (const auto& name : output_names) {
    CANOPY_ASSIGN_OR_RETURN(auto tensor, read_tensor(out_dir, name));
    outputs.push_back(std::move(tensor));
  }
  return outputs;
}

}  // namespace canopy::testing
