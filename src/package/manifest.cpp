#include "package/manifest.h"

#include <set>

#include "common/files.h"
#include "common/hash.h"
#include "common/text.h"

namespace canopy::package {

namespace {

const std::set<std::string, std::less<>> kTopLevelFields = {
    "format",     "name",    "task",    "description", "labels", "tags",   "input",  "output",
    "thresholds", "metrics", "lineage", "created_at",  "files",  "golden", "budgets"};
const std::set<std::string, std::less<>> kRoles = {"model", "golden-input", "golden-output", "other"};

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, "manifest: " + std::move(message));
}

Result<InputSpec> parse_input(const Json& json) {
  if (!json.is_object()) return invalid("'input' must be an object");
  InputSpec spec;
  CANOPY_ASSIGN_OR_RETURN(spec.shape, json_get<std::vector<std::int64_t>>(json, "shape"));
  if (spec.shape.size() != 4) return invalid("'input.shape' must have 4 dimensions (N, C, H, W)");
  for (auto dim : spec.shape)
    if (dim <= 0 || dim > 16384) return invalid("'input.shape' dimensions must be in 1..16384");
  CANOPY_ASSIGN_OR_RETURN(spec.layout, json_get_or<std::string>(json, "layout", spec.layout));
  CANOPY_ASSIGN_OR_RETURN(spec.dtype, json_get_or<std::string>(json, "dtype", spec.dtype));
  CANOPY_ASSIGN_OR_RETURN(spec.color, json_get_or<std::string>(json, "color", spec.color));
  CANOPY_ASSIGN_OR_RETURN(spec.resize, json_get_or<std::string>(json, "resize", spec.resize));
  CANOPY_ASSIGN_OR_RETURN(spec.scale, json_get_or<double>(json, "scale", spec.scale));
  CANOPY_ASSIGN_OR_RETURN(spec.mean, json_get_or<std::vector<double>>(json, "mean", spec.mean));
  CANOPY_ASSIGN_OR_RETURN(spec.std, json_get_or<std::vector<double>>(json, "std", spec.std));
  if (spec.layout != "NCHW" && spec.layout != "NHWC") return invalid("'input.layout' must be NCHW or NHWC");
  if (spec.color != "RGB" && spec.color != "BGR") return invalid("'input.color' must be RGB or BGR");
  if (spec.resize != "letterbox" && spec.resize != "stretch")
    return invalid("'input.resize' must be letterbox or stretch");
  if (spec.dtype != "float32" && spec.dtype != "uint8")
    return invalid("'input.dtype' must be float32 or uint8");
  for (double s : spec.std)
    if (s == 0.0) return invalid("'input.std' must not contain 0");
  return spec;
}

Json input_to_json(const InputSpec& spec) {
  return Json{{"shape", spec.shape},   {"layout", spec.layout}, {"dtype", spec.dtype}, {"color", spec.color},
              {"resize", spec.resize}, {"scale", spec.scale},   {"mean", spec.mean},   {"std", spec.std}};
}

Result<FileEntry> parse_file_entry(const Json& json) {
  if (!json.is_object()) return invalid("each entry of 'files' must be an object");
  FileEntry entry;
  CANOPY_ASSIGN_OR_RETURN(entry.path, json_get<std::string>(json, "path"));
  CANOPY_ASSIGN_OR_RETURN(entry.sha256, json_get<std::string>(json, "sha256"));
  CANOPY_ASSIGN_OR_RETURN(entry.size_bytes, json_get<std::uint64_t>(json, "size"));
  CANOPY_ASSIGN_OR_RETURN(entry.role, json_get_or<std::string>(json, "role", "other"));
  if (!is_canonical_relative_path(entry.path))
    return invalid("file path '" + entry.path +
                   "' must be relative, stay inside the package, and have no '.' or empty parts");
  if (entry.path == kManifestName || entry.path == kSignatureName)
    return invalid("'" + entry.path + "' is reserved and cannot be listed in 'files'");
  if (!is_sha256_hex(entry.sha256))
    return invalid("file '" + entry.path + "' has a malformed sha256 (64 lowercase hex digits expected)");
  if (kRoles.count(entry.role) == 0)
    return invalid("file '" + entry.path + "' has unknown role '" + entry.role + "'");
  return entry;
}

}  // namespace

