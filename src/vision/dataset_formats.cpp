#include "vision/dataset_formats.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "common/files.h"
#include "common/text.h"
#include "vision/image.h"

namespace canopy::vision {

namespace {

// ---------------------------------------------------------------- shared

// Annotation tools round box corners differently; a box may stick out of its
// image by this much before it counts as wrong.
constexpr float kBoxTolerancePx = 1.0f;

constexpr const char* kYoloConfigName = "data.yaml";
constexpr const char* kCocoFileName = "annotations.json";
constexpr const char* kLabelStudioFileName = "tasks.json";
constexpr const char* kCvatFileName = "annotations.xml";

// Calls visit(line_number, line) for every line that is not blank, trimmed.
template <typename Visit>
void for_each_line(std::string_view text, Visit visit) {
  for (int line = 1; !text.empty(); ++line) {
    const size_t end = std::min(text.find('\n'), text.size());
    const std::string_view content = trim(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
    if (!content.empty()) visit(line, content);
  }
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool is_image_file(const fs::path& path) {
  const std::string extension = lower(path.extension().string());
  return extension == ".jpg" || extension == ".jpeg" || extension == ".png";
}

std::optional<float> parse_float(std::string_view text) {
  float value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<long long> parse_integer(std::string_view text) {
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The shortest fixed-point text that reads back as exactly `value`.
std::string format_float(float value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed);
  return std::string(buffer, result.ptr);
}

std::string format_box(const Box& box) {
  return "[" + format_float(box.x1) + ", " + format_float(box.y1) + ", " + format_float(box.x2) + ", " +
         format_float(box.y2) + "]";
}

std::string format_size(cv::Size size) {
  return std::to_string(size.width) + "x" + std::to_string(size.height);
}

// Where a problem sits: a file, a line when the format has them, and the item
// inside the file ("annotation id 7") when it has not.
struct Location {
  fs::path file;
  int line = 0;
  std::string item;

  Problem problem(const std::string& message) const {
    return Problem{file, line, item.empty() ? message : item + ": " + message};
  }
};

void skip_object(LoadedDataset& loaded, Problem problem) {
  loaded.problems.push_back(std::move(problem));
  ++loaded.skipped_objects;
}

void skip_image(LoadedDataset& loaded, Problem problem) {
  loaded.problems.push_back(std::move(problem));
  ++loaded.skipped_images;
}

// Problems that drop nothing by themselves, such as a missing split folder.
void note(LoadedDataset& loaded, Problem problem) { loaded.problems.push_back(std::move(problem)); }

// Why `box` cannot be used in an image of `size`, or nothing. A box inside
// the tolerance is clipped, so every loaded box lies within its image.
std::optional<std::string> check_box(Box& box, cv::Size size) {
  if (!(box.x2 > box.x1) || !(box.y2 > box.y1))
    return "box " + format_box(box) + " has zero or negative size";
  const auto width = static_cast<float>(size.width), height = static_cast<float>(size.height);
  const Box clipped{std::max(box.x1, 0.0f), std::max(box.y1, 0.0f), std::min(box.x2, width),
                    std::min(box.y2, height)};
  // The second test catches a box lying wholly inside the tolerance margin.
  if (box.x1 < -kBoxTolerancePx || box.y1 < -kBoxTolerancePx || box.x2 > width + kBoxTolerancePx ||
      box.y2 > height + kBoxTolerancePx || !(clipped.x2 > clipped.x1) || !(clipped.y2 > clipped.y1))
    return "box " + format_box(box) + " lies outside the " + format_size(size) + " image";
  box = clipped;
  return std::nullopt;
}

// The size of `image`. A missing image is reported where it is referenced
// (`where`), an unreadable one against the image file itself; either way the
// sample is skipped and nothing is returned.
std::optional<cv::Size> image_size_or_skip(LoadedDataset& loaded, const fs::path& image,
                                           const Location& where) {
  std::error_code ec;
  if (!fs::is_regular_file(image, ec)) {
    skip_image(loaded, where.problem("image " + image.string() + " not found"));
    return std::nullopt;
  }
  auto size = read_image_size(image);
  if (!size.ok()) {
    // read_image_size names the path first; the problem names it as its file.
    std::string message = size.error().message;
    const std::string prefix = image.string() + ": ";
    if (message.starts_with(prefix)) message.erase(0, prefix.size());
    skip_image(loaded, Problem{image, 0, message});
    return std::nullopt;
  }
  return *size;
}

// `path` relative to `root`, or nothing when it lies outside.
std::optional<fs::path> relative_inside(const fs::path& path, const fs::path& root) {
  const fs::path relative = path.lexically_normal().lexically_relative(root.lexically_normal());
  if (relative.empty() || *relative.begin() == "..") return std::nullopt;
  return relative;
}

// An image an index file names, relative to the index's folder `dir`: the
// name as written, else inside the folder's images/ (COCO, Label Studio and
// CVAT exports put them either way).
std::optional<fs::path> locate_in(const fs::path& dir, const fs::path& name) {
  std::error_code ec;
  for (const fs::path& relative : {name, fs::path("images") / name})
    if (fs::is_regular_file(dir / relative, ec)) return relative.lexically_normal();
  return std::nullopt;
}

// The problem of an image locate_in did not find.
std::string not_found_in(const std::string& name, const fs::path& dir) {
  return "image " + name + " not found in " + dir.string() + " or " + (dir / "images").string();
}

// Regular image files under `dir`, recursively, relative to `root`.
std::vector<fs::path> list_images(const fs::path& dir, const fs::path& root) {
  std::vector<fs::path> images;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && is_image_file(it->path()))
      if (auto relative = relative_inside(it->path(), root)) images.push_back(*relative);
  std::sort(images.begin(), images.end());
  return images;
}

Result<LoadedDataset> finish(LoadedDataset loaded, const ReadOptions& options) {
  if (!options.strict || loaded.problems.empty()) return loaded;
  std::string message = to_string(loaded.problems.front());
  if (loaded.problems.size() > 1)
    message += " (and " + std::to_string(loaded.problems.size() - 1) + " more problems)";
  return make_error(ErrorCode::kInvalidArgument, message);
}

// ---------------------------------------------------------------- YOLO

// One train/val/test entry of data.yaml: a folder of images or a text file
// listing them.
struct YoloSplit {
  std::string key;
  std::string value;
  int line = 0;
};

struct YoloConfig {
  fs::path yaml;
  fs::path root;  // `path:` from data.yaml, else the file's directory
  std::vector<std::string> names;
  std::vector<YoloSplit> splits;
};

int yaml_line(const YAML::Mark& mark) { return mark.line < 0 ? 0 : mark.line + 1; }

Error yaml_error(const fs::path& yaml, const YAML::Mark& mark, const std::string& message) {
  return make_error(ErrorCode::kInvalidArgument, to_string(Problem{yaml, yaml_line(mark), message}));
}

// `names` as a list, or as a map {0: a, 1: b} whose keys must be 0..n-1.
Result<std::vector<std::string>> yolo_names(const YAML::Node& names, const fs::path& yaml) {
  std::vector<std::string> out;
  if (names.IsSequence()) {
    for (const auto& name : names) {
      if (!name.IsScalar())
        return yaml_error(yaml, name.Mark(), "every entry of 'names' must be a class name");
      out.push_back(name.Scalar());
    }
    return out;
  }
  if (!names.IsMap()) return yaml_error(yaml, names.Mark(), "'names' must be a list or an {index: name} map");
  std::map<long long, std::string> by_index;
  for (const auto& entry : names) {
    auto index = parse_integer(entry.first.Scalar());
    if (!index || !entry.second.IsScalar())
      return yaml_error(yaml, entry.first.Mark(), "'names' entries must be 'index: name'");
    by_index[*index] = entry.second.Scalar();
  }
  for (const auto& [index, name] : by_index) {
    if (index != static_cast<long long>(out.size()))
      return yaml_error(yaml, names.Mark(),
                        "'names' indices must run 0.." + std::to_string(by_index.size() - 1));
    out.push_back(name);
  }
  return out;
}

Result<YoloConfig> parse_data_yaml(const fs::path& yaml, const std::string& text) {
  YoloConfig config;
  config.yaml = yaml;
  const YAML::Node root = YAML::Load(text);
  if (!root.IsMap()) return yaml_error(yaml, root.Mark(), "expected a mapping with 'names'");
  config.root = yaml.parent_path();
  // yaml-cpp throws when asked the type of a missing key, hence IsDefined first.
  if (const YAML::Node path = root["path"]; path.IsDefined() && path.IsScalar())
    config.root /= path.Scalar();  // an absolute path replaces the directory
  config.root = config.root.lexically_normal();
  const YAML::Node names = root["names"];
  if (!names.IsDefined()) return yaml_error(yaml, root.Mark(), "missing 'names' (the class names)");
  CANOPY_ASSIGN_OR_RETURN(config.names, yolo_names(names, yaml));
  for (const char* key : {"train", "val", "test"}) {
    const YAML::Node split = root[key];
    if (!split.IsDefined()) continue;
    if (split.IsScalar()) config.splits.push_back({key, split.Scalar(), yaml_line(split.Mark())});
    if (!split.IsSequence()) continue;
    for (const auto& entry : split) {
      if (!entry.IsScalar())
        return yaml_error(yaml, entry.Mark(), std::string("'") + key + "' entries must be paths");
      config.splits.push_back({key, entry.Scalar(), yaml_line(entry.Mark())});
    }
  }
  if (config.splits.empty()) config.splits.push_back({"images", "images", 0});
  return config;
}

Result<YoloConfig> read_data_yaml(const fs::path& yaml) {
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(yaml));
  try {
    return parse_data_yaml(yaml, text);
  } catch (const YAML::Exception& e) {
    return yaml_error(yaml, e.mark, "invalid YAML: " + e.msg);
  }
}

// The images named by a text file, one per line, relative to that file.
void list_images_from_file(const YoloConfig& config, const fs::path& list, LoadedDataset& loaded,
                           std::set<fs::path>& images) {
  auto text = read_file(list);
  if (!text.ok()) return note(loaded, Problem{list, 0, text.error().message});
  for_each_line(*text, [&](int line, std::string_view entry) {
    const fs::path image = list.parent_path() / entry;
    const auto relative = relative_inside(image, config.root);
    std::error_code ec;
    if (!relative)
      skip_image(loaded, Problem{list, line, std::string(entry) + " lies outside the dataset directory"});
    else if (!fs::is_regular_file(image, ec))
      skip_image(loaded, Problem{list, line, "image " + image.string() + " not found"});
    else
      images.insert(*relative);
  });
}

void collect_split(const YoloConfig& config, const YoloSplit& split, LoadedDataset& loaded,
                   std::set<fs::path>& images) {
  std::error_code ec;
  fs::path path = config.root / split.value;
  // Roboflow writes "train: ../train/images" next to the train folder;
  // Ultralytics reads such a path relative to the dataset, and so do we.
  if (!fs::exists(path, ec) && split.value.starts_with("../")) path = config.root / split.value.substr(3);
  const Location where{config.yaml, split.line, split.key};
  if (!fs::exists(path, ec)) return note(loaded, where.problem(path.string() + " does not exist"));
  if (!relative_inside(path, config.root))
    return note(loaded,
                where.problem(split.value + " lies outside the dataset directory " + config.root.string()));
  if (fs::is_directory(path, ec)) {
    for (auto& image : list_images(path, config.root)) images.insert(std::move(image));
    return;
  }
  list_images_from_file(config, path, loaded, images);
}

// Ultralytics' rule: the label file of .../images/x/a.jpg is
// .../labels/x/a.txt (the last "images" folder swapped for "labels"). An
// image outside any images/ folder has its label file beside it.
fs::path yolo_label_path(const fs::path& image) {
  std::vector<fs::path> parts(image.begin(), image.end());
  for (size_t i = parts.size() - 1; i-- > 0;)
    if (parts[i] == "images") {
      parts[i] = "labels";
      break;
    }
  fs::path label;
  for (const auto& part : parts) label /= part;
  return label.replace_extension(".txt");
}

// One "class cx cy w h" line in an image of `size`.
Result<Annotation> parse_yolo_line(std::string_view line, cv::Size size, size_t class_count) {
  std::vector<std::string_view> fields;
  for (size_t pos = 0; (pos = line.find_first_not_of(" \t", pos)) != std::string_view::npos;) {
    const size_t end = std::min(line.find_first_of(" \t", pos), line.size());
    fields.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  if (fields.size() != 5)
    return make_error(ErrorCode::kInvalidArgument,
                      "expected 5 fields 'class cx cy w h', found " + std::to_string(fields.size()));
  const auto label = parse_integer(fields[0]);
  if (!label)
    return make_error(ErrorCode::kInvalidArgument,
                      "class '" + std::string(fields[0]) + "' is not an integer");
  if (*label < 0 || *label >= static_cast<long long>(class_count))
    return make_error(ErrorCode::kInvalidArgument, "unknown class " + std::to_string(*label) +
                                                       " (data.yaml names " + std::to_string(class_count) +
                                                       " classes)");
  double values[4];
  for (size_t i = 0; i < 4; ++i) {
    const auto value = parse_float(fields[i + 1]);
    if (!value)
      return make_error(ErrorCode::kInvalidArgument, "'" + std::string(fields[i + 1]) + "' is not a number");
    values[i] = *value;
  }
  const double width = size.width, height = size.height;
  const double cx = values[0] * width, cy = values[1] * height, w = values[2] * width, h = values[3] * height;
  Annotation annotation;
  annotation.box = Box{static_cast<float>(cx - w / 2), static_cast<float>(cy - h / 2),
                       static_cast<float>(cx + w / 2), static_cast<float>(cy + h / 2)};
  annotation.label = static_cast<int>(*label);
  if (auto why = check_box(annotation.box, size)) return make_error(ErrorCode::kInvalidArgument, *why);
  return annotation;
}

void read_yolo_sample(const YoloConfig& config, const fs::path& image, LoadedDataset& loaded) {
  auto size = image_size_or_skip(loaded, config.root / image, Location{config.root / image, 0, ""});
  if (!size) return;
  Sample sample{image, size->width, size->height, {}};
  const fs::path label_file = config.root / yolo_label_path(image);
  std::error_code ec;
  if (fs::exists(label_file, ec)) {
    auto text = read_file(label_file);
    if (!text.ok()) return skip_image(loaded, Problem{label_file, 0, text.error().message});
    for_each_line(*text, [&](int line, std::string_view content) {
      auto annotation = parse_yolo_line(content, *size, config.names.size());
      if (annotation.ok())
        sample.objects.push_back(std::move(*annotation));
      else
        skip_object(loaded, Problem{label_file, line, annotation.error().message});
    });
  }
  loaded.dataset.samples.push_back(std::move(sample));
}

Status read_yolo(const fs::path& path, LoadedDataset& loaded) {
  std::error_code ec;
  const fs::path yaml = fs::is_directory(path, ec) ? path / kYoloConfigName : path;
  if (!fs::is_regular_file(yaml, ec))
    return make_error(ErrorCode::kNotFound, "no " + std::string(kYoloConfigName) + " in " + path.string());
  CANOPY_ASSIGN_OR_RETURN(YoloConfig config, read_data_yaml(yaml));
  std::set<fs::path> images;  // a set: train and val may name the same folder
  for (const auto& split : config.splits) collect_split(config, split, loaded, images);
  loaded.dataset.root = config.root;
  loaded.dataset.labels = config.names;
  for (const auto& image : images) read_yolo_sample(config, image, loaded);
  return {};
}

// ---------------------------------------------------------------- COCO

bool looks_like_coco(const fs::path& file) {
  auto text = read_file(file);
  return text.ok() && text->find("\"images\"") != std::string::npos &&
         text->find("\"annotations\"") != std::string::npos;
}

// annotations.json, else the one JSON file in `dir` that holds images and
// annotations.
Result<fs::path> find_coco_json(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_regular_file(dir / kCocoFileName, ec)) return dir / kCocoFileName;
  std::vector<fs::path> found;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".json" && it->is_regular_file(ec) && looks_like_coco(it->path()))
      found.push_back(it->path());
  if (found.empty()) return make_error(ErrorCode::kNotFound, "no COCO JSON file in " + dir.string());
  if (found.size() > 1) {
    std::sort(found.begin(), found.end());
    std::string names;
    for (const auto& file : found) names += (names.empty() ? "" : ", ") + file.filename().string();
    return make_error(ErrorCode::kInvalidArgument, "several COCO JSON files in " + dir.string() + " (" +
                                                       names + "); pass the one to read");
  }
  return found.front();
}

Result<Json> read_json_file(const fs::path& file) {
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(file));
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    const size_t offset = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    const int line = 1 + static_cast<int>(std::count(
                             text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
    // what() starts with "[json.exception.parse_error.101] parse error at line L, column C: ".
    std::string message = e.what();
    if (const size_t colon = message.find(": "); colon != std::string::npos) message.erase(0, colon + 2);
    return make_error(ErrorCode::kInvalidArgument,
                      to_string(Problem{file, line, "invalid JSON: " + message}));
  } catch (const Json::out_of_range&) {
    // A number too large for a double ("1e999"): nlohmann throws this, not a parse_error.
    return make_error(ErrorCode::kInvalidArgument,
                      to_string(Problem{file, 0, "invalid JSON: a number out of range"}));
  }
}

// The member `key` of `object` when it is an integer (a string); nothing
// when `object` is not an object, lacks the member, or has another type.
std::optional<long long> json_integer(const Json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<long long>();
}

std::optional<std::string> json_string(const Json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// "annotation id 7", or "annotation #3" for one without an integer id.
std::string coco_item(const Json& item, const char* kind, size_t index) {
  if (auto id = json_integer(item, "id")) return std::string(kind) + " id " + std::to_string(*id);
  return std::string(kind) + " #" + std::to_string(index);
}

struct CocoReader {
  fs::path json;
  LoadedDataset& loaded;
  std::map<long long, int> label_of_category;
  std::map<long long, size_t> sample_of_image;
  std::set<long long> skipped_images;  // their annotations go without a second problem

  Location at(const std::string& item) const { return Location{json, 0, item}; }

  void skip_image_id(long long id, Problem problem) {
    skipped_images.insert(id);
    skip_image(loaded, std::move(problem));
  }

  // Labels in category id order.
  void read_categories(const Json& categories) {
    std::map<long long, std::string> by_id;
    for (size_t i = 0; i < categories.size(); ++i) {
      const Json& category = categories[i];
      const auto id = json_integer(category, "id");
      auto name = json_string(category, "name");
      if (!id || !name) {
        note(loaded,
             at(coco_item(category, "category", i)).problem("needs an integer 'id' and a string 'name'"));
        continue;
      }
      if (!by_id.emplace(*id, std::move(*name)).second)
        note(loaded, at(coco_item(category, "category", i)).problem("duplicate category id"));
    }
    for (const auto& [id, name] : by_id) {
      label_of_category[id] = static_cast<int>(loaded.dataset.labels.size());
      loaded.dataset.labels.push_back(name);
    }
  }

  void read_image(const Json& image, size_t index) {
    const Location where = at(coco_item(image, "image", index));
    const auto id = json_integer(image, "id");
    const auto name = json_string(image, "file_name");
    if (!id || !name)
      return skip_image(loaded, where.problem("needs an integer 'id' and a string 'file_name'"));
    if (!is_confined_relative_path(*name))
      return skip_image_id(
          *id, where.problem("file_name '" + *name + "' must be a relative path inside the dataset"));
    const fs::path dir = json.parent_path();
    const auto relative = locate_in(dir, *name);
    if (!relative) return skip_image_id(*id, where.problem(not_found_in(*name, dir)));
    const auto size = image_size_or_skip(loaded, dir / *relative, where);
    if (!size) {
      skipped_images.insert(*id);
      return;
    }
    const auto width = json_integer(image, "width"), height = json_integer(image, "height");
    if (width && height && (*width != size->width || *height != size->height))
      return skip_image_id(
          *id, where.problem("says " + std::to_string(*width) + "x" + std::to_string(*height) + " but " +
                             *name + " is " + format_size(*size)));
    if (!sample_of_image.emplace(*id, loaded.dataset.samples.size()).second)
      return skip_image(loaded, where.problem("duplicate image id"));
    loaded.dataset.samples.push_back(Sample{*relative, size->width, size->height, {}});
  }

  // The annotation's box, label and attributes, checked against its image.
  Result<Annotation> parse_annotation(const Json& annotation, const Sample& sample) const {
    const auto category = json_integer(annotation, "category_id");
    if (!category) return make_error(ErrorCode::kInvalidArgument, "needs an integer 'category_id'");
    const auto label = label_of_category.find(*category);
    if (label == label_of_category.end())
      return make_error(ErrorCode::kInvalidArgument, "unknown category_id " + std::to_string(*category));
    const auto bbox = annotation.find("bbox");
    if (bbox == annotation.end() || !bbox->is_array() || bbox->size() != 4 ||
        !std::all_of(bbox->begin(), bbox->end(), [](const Json& v) { return v.is_number(); }))
      return make_error(ErrorCode::kInvalidArgument, "bbox must be 4 numbers [x, y, width, height]");
    const auto x = (*bbox)[0].get<double>(), y = (*bbox)[1].get<double>();
    const auto w = (*bbox)[2].get<double>(), h = (*bbox)[3].get<double>();
    Annotation out;
    out.box = Box{static_cast<float>(x), static_cast<float>(y), static_cast<float>(x + w),
                  static_cast<float>(y + h)};
    out.label = label->second;
    if (auto why = check_box(out.box, cv::Size(sample.width, sample.height)))
      return make_error(ErrorCode::kInvalidArgument, *why);
    if (json_integer(annotation, "iscrowd") == 1) out.attributes["iscrowd"] = "1";
    if (auto attributes = annotation.find("attributes");
        attributes != annotation.end() && attributes->is_object())
      for (const auto& [key, value] : attributes->items())
        out.attributes[key] = value.is_string() ? value.get<std::string>() : value.dump();
    return out;
  }

  void read_annotation(const Json& annotation, size_t index) {
    const Location where = at(coco_item(annotation, "annotation", index));
    const auto image = json_integer(annotation, "image_id");
    if (image && skipped_images.count(*image)) return;
    const auto sample = image ? sample_of_image.find(*image) : sample_of_image.end();
    if (sample == sample_of_image.end())
      return skip_object(loaded, where.problem(image ? "unknown image_id " + std::to_string(*image)
                                                     : "needs an integer 'image_id'"));
    Sample& target = loaded.dataset.samples[sample->second];
    auto parsed = parse_annotation(annotation, target);
    if (!parsed.ok()) return skip_object(loaded, where.problem(parsed.error().message));
    target.objects.push_back(std::move(*parsed));
  }
};

Status read_coco(const fs::path& path, LoadedDataset& loaded) {
  std::error_code ec;
  fs::path json_file = path;
  if (fs::is_directory(path, ec)) {
    CANOPY_ASSIGN_OR_RETURN(json_file, find_coco_json(path));
  }
  CANOPY_ASSIGN_OR_RETURN(Json json, read_json_file(json_file));
  for (const char* key : {"images", "annotations", "categories"})
    if (!json.is_object() || !json.contains(key) || !json[key].is_array())
      return make_error(ErrorCode::kInvalidArgument,
                        json_file.string() + ": not a COCO file: needs a '" + key + "' array");
  CocoReader reader{json_file, loaded, {}, {}, {}};
  loaded.dataset.root = json_file.parent_path();
  reader.read_categories(json["categories"]);
  for (size_t i = 0; i < json["images"].size(); ++i) reader.read_image(json["images"][i], i);
  for (size_t i = 0; i < json["annotations"].size(); ++i) reader.read_annotation(json["annotations"][i], i);
  return {};
}

// ---------------------------------------------------------------- VOC

struct XmlDocFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using XmlDocument = std::unique_ptr<xmlDoc, XmlDocFree>;

// libxml2 wants xmlInitParser once before threads parse; a function-local
// static runs it exactly once, whichever thread gets here first.
void init_libxml() {
  static const bool initialized = [] {
    xmlInitParser();
    return true;
  }();
  (void)initialized;
}

// Keeps the parser's first error: libxml2 reports more after it ("Premature
// end of data" at the end of the file), and only the first points at the fault.
void keep_first_xml_error(void* user_data, xmlErrorPtr error) {
  auto* context = static_cast<xmlParserCtxtPtr>(user_data);
  auto* problem = static_cast<Problem*>(context->_private);
  if (!problem->message.empty() || error->level < XML_ERR_ERROR) return;
  problem->line = error->line;
  problem->message = "invalid XML: " + std::string(trim(error->message ? error->message : "not well-formed"));
}

// Parses untrusted XML: no network, no entity expansion, no DTD loading (the
// libxml2 defaults, kept), and no error text printed to stderr. On failure
// returns nothing and sets `problem` to the first syntax error and its line.
XmlDocument parse_xml(std::string_view bytes, const fs::path& file, Problem& problem) {
  init_libxml();
  problem = Problem{file, 0, ""};
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    problem.message = "XML file too large";
    return nullptr;
  }
  std::unique_ptr<xmlParserCtxt, void (*)(xmlParserCtxtPtr)> context(xmlNewParserCtxt(), xmlFreeParserCtxt);
  if (!context) {
    problem.message = "cannot start the XML parser";
    return nullptr;
  }
  // A per-parse handler (the context's user data is the context itself), not
  // libxml2's global one, so that threads do not share it.
  context->_private = &problem;
  context->sax->serror = keep_first_xml_error;
  XmlDocument doc(
      xmlCtxtReadMemory(context.get(), bytes.data(), static_cast<int>(bytes.size()), file.c_str(), nullptr,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS));
  if (!doc && problem.message.empty()) problem.message = "invalid XML";
  if (doc) problem.message.clear();  // recoverable errors (namespaces) leave a usable document
  return doc;
}

bool is_element(const xmlNode* node, const char* name = nullptr) {
  return node->type == XML_ELEMENT_NODE && (name == nullptr || xmlStrEqual(node->name, BAD_CAST name));
}

std::vector<const xmlNode*> child_elements(const xmlNode* parent, const char* name = nullptr) {
  std::vector<const xmlNode*> out;
  for (const xmlNode* child = parent->children; child != nullptr; child = child->next)
    if (is_element(child, name)) out.push_back(child);
  return out;
}

const xmlNode* first_child(const xmlNode* parent, const char* name) {
  for (const xmlNode* child = parent->children; child != nullptr; child = child->next)
    if (is_element(child, name)) return child;
  return nullptr;
}

std::string node_text(const xmlNode* node) {
  xmlChar* content = xmlNodeGetContent(node);
  std::string text(trim(content ? reinterpret_cast<const char*>(content) : ""));
  xmlFree(content);
  return text;
}

int line_of(const xmlNode* node) { return static_cast<int>(xmlGetLineNo(node)); }

std::string element_name(const xmlNode* node) { return reinterpret_cast<const char*>(node->name); }

// A VOC object before labels get their indices (they may be discovered
// only after every file is read).
struct VocObject {
  Annotation annotation;
  std::string name;
};

struct VocSample {
  Sample sample;
  std::vector<VocObject> objects;
};

// The image beside an Annotations/ file: JPEGImages/<same folders>/<filename>,
// or the XML file's stem with an image extension when <filename> is wrong.
std::optional<fs::path> locate_voc_image(const fs::path& root, const fs::path& xml_relative,
                                         const std::string& filename) {
  const fs::path dir = fs::path("JPEGImages") / xml_relative.parent_path();
  std::vector<fs::path> candidates;
  if (!filename.empty()) candidates.push_back(dir / filename);
  for (const char* extension : {".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG"})
    candidates.push_back(dir / fs::path(xml_relative.filename()).replace_extension(extension));
  std::error_code ec;
  for (const auto& candidate : candidates)
    if (fs::is_regular_file(root / candidate, ec)) return candidate.lexically_normal();
  return std::nullopt;
}

// <object> number `number` (1-based), or nothing after recording its problem.
std::optional<VocObject> read_voc_object(const xmlNode* object, int number, cv::Size size,
                                         const std::set<std::string>& given_labels, const fs::path& xml,
                                         LoadedDataset& loaded) {
  const std::string item = "object #" + std::to_string(number);
  auto reject = [&](const xmlNode* node, const std::string& message) {
    skip_object(loaded, Location{xml, line_of(node), item}.problem(message));
    return std::nullopt;
  };
  VocObject out;
  if (const xmlNode* name = first_child(object, "name")) out.name = node_text(name);
  if (out.name.empty()) return reject(object, "has no <name>");
  if (!given_labels.empty() && !given_labels.count(out.name))
    return reject(object, "class '" + out.name + "' is not in the label list");
  const xmlNode* bndbox = first_child(object, "bndbox");
  if (!bndbox) return reject(object, "has no <bndbox>");
  float corners[4];
  const std::string keys[4] = {"xmin", "ymin", "xmax", "ymax"};
  for (int i = 0; i < 4; ++i) {
    const xmlNode* node = first_child(bndbox, keys[i].c_str());
    if (!node) return reject(bndbox, "<bndbox> has no <" + keys[i] + ">");
    const std::string text = node_text(node);
    const auto value = parse_float(text);
    if (!value) return reject(node, "<" + keys[i] + "> '" + text + "' is not a number");
    corners[i] = *value;
  }
  out.annotation.box = Box{corners[0], corners[1], corners[2], corners[3]};
  if (auto why = check_box(out.annotation.box, size)) return reject(object, "(" + out.name + ") " + *why);
  // Flat children such as <pose>, <truncated> and <difficult> are kept as
  // attributes; nested ones (VOC person-layout <part>s) are not.
  for (const xmlNode* child : child_elements(object))
    if (!is_element(child, "name") && !is_element(child, "bndbox") && child_elements(child).empty())
      out.annotation.attributes[element_name(child)] = node_text(child);
  return out;
}

// The <size> an annotation declares, checked against the image's own; false
// after recording a problem that skips the sample.
bool check_declared_size(const xmlNode* annotation, cv::Size actual, const fs::path& xml,
                         LoadedDataset& loaded) {
  const xmlNode* size = first_child(annotation, "size");
  if (!size) return true;
  int declared[2] = {0, 0};
  const std::string keys[2] = {"width", "height"};
  for (int i = 0; i < 2; ++i) {
    const xmlNode* node = first_child(size, keys[i].c_str());
    if (!node) continue;
    const std::string text = node_text(node);
    const auto value = parse_integer(text);
    if (!value || *value < 0 || *value > INT_MAX) {
      skip_image(loaded, Problem{xml, line_of(node), "<" + keys[i] + "> '" + text + "' is not a size"});
      return false;
    }
    declared[i] = static_cast<int>(*value);
  }
  // Some exporters write 0 for a size they did not know; the image decides then.
  if (declared[0] == 0 || declared[1] == 0 || cv::Size(declared[0], declared[1]) == actual) return true;
  skip_image(loaded, Problem{xml, line_of(size),
                             "<size> says " + format_size(cv::Size(declared[0], declared[1])) +
                                 " but the image is " + format_size(actual)});
  return false;
}

std::optional<VocSample> read_voc_file(const fs::path& root, const fs::path& xml_relative,
                                       const std::set<std::string>& given_labels, LoadedDataset& loaded) {
  const fs::path xml = root / "Annotations" / xml_relative;
  auto reject = [&](Problem problem) {
    skip_image(loaded, std::move(problem));
    return std::nullopt;
  };
  auto bytes = read_file(xml);
  if (!bytes.ok()) return reject(Problem{xml, 0, bytes.error().message});
  Problem syntax;
  XmlDocument doc = parse_xml(*bytes, xml, syntax);
  if (!doc) return reject(syntax);
  const xmlNode* annotation = xmlDocGetRootElement(doc.get());
  if (!annotation || !is_element(annotation, "annotation"))
    return reject(
        Problem{xml, annotation ? line_of(annotation) : 0, "the root element must be <annotation>"});
  const xmlNode* filename_node = first_child(annotation, "filename");
  const std::string filename = filename_node ? node_text(filename_node) : "";
  const int line = line_of(filename_node ? filename_node : annotation);
  if (!filename.empty() && !is_confined_relative_path(filename))
    return reject(Problem{xml, line, "<filename> '" + filename + "' must be a relative path"});
  const auto image = locate_voc_image(root, xml_relative, filename);
  const fs::path image_dir = root / "JPEGImages" / xml_relative.parent_path();
  if (!image)
    return reject(Problem{xml, line,
                          filename.empty()
                              ? "no <filename>, and no image named like this file in " + image_dir.string()
                              : "image '" + filename + "' not found in " + image_dir.string()});
  const auto size = image_size_or_skip(loaded, root / *image, Location{xml, line, ""});
  if (!size || !check_declared_size(annotation, *size, xml, loaded)) return std::nullopt;
  VocSample out{Sample{*image, size->width, size->height, {}}, {}};
  int number = 0;
  for (const xmlNode* object : child_elements(annotation, "object"))
    if (auto parsed = read_voc_object(object, ++number, *size, given_labels, xml, loaded))
      out.objects.push_back(std::move(*parsed));
  return out;
}

Status read_voc(const fs::path& root, const std::vector<std::string>& labels, LoadedDataset& loaded) {
  const fs::path annotations = root / "Annotations";
  std::error_code ec;
  if (!fs::is_directory(annotations, ec))
    return make_error(ErrorCode::kNotFound, "no Annotations/ folder in " + root.string());
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(annotations, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".xml" && it->is_regular_file(ec))
      files.push_back(it->path().lexically_relative(annotations));
  std::sort(files.begin(), files.end());

  const std::set<std::string> given(labels.begin(), labels.end());
  std::vector<VocSample> pending;
  std::set<std::string> seen;
  for (const auto& file : files)
    if (auto sample = read_voc_file(root, file, given, loaded)) {
      for (const auto& object : sample->objects) seen.insert(object.name);
      pending.push_back(std::move(*sample));
    }

  loaded.dataset.root = root;
  loaded.dataset.labels = labels.empty() ? std::vector<std::string>(seen.begin(), seen.end()) : labels;
  std::map<std::string, int> index;
  for (size_t i = 0; i < loaded.dataset.labels.size(); ++i)
    index.emplace(loaded.dataset.labels[i], static_cast<int>(i));
  for (auto& [sample, objects] : pending) {
    for (auto& object : objects) {
      object.annotation.label = index.at(object.name);
      sample.objects.push_back(std::move(object.annotation));
    }
    loaded.dataset.samples.push_back(std::move(sample));
  }
  return {};
}

// ---------------------------------------------------------------- Label Studio

// The image a Label Studio task names, relative to the export's folder:
// a relative path as written (this writer's "images/NAME"), a local-files
// URL ("/data/local-files/?d=PATH"), or else the URL's file name (an upload
// URL), each looked up with locate_in.
std::optional<fs::path> locate_label_studio_image(const std::string& url, const fs::path& dir) {
  std::string name = url;
  if (const auto query = url.find("?d="); query != std::string::npos) name = url.substr(query + 3);
  if (is_confined_relative_path(name))
    if (auto found = locate_in(dir, name)) return found;
  const std::string file = fs::path(name).filename().string();
  if (file.empty() || !is_confined_relative_path(file)) return std::nullopt;
  return locate_in(dir, file);
}

// The latest annotation people did not cancel, or null.
const Json* latest_annotation(const Json& task) {
  const auto annotations = task.find("annotations");
  if (annotations == task.end() || !annotations->is_array()) return nullptr;
  for (auto it = annotations->rbegin(); it != annotations->rend(); ++it)
    if (it->is_object() && !it->value("was_cancelled", false)) return &*it;
  return nullptr;
}

// The rectangle results of an annotation (other kinds, such as choices, are
// not boxes and are left alone).
std::vector<const Json*> rectangles(const Json& annotation) {
  std::vector<const Json*> out;
  const auto result = annotation.find("result");
  if (result == annotation.end() || !result->is_array()) return out;
  for (const Json& item : *result)
    if (item.is_object() && item.value("type", "") == "rectanglelabels") out.push_back(&item);
  return out;
}

std::optional<std::string> rectangle_label(const Json& rectangle) {
  const Json value = rectangle.value("value", Json::object());
  const Json names = value.value("rectanglelabels", Json::array());
  if (!names.is_array() || names.empty() || !names[0].is_string()) return std::nullopt;
  return names[0].get<std::string>();
}

// x, y, width and height are percentages of the image as the labeling tool
// showed it: upright, as read_image_size measures it.
Result<Annotation> parse_rectangle(const Json& rectangle, const Sample& sample, int label) {
  const Json value = rectangle.value("value", Json::object());
  for (const char* key : {"x", "y", "width", "height"})
    if (!value.contains(key) || !value[key].is_number())
      return make_error(ErrorCode::kInvalidArgument, std::string("value.") + key + " must be a number");
  if (value.value("rotation", 0.0) != 0.0)
    return make_error(ErrorCode::kInvalidArgument, "a rotated box cannot be an axis-aligned detection box");
  const double w = sample.width / 100.0, h = sample.height / 100.0;
  const double x = value["x"].get<double>(), y = value["y"].get<double>();
  Annotation out;
  out.box = Box{static_cast<float>(x * w), static_cast<float>(y * h),
                static_cast<float>((x + value["width"].get<double>()) * w),
                static_cast<float>((y + value["height"].get<double>()) * h)};
  out.label = label;
  if (auto why = check_box(out.box, cv::Size(sample.width, sample.height)))
    return make_error(ErrorCode::kInvalidArgument, *why);
  return out;
}

Status read_label_studio(const fs::path& path, LoadedDataset& loaded) {
  std::error_code ec;
  const fs::path json_file = fs::is_directory(path, ec) ? path / kLabelStudioFileName : path;
  CANOPY_ASSIGN_OR_RETURN(Json tasks, read_json_file(json_file));
  if (!tasks.is_array())
    return make_error(ErrorCode::kInvalidArgument,
                      json_file.string() + ": not a Label Studio export: needs a list of tasks");
  const fs::path dir = json_file.parent_path();
  loaded.dataset.root = dir;
  // Label Studio's export carries no class list: the classes the boxes use, sorted.
  std::set<std::string> names;
  for (const Json& task : tasks)
    if (task.is_object())
      if (const Json* annotation = latest_annotation(task))
        for (const Json* rectangle : rectangles(*annotation))
          if (auto name = rectangle_label(*rectangle)) names.insert(*name);
  loaded.dataset.labels.assign(names.begin(), names.end());

  for (size_t i = 0; i < tasks.size(); ++i) {
    const Json& task = tasks[i];
    const Location where{json_file, 0, coco_item(task, "task", i)};
    if (!task.is_object()) {
      skip_image(loaded, where.problem("must be an object"));
      continue;
    }
    const Json* annotation = latest_annotation(task);
    if (!annotation) {
      ++loaded.skipped_images;  // not labeled yet: nothing to learn from
      continue;
    }
    const auto url = json_string(task.value("data", Json::object()), "image");
    if (!url) {
      skip_image(loaded, where.problem("needs data.image, the image's URL or path"));
      continue;
    }
    const auto relative = locate_label_studio_image(*url, dir);
    if (!relative) {
      skip_image(loaded, where.problem(not_found_in(*url, dir)));
      continue;
    }
    const auto size = image_size_or_skip(loaded, dir / *relative, where);
    if (!size) continue;
    Sample sample{*relative, size->width, size->height, {}};
    const auto found = rectangles(*annotation);
    for (size_t j = 0; j < found.size(); ++j) {
      const Location at{json_file, 0, where.item + ", result " + std::to_string(j)};
      const auto name = rectangle_label(*found[j]);
      if (!name) {
        skip_object(loaded, at.problem("needs value.rectanglelabels, a list with the box's class"));
        continue;
      }
      const auto label = std::find(loaded.dataset.labels.begin(), loaded.dataset.labels.end(), *name);
      auto parsed =
          parse_rectangle(*found[j], sample, static_cast<int>(label - loaded.dataset.labels.begin()));
      if (!parsed.ok()) {
        skip_object(loaded, at.problem(parsed.error().message));
        continue;
      }
      sample.objects.push_back(std::move(*parsed));
    }
    loaded.dataset.samples.push_back(std::move(sample));
  }
  return {};
}

// ---------------------------------------------------------------- CVAT

std::optional<std::string> xml_attribute(const xmlNode* node, const char* name) {
  xmlChar* value = xmlGetProp(node, BAD_CAST name);
  if (!value) return std::nullopt;
  std::string text(reinterpret_cast<const char*>(value));
  xmlFree(value);
  return text;
}

std::optional<float> float_attribute(const xmlNode* node, const char* name) {
  const auto text = xml_attribute(node, name);
  return text ? parse_float(*text) : std::nullopt;
}

// The class names CVAT lists under meta/task/labels (or meta/project/labels), in order.
std::vector<std::string> cvat_meta_labels(const xmlNode* root) {
  std::vector<std::string> labels;
  const xmlNode* meta = first_child(root, "meta");
  if (!meta) return labels;
  for (const char* holder : {"task", "project", "job"}) {
    const xmlNode* owner = first_child(meta, holder);
    const xmlNode* list = owner ? first_child(owner, "labels") : nullptr;
    if (!list) continue;
    for (const xmlNode* label : child_elements(list, "label"))
      if (const xmlNode* name = first_child(label, "name")) labels.push_back(node_text(name));
    if (!labels.empty()) break;
  }
  return labels;
}

Result<Annotation> parse_cvat_box(const xmlNode* box, const Sample& sample,
                                  const std::map<std::string, int>& index) {
  const auto name = xml_attribute(box, "label");
  if (!name) return make_error(ErrorCode::kInvalidArgument, "<box> needs a label attribute");
  const auto label = index.find(*name);
  if (label == index.end())
    return make_error(ErrorCode::kInvalidArgument, "label '" + *name + "' is not in the file's labels");
  const auto x1 = float_attribute(box, "xtl"), y1 = float_attribute(box, "ytl");
  const auto x2 = float_attribute(box, "xbr"), y2 = float_attribute(box, "ybr");
  if (!x1 || !y1 || !x2 || !y2)
    return make_error(ErrorCode::kInvalidArgument, "<box> needs numeric xtl, ytl, xbr and ybr");
  if (float_attribute(box, "rotation").value_or(0) != 0)
    return make_error(ErrorCode::kInvalidArgument, "a rotated box cannot be an axis-aligned detection box");
  Annotation out;
  out.box = Box{*x1, *y1, *x2, *y2};
  out.label = label->second;
  if (auto why = check_box(out.box, cv::Size(sample.width, sample.height)))
    return make_error(ErrorCode::kInvalidArgument, *why);
  for (const xmlNode* attribute : child_elements(box, "attribute"))
    if (const auto key = xml_attribute(attribute, "name")) out.attributes[*key] = node_text(attribute);
  return out;
}

Status read_cvat(const fs::path& path, LoadedDataset& loaded) {
  std::error_code ec;
  const fs::path xml = fs::is_directory(path, ec) ? path / kCvatFileName : path;
  CANOPY_ASSIGN_OR_RETURN(std::string bytes, read_file(xml));
  Problem problem;
  XmlDocument doc = parse_xml(bytes, xml, problem);
  if (!doc) return make_error(ErrorCode::kInvalidArgument, to_string(problem));
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (!root || !is_element(root, "annotations"))
    return make_error(ErrorCode::kInvalidArgument,
                      xml.string() + ": not a CVAT file: the root must be <annotations>");
  const fs::path dir = xml.parent_path();
  loaded.dataset.root = dir;
  loaded.dataset.labels = cvat_meta_labels(root);
  if (loaded.dataset.labels.empty()) {
    // No meta: the classes the boxes use, sorted.
    std::set<std::string> names;
    for (const xmlNode* image : child_elements(root, "image"))
      for (const xmlNode* box : child_elements(image, "box"))
        if (auto name = xml_attribute(box, "label")) names.insert(*name);
    loaded.dataset.labels.assign(names.begin(), names.end());
  }
  std::map<std::string, int> index;
  for (size_t i = 0; i < loaded.dataset.labels.size(); ++i)
    index.emplace(loaded.dataset.labels[i], static_cast<int>(i));

  for (const xmlNode* image : child_elements(root, "image")) {
    const Location where{xml, line_of(image), ""};
    const auto name = xml_attribute(image, "name");
    if (!name || !is_confined_relative_path(*name)) {
      skip_image(loaded, where.problem("<image> needs a name, a relative path inside the dataset"));
      continue;
    }
    const auto relative = locate_in(dir, *name);
    if (!relative) {
      skip_image(loaded, where.problem(not_found_in(*name, dir)));
      continue;
    }
    const auto size = image_size_or_skip(loaded, dir / *relative, where);
    if (!size) continue;
    const auto width = xml_attribute(image, "width"), height = xml_attribute(image, "height");
    if (width && height && (parse_integer(*width) != size->width || parse_integer(*height) != size->height)) {
      skip_image(loaded, where.problem("says " + *width + "x" + *height + " but " + *name + " is " +
                                       format_size(*size) + " (upright)"));
      continue;
    }
    Sample sample{*relative, size->width, size->height, {}};
    for (const xmlNode* box : child_elements(image, "box")) {
      auto parsed = parse_cvat_box(box, sample, index);
      if (!parsed.ok()) {
        skip_object(loaded, Location{xml, line_of(box), ""}.problem(parsed.error().message));
        continue;
      }
      sample.objects.push_back(std::move(*parsed));
    }
    loaded.dataset.samples.push_back(std::move(sample));
  }
  return {};
}

// ---------------------------------------------------------------- writers

Status check_writable(const Dataset& dataset) {
  for (const auto& sample : dataset.samples) {
    const std::string name = sample.image.generic_string();
    if (!is_confined_relative_path(name))
      return make_error(ErrorCode::kInvalidArgument,
                        "image path '" + name + "' must be relative to the dataset root");
    if (sample.width <= 0 || sample.height <= 0)
      return make_error(ErrorCode::kInvalidArgument, name + ": image size unknown; set width and height");
    for (const auto& object : sample.objects)
      if (object.label < 0 || static_cast<size_t>(object.label) >= dataset.labels.size())
        return make_error(ErrorCode::kInvalidArgument, name + ": label " + std::to_string(object.label) +
                                                           " is outside the " +
                                                           std::to_string(dataset.labels.size()) + " labels");
  }
  return {};
}

Status prepare_output(const fs::path& out) {
  std::error_code ec;
  if (fs::exists(out, ec) && !(fs::is_directory(out, ec) && fs::is_empty(out, ec)))
    return make_error(ErrorCode::kAlreadyExists, out.string() + " exists and is not an empty directory");
  if (!fs::create_directories(out, ec) && ec)
    return make_error(ErrorCode::kIo, "cannot create " + out.string() + ": " + ec.message());
  return {};
}

// Hard links save the space and time of a copy; images are not modified in
// place, so sharing them with the source is safe. A symlink is copied
// instead (link(2) would link the symlink itself, which may then dangle), as
// is any file on another filesystem.
Status place_image(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  if (ec)
    return make_error(ErrorCode::kIo, "cannot create " + to.parent_path().string() + ": " + ec.message());
  if (!fs::is_symlink(from, ec)) {
    fs::create_hard_link(from, to, ec);
    if (!ec) return {};
  }
  fs::copy_file(from, to, ec);
  if (ec)
    return make_error(ErrorCode::kIo,
                      "cannot copy " + from.string() + " to " + to.string() + ": " + ec.message());
  return {};
}

// The layout's folders, created even when empty so that the layout is
// recognized and read back as an empty dataset.
Status make_folders(const fs::path& out, std::initializer_list<const char*> names) {
  std::error_code ec;
  for (const char* name : names)
    if (fs::create_directories(out / name, ec); ec)
      return make_error(ErrorCode::kIo, "cannot create " + (out / name).string() + ": " + ec.message());
  return {};
}

Status write_label_file(const fs::path& path, std::string_view content) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec)
    return make_error(ErrorCode::kIo, "cannot create " + path.parent_path().string() + ": " + ec.message());
  return write_file_atomic(path, content);
}

