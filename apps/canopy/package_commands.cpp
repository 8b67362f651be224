#include <cstdio>
#include <memory>

#include "cli.h"
#include "common/files.h"
#include "common/keys.h"
#include "infer/onnx_loader.h"
#include "package/package.h"

namespace canopy::cli {

namespace {

void print_info(const package::PackageInfo& info, bool json) {
  const auto& m = info.manifest;
  if (json) {
    Json out = parse_json(info.manifest_bytes).ok() ? *parse_json(info.manifest_bytes) : Json::object();
    print_json({{"manifest", out},
                {"manifest_sha256", info.manifest_sha256},
                {"signed_by", info.signature ? info.signature->key_id : ""},
                {"signature_trusted", info.signature_trusted}});
    return;
  }
  std::printf("name:       %s\n", m.name.c_str());
  std::printf("task:       %s\n", m.task.c_str());
  std::string labels;
  for (const auto& l : m.labels) labels += (labels.empty() ? "" : ", ") + l;
  std::printf("labels:     %s\n", labels.c_str());
  std::string shape;
  for (auto d : m.input.shape) shape += (shape.empty() ? "" : "x") + std::to_string(d);
  std::printf("input:      %s %s %s, %s\n", shape.c_str(), m.input.layout.c_str(), m.input.dtype.c_str(),
              m.input.resize.c_str());
  std::printf("signed by:  %s%s\n", info.signature ? info.signature->key_id.c_str() : "(unsigned)",
              info.signature_trusted ? " (trusted)" : "");
  std::printf("manifest:   sha256 %s\n", info.manifest_sha256.c_str());
  std::printf("files:\n");
  for (const auto& f : m.files)
    std::printf("  %-13s %10s  %s  %s\n", f.role.c_str(), format_bytes(f.size_bytes).c_str(),
                f.sha256.substr(0, 16).c_str(), f.path.c_str());
  if (!m.metrics.empty()) std::printf("metrics:    %s\n", m.metrics.dump().c_str());
  if (!m.lineage.empty()) std::printf("lineage:    %s\n", m.lineage.dump().c_str());
}

constexpr const char* kDefaultInputShape = "1x3x320x320";

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text;
  for (auto d : shape) text += (text.empty() ? "" : "x") + (d < 0 ? std::string("?") : std::to_string(d));
  return text;
}

// The input shape for the manifest: --input, which must agree with the shape
// the ONNX model declares for its first input (a dimension the model leaves
// open, -1, agrees with any value); without --input, the declared shape, with
// the default's values for open dimensions. A mismatch found here would
// otherwise surface only when a device first runs the model.
Result<std::vector<std::int64_t>> input_shape_for(const std::string& model, const std::string& input_flag) {
  CANOPY_ASSIGN_OR_RETURN(std::vector<std::int64_t> fallback, package::parse_shape(kDefaultInputShape));
  std::optional<std::vector<std::int64_t>> given;
  if (!input_flag.empty()) {
    CANOPY_ASSIGN_OR_RETURN(given, package::parse_shape(input_flag));
  }
  auto graph = infer::load_onnx_file(model);
  if (!graph.ok()) return graph.error().with_context("--model");
  if (graph->inputs.empty())
    return make_error(ErrorCode::kInvalidArgument, "--model " + model + " declares no input");
  const infer::Value& declared = graph->values[static_cast<size_t>(graph->inputs.front())];
  if (declared.shape.size() != fallback.size())
    return make_error(ErrorCode::kInvalidArgument, "--model " + model + ": input '" + declared.name +
                                                       "' has shape " + shape_text(declared.shape) +
                                                       ", but a detector's input must be NxCxHxW");
  if (!given) {
    std::vector<std::int64_t> shape = declared.shape;
    for (size_t i = 0; i < shape.size(); ++i)
      if (shape[i] < 0) shape[i] = fallback[i];
    return shape;
  }
  for (size_t i = 0; i < given->size(); ++i)
    if (declared.shape[i] >= 0 && declared.shape[i] != (*given)[i])
      return make_error(ErrorCode::kInvalidArgument,
                        "--input " + input_flag + " does not match the model: " + model +
                            " declares input '" + declared.name + "' as " + shape_text(declared.shape) +
                            "; pass --input " + shape_text(declared.shape) + " or leave --input out");
  return *given;
}

struct InitArgs {
  std::string directory, model, name, labels, input;
  std::vector<std::string> golden;
};

struct CreateArgs {
  std::string directory, output, sign;
};

struct VerifyArgs {
  std::string file;
  std::vector<std::string> keys;
  double max_ratio = 100;
};

}  // namespace