bool is_valid_model_name(std::string_view name) { return is_plain_name(name, 128); }

const FileEntry* Manifest::find_file(std::string_view path) const {
  for (const auto& f : files)
    if (f.path == path) return &f;
  return nullptr;
}

const FileEntry& Manifest::model_file() const {
  for (const auto& f : files)
    if (f.role == "model") return f;
  return files.front();  // unreachable for a parsed manifest: parse requires one model
}

std::uint64_t Manifest::total_size_bytes() const {
  std::uint64_t total = 0;
  for (const auto& f : files) total += f.size_bytes;
  return total;
}

Result<Manifest> parse_manifest(std::string_view bytes) {
  CANOPY_ASSIGN_OR_RETURN(Json json, parse_json(bytes, "canopy.json"));
  if (!json.is_object()) return invalid("must be a JSON object");
  for (const auto& item : json.items())
    if (kTopLevelFields.count(item.key()) == 0) return invalid("unknown field '" + item.key() + "'");

  Manifest m;
  CANOPY_ASSIGN_OR_RETURN(m.format, json_get<int>(json, "format"));
  if (m.format != kFormatVersion)
    return invalid("format " + std::to_string(m.format) + " is not supported (this build reads format " +
                   std::to_string(kFormatVersion) + ")");
  CANOPY_ASSIGN_OR_RETURN(m.name, json_get<std::string>(json, "name"));
  if (!is_valid_model_name(m.name))
    return invalid("name '" + m.name +
                   "' must be 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit");
  CANOPY_ASSIGN_OR_RETURN(m.task, json_get_or<std::string>(json, "task", m.task));
  if (m.task != "detection") return invalid("task '" + m.task + "' is not supported (only 'detection')");
  CANOPY_ASSIGN_OR_RETURN(m.description, json_get_or<std::string>(json, "description", ""));
  CANOPY_ASSIGN_OR_RETURN(m.labels, json_get<std::vector<std::string>>(json, "labels"));
  if (m.labels.empty()) return invalid("'labels' must name at least one class");
  std::set<std::string> unique_labels(m.labels.begin(), m.labels.end());
  if (unique_labels.size() != m.labels.size()) return invalid("'labels' has duplicates");
  CANOPY_ASSIGN_OR_RETURN(m.tags, json_get_or<std::vector<std::string>>(json, "tags", {}));
  if (!json.contains("input")) return invalid("missing field 'input'");
  CANOPY_ASSIGN_OR_RETURN(m.input, parse_input(json["input"]));
  m.output = json.value("output", Json::object());
  if (!m.output.is_object()) return invalid("'output' must be an object");
  if (json.contains("thresholds")) {
    const Json& t = json["thresholds"];
    if (!t.is_object()) return invalid("'thresholds' must be an object");
    CANOPY_ASSIGN_OR_RETURN(m.thresholds.score, json_get_or<double>(t, "score", m.thresholds.score));
    CANOPY_ASSIGN_OR_RETURN(m.thresholds.iou, json_get_or<double>(t, "iou", m.thresholds.iou));
    if (m.thresholds.score < 0 || m.thresholds.score > 1 || m.thresholds.iou < 0 || m.thresholds.iou > 1)
      return invalid("'thresholds' values must be between 0 and 1");
  }
  m.metrics = json.value("metrics", Json::object());
  m.lineage = json.value("lineage", Json::object());
  if (!m.metrics.is_object() || !m.lineage.is_object())
    return invalid("'metrics' and 'lineage' must be objects");
  CANOPY_ASSIGN_OR_RETURN(m.created_at, json_get_or<std::string>(json, "created_at", ""));

  if (!json.contains("files") || !json["files"].is_array() || json["files"].empty())
    return invalid("'files' must list at least the model file");
  std::set<std::string> seen;
  int models = 0;
  for (const auto& item : json["files"]) {
    CANOPY_ASSIGN_OR_RETURN(FileEntry entry, parse_file_entry(item));
    if (!seen.insert(entry.path).second) return invalid("file '" + entry.path + "' is listed twice");
    if (entry.role == "model") ++models;
    m.files.push_back(std::move(entry));
  }
  if (models != 1) return invalid("exactly one file must have role 'model'");

  if (json.contains("golden")) {
    if (!json["golden"].is_array()) return invalid("'golden' must be an array");
    for (const auto& item : json["golden"]) {
      if (!item.is_object()) return invalid("each golden sample must be an object");
      GoldenSample sample;
      CANOPY_ASSIGN_OR_RETURN(sample.input, json_get<std::string>(item, "input"));
      CANOPY_ASSIGN_OR_RETURN(sample.output, json_get<std::string>(item, "output"));
      CANOPY_ASSIGN_OR_RETURN(sample.tolerance, json_get_or<double>(item, "tolerance", sample.tolerance));
      if (m.find_file(sample.input) == nullptr || m.find_file(sample.output) == nullptr)
        return invalid("golden sample '" + sample.input + "' refers to files not listed in 'files'");
      m.golden.push_back(std::move(sample));
    }
  }
  if (json.contains("budgets")) {
    const Json& b = json["budgets"];
    if (!b.is_object()) return invalid("'budgets' must be an object");
    CANOPY_ASSIGN_OR_RETURN(m.budgets.latency_ms, json_get_or<double>(b, "latency_ms", 0.0));
    CANOPY_ASSIGN_OR_RETURN(m.budgets.memory_bytes, json_get_or<std::uint64_t>(b, "memory_bytes", 0));
    if (m.budgets.latency_ms < 0) return invalid("'budgets.latency_ms' must not be negative");
  }
  return m;
}