// The image's path below the layout's image folder: a leading images/ or
// JPEGImages/ is dropped so that converting does not nest them.
fs::path image_subpath(const fs::path& image) {
  const fs::path normal = image.lexically_normal();
  const auto first = normal.begin();
  if (first != normal.end() && (*first == "images" || *first == "JPEGImages"))
    return normal.lexically_relative(*first);
  return normal;
}

// Fails when two samples would be written to the same file.
Status claim(std::set<fs::path>& used, const fs::path& path) {
  if (!used.insert(path).second)
    return make_error(ErrorCode::kConflict, "two images would both be written to " + path.string());
  return {};
}

// For the formats whose index names each image: places the sample's image
// at its subpath under `images`, once, and answers the subpath.
Result<fs::path> place_indexed_image(const Dataset& dataset, const Sample& sample, const fs::path& images,
                                     std::set<fs::path>& used) {
  const fs::path sub = image_subpath(sample.image);
  CANOPY_TRY(claim(used, sub));
  CANOPY_TRY(place_image(dataset.root / sample.image, images / sub));
  return sub;
}

// Normalized coordinates need 8 decimals to keep a 1e-3 px round trip on
// images up to 100,000 px wide; %.6f would lose it above about 1,300 px.
std::string yolo_line(const Annotation& object, const Sample& sample) {
  const double width = sample.width, height = sample.height;
  const Box& box = object.box;
  char line[128];
  std::snprintf(
      line, sizeof line, "%d %.8f %.8f %.8f %.8f\n", object.label,
      (static_cast<double>(box.x1) + box.x2) / 2 / width, (static_cast<double>(box.y1) + box.y2) / 2 / height,
      (static_cast<double>(box.x2) - box.x1) / width, (static_cast<double>(box.y2) - box.y1) / height);
  return line;
}