void register_package_commands(CLI::App& app, Globals& globals, int& exit_code) {
  auto* pkg = app.add_subcommand("package", "Build, sign, verify and inspect model packages");
  pkg->require_subcommand(1);

  auto init = std::make_shared<InitArgs>();
  auto* init_cmd =
      pkg->add_subcommand("init", "Write canopy.json for an existing ONNX model (bring your own model)");
  init_cmd->add_option("DIR", init->directory, "package directory (created if missing)")->required();
  init_cmd->add_option("--model", init->model, "the ONNX model file")->required();
  init_cmd->add_option("--name", init->name, "model name, e.g. crop-disease-detector")->required();
  init_cmd->add_option("--labels", init->labels, "class names, comma-separated")->required();
  init_cmd->add_option(
      "--input", init->input,
      "input shape NxCxHxW, checked against the model's (default: the model's declared shape, "
      "1x3x320x320 where it leaves a dimension open)");
  init_cmd->add_option("--golden", init->golden, "golden sample INPUT:EXPECTED_OUTPUT (repeatable)");
  set_action(init_cmd, exit_code, [init, &globals]() -> Status {
    package::InitOptions options;
    options.directory = init->directory;
    options.model = init->model;
    options.name = init->name;
    options.labels = split(init->labels, ',');
    CANOPY_ASSIGN_OR_RETURN(options.input_shape, input_shape_for(init->model, init->input));
    for (const auto& pair : init->golden) {
      auto parts = split(pair, ':');
      if (parts.size() != 2)
        return make_error(ErrorCode::kInvalidArgument,
                          "--golden '" + pair + "' must be INPUT:EXPECTED_OUTPUT");
      options.golden.emplace_back(parts[0], parts[1]);
    }
    CANOPY_ASSIGN_OR_RETURN(package::Manifest manifest, package::init_package(options));
    if (globals.json)
      print_json(*parse_json(package::serialize_manifest(manifest)));
    else
      std::printf("wrote %s/canopy.json for model '%s' (%zu files)\n", init->directory.c_str(),
                  manifest.name.c_str(), manifest.files.size());
    return {};
  });

  auto create = std::make_shared<CreateArgs>();
  auto* create_cmd = pkg->add_subcommand("create", "Pack a directory with canopy.json into a package zip");
  create_cmd->add_option("DIR", create->directory, "package directory holding canopy.json")->required();
  create_cmd->add_option("-o,--out,--output", create->output, "package file to write")->required();
  create_cmd->add_option("--sign", create->sign,
                         "secret key (from 'canopy keys generate') to sign the manifest");
  set_action(create_cmd, exit_code, [create, &globals]() -> Status {
    std::optional<KeyPair> key;
    if (!create->sign.empty()) {
      CANOPY_ASSIGN_OR_RETURN(KeyPair pair, load_key_pair(create->sign));
      key = std::move(pair);
    }
    CANOPY_ASSIGN_OR_RETURN(package::PackageInfo info,
                            package::create_package(create->directory, create->output, key));
    if (globals.json)
      print_info(info, true);
    else
      std::printf("wrote %s (%s, %s)\n", create->output.c_str(), info.manifest.name.c_str(),
                  info.signature ? ("signed by " + info.signature->key_id).c_str() : "unsigned");
    return {};
  });

  auto verify = std::make_shared<VerifyArgs>();
  auto* verify_cmd = pkg->add_subcommand("verify", "Check a package: paths, sizes, hashes, signature");
  verify_cmd->add_option("FILE", verify->file, "package zip")->required();
  verify_cmd->add_option("--key", verify->keys,
                         "trusted public key; when given, a valid signature by it is required");
  verify_cmd->add_option("--max-compression-ratio", verify->max_ratio, "zip bomb limit");
  set_action(verify_cmd, exit_code, [verify, &globals]() -> Status {
    package::VerifyOptions options;
    options.limits.max_compression_ratio = verify->max_ratio;
    options.allow_unsigned = verify->keys.empty();
    for (const auto& file : verify->keys) {
      CANOPY_ASSIGN_OR_RETURN(PublicKey key, load_public_key(file));
      options.trusted_keys.push_back(key);
    }
    CANOPY_ASSIGN_OR_RETURN(package::PackageInfo info, package::verify_package(verify->file, options));
    if (globals.json)
      print_info(info, true);
    else
      std::printf(
          "ok: %s verified (%zu files, %s)\n", info.manifest.name.c_str(), info.manifest.files.size(),
          info.signature_trusted ? ("signature by trusted key " + info.signature->key_id).c_str()
          : info.signature
              ? ("signature valid, signer " + info.signature->key_id + " not checked (no --key)").c_str()
              : "unsigned");
    return {};
  });

  auto inspect_file = std::make_shared<std::string>();
  auto* inspect_cmd =
      pkg->add_subcommand("inspect", "Show a package's manifest and files (after verifying it)");
  inspect_cmd->add_option("FILE", *inspect_file, "package zip")->required();
  set_action(inspect_cmd, exit_code, [inspect_file, &globals]() -> Status {
    package::VerifyOptions options;
    options.allow_unsigned = true;
    CANOPY_ASSIGN_OR_RETURN(package::PackageInfo info, package::verify_package(*inspect_file, options));
    print_info(info, globals.json);
    return {};
  });
}

}  // namespace canopy::cli