std::string serialize_manifest(const Manifest& m) {
  Json files = Json::array();
  for (const auto& f : m.files)
    files.push_back({{"path", f.path}, {"sha256", f.sha256}, {"size", f.size_bytes}, {"role", f.role}});
  Json golden = Json::array();
  for (const auto& g : m.golden)
    golden.push_back({{"input", g.input}, {"output", g.output}, {"tolerance", g.tolerance}});
  Json json = {{"format", m.format},
               {"name", m.name},
               {"task", m.task},
               {"description", m.description},
               {"labels", m.labels},
               {"tags", m.tags},
               {"input", input_to_json(m.input)},
               {"output", m.output},
               {"thresholds", {{"score", m.thresholds.score}, {"iou", m.thresholds.iou}}},
               {"metrics", m.metrics},
               {"lineage", m.lineage},
               {"created_at", m.created_at},
               {"files", files},
               {"golden", golden}};
  // Written only when set, so manifests without budgets keep their exact bytes.
  if (m.budgets.any())
    json["budgets"] = {{"latency_ms", m.budgets.latency_ms}, {"memory_bytes", m.budgets.memory_bytes}};
  return json.dump(2) + "\n";
}

Result<std::vector<std::int64_t>> parse_shape(std::string_view text) {
  std::vector<std::int64_t> shape;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('x', start);
    if (end == std::string_view::npos) end = text.size();
    const std::optional<std::int64_t> dim = parse_int(text.substr(start, end - start));
    if (!dim || *dim <= 0)
      return make_error(ErrorCode::kInvalidArgument,
                        "input shape '" + std::string(text) + "' must look like 1x3x320x320");
    shape.push_back(*dim);
    start = end + 1;
  }
  if (shape.size() != 4)
    return make_error(ErrorCode::kInvalidArgument,
                      "input shape '" + std::string(text) + "' must have 4 dimensions, like 1x3x320x320");
  return shape;
}

}  // namespace canopy::package