std::string data_yaml(const std::vector<std::string>& labels) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "train" << YAML::Value << "images";
  out << YAML::Key << "val" << YAML::Value << "images";
  out << YAML::Key << "nc" << YAML::Value << labels.size();
  out << YAML::Key << "names" << YAML::Value << YAML::BeginMap;
  for (size_t i = 0; i < labels.size(); ++i) out << YAML::Key << i << YAML::Value << labels[i];
  out << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

// Each writer writes its index file (data.yaml, annotations.json) last, so an
// interrupted conversion leaves a folder no reader mistakes for a dataset.
Status write_yolo(const Dataset& dataset, const fs::path& out) {
  CANOPY_TRY(make_folders(out, {"images", "labels"}));
  std::set<fs::path> used;
  for (const auto& sample : dataset.samples) {
    const fs::path sub = image_subpath(sample.image);
    const fs::path label = fs::path("labels") / fs::path(sub).replace_extension(".txt");
    CANOPY_TRY(claim(used, label));
    CANOPY_TRY(place_image(dataset.root / sample.image, out / "images" / sub));
    if (sample.objects.empty()) continue;  // no label file means no objects
    std::string content;
    for (const auto& object : sample.objects) content += yolo_line(object, sample);
    CANOPY_TRY(write_label_file(out / label, content));
  }
  return write_file_atomic(out / kYoloConfigName, data_yaml(dataset.labels));
}

// The shortest decimal form of `value` as a double, so that JSON prints it
// short ("10.3", not "10.300000190734863") and it reads back as the same float.
double short_decimal(float value) {
  const std::string text = format_float(value);
  double out = 0;
  std::from_chars(text.data(), text.data() + text.size(), out);
  return out;
}

// COCO stores a start and an extent; the reader computes float(start +
// extent). This picks the shortest extent for which that gives back `end`
// exactly.
double exact_extent(double start, float end) {
  const double span = static_cast<double>(end) - start;
  for (int digits = 1; digits <= 17; ++digits) {
    char text[32];
    std::snprintf(text, sizeof text, "%.*g", digits, span);
    double candidate = 0;
    std::from_chars(text, text + std::strlen(text), candidate);
    if (static_cast<float>(start + candidate) == end) return candidate;
  }
  return span;
}

Json coco_annotation(const Annotation& object, long long id, long long image_id) {
  const double x = short_decimal(object.box.x1), y = short_decimal(object.box.y1);
  const double w = exact_extent(x, object.box.x2), h = exact_extent(y, object.box.y2);
  Json out = {
      {"id", id},      {"image_id", image_id}, {"category_id", object.label + 1}, {"bbox", {x, y, w, h}},
      {"area", w * h}, {"iscrowd", 0}};
  Json attributes = Json::object();
  for (const auto& [key, value] : object.attributes) {
    if (key == "iscrowd")
      out["iscrowd"] = value == "1" ? 1 : 0;
    else
      attributes[key] = value;
  }
  if (!attributes.empty()) out["attributes"] = std::move(attributes);
  return out;
}

// Category ids start at 1, as in COCO itself, where 0 is often background.
Status write_coco(const Dataset& dataset, const fs::path& out) {
  Json images = Json::array(), annotations = Json::array(), categories = Json::array();
  for (size_t i = 0; i < dataset.labels.size(); ++i)
    categories.push_back({{"id", static_cast<long long>(i) + 1}, {"name", dataset.labels[i]}});
  std::set<fs::path> used;
  for (size_t i = 0; i < dataset.samples.size(); ++i) {
    const Sample& sample = dataset.samples[i];
    CANOPY_ASSIGN_OR_RETURN(const fs::path sub, place_indexed_image(dataset, sample, out / "images", used));
    const auto image_id = static_cast<long long>(i) + 1;
    images.push_back({{"id", image_id},
                      {"file_name", sub.generic_string()},
                      {"width", sample.width},
                      {"height", sample.height}});
    for (const auto& object : sample.objects)
      annotations.push_back(
          coco_annotation(object, static_cast<long long>(annotations.size()) + 1, image_id));
  }
  const Json json = {{"images", images}, {"annotations", annotations}, {"categories", categories}};
  return write_file_atomic(out / kCocoFileName, json.dump());
}

// An attribute becomes a child element of <object>: it needs a valid XML
// name, and not one of the two that make up the object itself.
bool is_valid_voc_attribute(const std::string& key) {
  return key != "name" && key != "bndbox" && xmlValidateName(BAD_CAST key.c_str(), 0) == 0;
}

void add_text_child(xmlNode* parent, const char* name, const std::string& text) {
  xmlNewTextChild(parent, nullptr, BAD_CAST name, BAD_CAST text.c_str());  // escapes &, < and >
}

Result<std::string> voc_xml(const Sample& sample, const std::vector<std::string>& labels,
                            const fs::path& image) {
  XmlDocument doc(xmlNewDoc(BAD_CAST "1.0"));
  xmlNode* annotation = xmlNewNode(nullptr, BAD_CAST "annotation");
  xmlDocSetRootElement(doc.get(), annotation);
  add_text_child(annotation, "folder", "JPEGImages");
  add_text_child(annotation, "filename", image.filename().string());
  xmlNode* size = xmlNewChild(annotation, nullptr, BAD_CAST "size", nullptr);
  add_text_child(size, "width", std::to_string(sample.width));
  add_text_child(size, "height", std::to_string(sample.height));
  for (const auto& object : sample.objects) {
    xmlNode* node = xmlNewChild(annotation, nullptr, BAD_CAST "object", nullptr);
    add_text_child(node, "name", labels[static_cast<size_t>(object.label)]);
    for (const auto& [key, value] : object.attributes) {
      if (!is_valid_voc_attribute(key))
        return make_error(ErrorCode::kInvalidArgument, "attribute '" + key + "' of an object in " +
                                                           sample.image.string() +
                                                           " cannot be a VOC element name");
      add_text_child(node, key.c_str(), value);
    }
    xmlNode* bndbox = xmlNewChild(node, nullptr, BAD_CAST "bndbox", nullptr);
    add_text_child(bndbox, "xmin", format_float(object.box.x1));
    add_text_child(bndbox, "ymin", format_float(object.box.y1));
    add_text_child(bndbox, "xmax", format_float(object.box.x2));
    add_text_child(bndbox, "ymax", format_float(object.box.y2));
  }
  xmlChar* text = nullptr;
  int length = 0;
  xmlDocDumpFormatMemoryEnc(doc.get(), &text, &length, "UTF-8", 1);
  if (!text)
    return make_error(ErrorCode::kInternal,
                      "cannot serialize the VOC annotation of " + sample.image.string());
  std::string out(reinterpret_cast<const char*>(text), static_cast<size_t>(length));
  xmlFree(text);
  return out;
}

Status write_voc(const Dataset& dataset, const fs::path& out) {
  init_libxml();
  CANOPY_TRY(make_folders(out, {"Annotations", "JPEGImages"}));
  std::set<fs::path> used;
  for (const auto& sample : dataset.samples) {
    const fs::path sub = image_subpath(sample.image);
    const fs::path xml = fs::path("Annotations") / fs::path(sub).replace_extension(".xml");
    CANOPY_TRY(claim(used, xml));
    CANOPY_TRY(place_image(dataset.root / sample.image, out / "JPEGImages" / sub));
    CANOPY_ASSIGN_OR_RETURN(std::string content, voc_xml(sample, dataset.labels, sub));
    CANOPY_TRY(write_label_file(out / xml, content));
  }
  return {};
}

// Percentages of the image, as Label Studio keeps boxes.
Json label_studio_rectangle(const Annotation& object, const Sample& sample, const std::string& label,
                            size_t number) {
  const double w = sample.width, h = sample.height;
  const Box& box = object.box;
  return {{"id", "b" + std::to_string(number)},
          {"type", "rectanglelabels"},
          {"from_name", "label"},
          {"to_name", "image"},
          {"original_width", sample.width},
          {"original_height", sample.height},
          {"image_rotation", 0},
          {"value",
           {{"x", box.x1 / w * 100},
            {"y", box.y1 / h * 100},
            {"width", (static_cast<double>(box.x2) - box.x1) / w * 100},
            {"height", (static_cast<double>(box.y2) - box.y1) / h * 100},
            {"rotation", 0},
            {"rectanglelabels", {label}}}}};
}

Status write_label_studio(const Dataset& dataset, const fs::path& out) {
  CANOPY_TRY(make_folders(out, {"images"}));
  Json tasks = Json::array();
  std::set<fs::path> used;
  for (size_t i = 0; i < dataset.samples.size(); ++i) {
    const Sample& sample = dataset.samples[i];
    CANOPY_ASSIGN_OR_RETURN(const fs::path sub, place_indexed_image(dataset, sample, out / "images", used));
    Json result = Json::array();
    for (const auto& object : sample.objects)
      result.push_back(label_studio_rectangle(
          object, sample, dataset.labels[static_cast<size_t>(object.label)], result.size() + 1));
    const auto id = static_cast<long long>(i) + 1;
    tasks.push_back({{"id", id},
                     {"data", {{"image", (fs::path("images") / sub).generic_string()}}},
                     {"annotations", Json::array({{{"id", id}, {"result", result}}})}});
  }
  return write_file_atomic(out / kLabelStudioFileName, tasks.dump(2) + "\n");
}

Result<std::string> cvat_xml(const Dataset& dataset, const std::vector<fs::path>& names) {
  XmlDocument doc(xmlNewDoc(BAD_CAST "1.0"));
  xmlNode* root = xmlNewNode(nullptr, BAD_CAST "annotations");
  xmlDocSetRootElement(doc.get(), root);
  add_text_child(root, "version", "1.1");
  xmlNode* meta = xmlNewChild(root, nullptr, BAD_CAST "meta", nullptr);
  xmlNode* task = xmlNewChild(meta, nullptr, BAD_CAST "task", nullptr);
  add_text_child(task, "size", std::to_string(dataset.samples.size()));
  xmlNode* labels = xmlNewChild(task, nullptr, BAD_CAST "labels", nullptr);
  for (const std::string& name : dataset.labels) {
    xmlNode* label = xmlNewChild(labels, nullptr, BAD_CAST "label", nullptr);
    add_text_child(label, "name", name);
    add_text_child(label, "type", "rectangle");
  }
  for (size_t i = 0; i < dataset.samples.size(); ++i) {
    const Sample& sample = dataset.samples[i];
    xmlNode* image = xmlNewChild(root, nullptr, BAD_CAST "image", nullptr);
    xmlNewProp(image, BAD_CAST "id", BAD_CAST std::to_string(i).c_str());
    xmlNewProp(image, BAD_CAST "name", BAD_CAST names[i].generic_string().c_str());
    xmlNewProp(image, BAD_CAST "width", BAD_CAST std::to_string(sample.width).c_str());
    xmlNewProp(image, BAD_CAST "height", BAD_CAST std::to_string(sample.height).c_str());
    for (const auto& object : sample.objects) {
      xmlNode* box = xmlNewChild(image, nullptr, BAD_CAST "box", nullptr);
      xmlNewProp(box, BAD_CAST "label", BAD_CAST dataset.labels[static_cast<size_t>(object.label)].c_str());
      xmlNewProp(box, BAD_CAST "occluded", BAD_CAST "0");
      xmlNewProp(box, BAD_CAST "source", BAD_CAST "manual");
      xmlNewProp(box, BAD_CAST "xtl", BAD_CAST format_float(object.box.x1).c_str());
      xmlNewProp(box, BAD_CAST "ytl", BAD_CAST format_float(object.box.y1).c_str());
      xmlNewProp(box, BAD_CAST "xbr", BAD_CAST format_float(object.box.x2).c_str());
      xmlNewProp(box, BAD_CAST "ybr", BAD_CAST format_float(object.box.y2).c_str());
      xmlNewProp(box, BAD_CAST "z_order", BAD_CAST "0");
      for (const auto& [key, value] : object.attributes) {
        xmlNode* attribute = xmlNewTextChild(box, nullptr, BAD_CAST "attribute", BAD_CAST value.c_str());
        xmlNewProp(attribute, BAD_CAST "name", BAD_CAST key.c_str());
      }
    }
  }
  xmlChar* text = nullptr;
  int length = 0;
  xmlDocDumpFormatMemoryEnc(doc.get(), &text, &length, "UTF-8", 1);
  if (!text) return make_error(ErrorCode::kInternal, "cannot serialize the CVAT annotations");
  std::string out(reinterpret_cast<const char*>(text), static_cast<size_t>(length));
  xmlFree(text);
  return out;
}

Status write_cvat(const Dataset& dataset, const fs::path& out) {
  init_libxml();
  CANOPY_TRY(make_folders(out, {"images"}));
  std::set<fs::path> used;
  std::vector<fs::path> names;
  for (const auto& sample : dataset.samples) {
    CANOPY_ASSIGN_OR_RETURN(const fs::path sub, place_indexed_image(dataset, sample, out / "images", used));
    names.push_back(fs::path("images") / sub);
  }
  CANOPY_ASSIGN_OR_RETURN(std::string xml, cvat_xml(dataset, names));
  return write_file_atomic(out / kCvatFileName, xml);
}

// ---------------------------------------------------------------- stats

Distribution distribution(std::vector<double> values) {
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  const double median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  return {values.front(), median, values.back()};
}

Json distribution_json(const Distribution& d) {
  return {{"min", d.min}, {"median", d.median}, {"max", d.max}};
}

}  // namespace

std::string_view format_name(DatasetFormat format) {
  switch (format) {
    case DatasetFormat::kYolo:
      return "yolo";
    case DatasetFormat::kCoco:
      return "coco";
    case DatasetFormat::kVoc:
      return "voc";
    case DatasetFormat::kLabelStudio:
      return "labelstudio";
    case DatasetFormat::kCvat:
      return "cvat";
  }
  return "unknown";
}

Result<DatasetFormat> parse_format(std::string_view name) {
  for (auto format : {DatasetFormat::kYolo, DatasetFormat::kCoco, DatasetFormat::kVoc,
                      DatasetFormat::kLabelStudio, DatasetFormat::kCvat})
    if (name == format_name(format)) return format;
  return make_error(ErrorCode::kInvalidArgument, "unknown dataset format '" + std::string(name) +
                                                     "' (yolo, coco, voc, labelstudio or cvat)");
}

Result<DatasetFormat> detect_format(const fs::path& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    const std::string extension = lower(path.extension().string());
    if (extension == ".json") {
      // A Label Studio export is a list of tasks; a COCO file an object.
      std::ifstream in(path);
      char first = ' ';
      while (in.get(first) && std::isspace(static_cast<unsigned char>(first))) {
      }
      return first == '[' ? DatasetFormat::kLabelStudio : DatasetFormat::kCoco;
    }
    if (extension == ".xml") return DatasetFormat::kCvat;
    if (extension == ".yaml" || extension == ".yml") return DatasetFormat::kYolo;
    return make_error(ErrorCode::kInvalidArgument,
                      path.string() + " is neither a data.yaml nor a COCO JSON file");
  }
  if (!fs::is_directory(path, ec)) return make_error(ErrorCode::kNotFound, path.string() + " does not exist");
  std::vector<DatasetFormat> found;
  if (fs::is_regular_file(path / kYoloConfigName, ec)) found.push_back(DatasetFormat::kYolo);
  auto coco = find_coco_json(path);
  if (coco.ok())
    found.push_back(DatasetFormat::kCoco);
  else if (coco.error().code != ErrorCode::kNotFound)
    return coco.error();
  if (fs::is_directory(path / "Annotations", ec)) found.push_back(DatasetFormat::kVoc);
  if (fs::is_regular_file(path / kLabelStudioFileName, ec)) found.push_back(DatasetFormat::kLabelStudio);
  if (fs::is_regular_file(path / kCvatFileName, ec)) found.push_back(DatasetFormat::kCvat);
  if (found.empty())
    return make_error(ErrorCode::kNotFound,
                      path.string() +
                          " holds no data.yaml (YOLO), COCO JSON file, Annotations/ folder (VOC), tasks.json "
                          "(Label Studio) or annotations.xml (CVAT)");
  if (found.size() > 1)
    return make_error(ErrorCode::kInvalidArgument,
                      path.string() + " looks like both " + std::string(format_name(found[0])) + " and " +
                          std::string(format_name(found[1])) + "; name the format");
  return found.front();
}

Result<DatasetFormat> resolve_format(const fs::path& path, std::string_view name) {
  return name == "auto" ? detect_format(path) : parse_format(name);
}

std::string to_string(const Problem& problem) {
  return problem.file.string() + (problem.line > 0 ? ":" + std::to_string(problem.line) : "") + ": " +
         problem.message;
}

Result<LoadedDataset> read_dataset(const fs::path& path, DatasetFormat format, const ReadOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return make_error(ErrorCode::kNotFound, path.string() + " does not exist");
  if (!options.labels.empty() && format != DatasetFormat::kVoc)
    return make_error(ErrorCode::kInvalidArgument,
                      "a label list applies to VOC only; YOLO and COCO name their classes");
  LoadedDataset loaded;
  switch (format) {
    case DatasetFormat::kYolo:
      CANOPY_TRY(read_yolo(path, loaded));
      break;
    case DatasetFormat::kCoco:
      CANOPY_TRY(read_coco(path, loaded));
      break;
    case DatasetFormat::kVoc:
      CANOPY_TRY(read_voc(path, options.labels, loaded));
      break;
    case DatasetFormat::kLabelStudio:
      CANOPY_TRY(read_label_studio(path, loaded));
      break;
    case DatasetFormat::kCvat:
      CANOPY_TRY(read_cvat(path, loaded));
      break;
  }
  return finish(std::move(loaded), options);
}

Status write_dataset(const Dataset& dataset, DatasetFormat format, const fs::path& out) {
  CANOPY_TRY(check_writable(dataset));
  CANOPY_TRY(prepare_output(out));
  switch (format) {
    case DatasetFormat::kYolo:
      return write_yolo(dataset, out);
    case DatasetFormat::kCoco:
      return write_coco(dataset, out);
    case DatasetFormat::kVoc:
      return write_voc(dataset, out);
    case DatasetFormat::kLabelStudio:
      return write_label_studio(dataset, out);
    case DatasetFormat::kCvat:
      return write_cvat(dataset, out);
  }
  return make_error(ErrorCode::kInvalidArgument, "unknown dataset format");
}

DatasetStats compute_stats(const Dataset& dataset) {
  DatasetStats stats;
  stats.images = dataset.samples.size();
  for (const auto& label : dataset.labels) stats.classes.push_back({label, 0, 0});
  std::vector<double> widths, heights, areas;
  std::map<std::pair<int, int>, size_t> sizes;
  for (const auto& sample : dataset.samples) {
    ++sizes[{sample.width, sample.height}];
    if (sample.objects.empty()) ++stats.images_without_objects;
    std::set<int> labels_here;
    for (const auto& object : sample.objects) {
      ++stats.objects;
      if (object.label >= 0 && static_cast<size_t>(object.label) < stats.classes.size()) {
        ++stats.classes[static_cast<size_t>(object.label)].objects;
        labels_here.insert(object.label);
      }
      const double area = object.box.area();
      widths.push_back(object.box.width());
      heights.push_back(object.box.height());
      areas.push_back(area);
      if (area < 32.0 * 32.0)
        ++stats.small_objects;
      else if (area > 96.0 * 96.0)
        ++stats.large_objects;
      else
        ++stats.medium_objects;
    }
    for (int label : labels_here) ++stats.classes[static_cast<size_t>(label)].images;
  }
  stats.box_width_px = distribution(std::move(widths));
  stats.box_height_px = distribution(std::move(heights));
  stats.box_area_px2 = distribution(std::move(areas));
  for (const auto& [size, count] : sizes) stats.image_sizes.push_back({size.first, size.second, count});
  std::stable_sort(stats.image_sizes.begin(), stats.image_sizes.end(),
                   [](const ImageSizeCount& a, const ImageSizeCount& b) { return a.images > b.images; });
  return stats;
}

Json stats_to_json(const DatasetStats& stats) {
  Json classes = Json::array(), sizes = Json::array();
  for (const auto& c : stats.classes)
    classes.push_back({{"label", c.label}, {"objects", c.objects}, {"images", c.images}});
  for (const auto& s : stats.image_sizes)
    sizes.push_back({{"width", s.width}, {"height", s.height}, {"images", s.images}});
  return {
      {"images", stats.images},
      {"objects", stats.objects},
      {"images_without_objects", stats.images_without_objects},
      {"classes", classes},
      {"box_width_px", distribution_json(stats.box_width_px)},
      {"box_height_px", distribution_json(stats.box_height_px)},
      {"box_area_px2", distribution_json(stats.box_area_px2)},
      {"box_sizes",
       {{"small", stats.small_objects}, {"medium", stats.medium_objects}, {"large", stats.large_objects}}},
      {"image_sizes", sizes}};
}

}  // namespace canopy::vision
