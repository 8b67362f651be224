// canopy dataset version create / list / show / pull: immutable versions of
// what people labeled (docs/labeling.md, "Datasets"), made and kept by the
// server; pull writes one as a dataset directory training reads (YOLO by
// default, or COCO or Pascal VOC), each image checked against its hash.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli.h"
#include "cli_support.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/progress.h"
#include "vision/dataset_formats.h"

namespace canopy::cli {

namespace {

namespace fs = std::filesystem;

void print_version(const api::DatasetVersion& v) {
  std::printf("dataset    %s\ncreated    %s by %s\nsha256     %s\nitems      %lld\n", v.ref().c_str(),
              v.created_at.c_str(), v.created_by.c_str(), v.sha256.c_str(), static_cast<long long>(v.items));
  auto counts = [](const std::map<std::string, std::int64_t>& map) {
    std::string text;
    for (const auto& [key, count] : map)
      text += (text.empty() ? "" : ", ") + key + " " + std::to_string(count);
    return text.empty() ? std::string("-") : text;
  };
  std::string labels;
  for (const std::string& label : v.labels) labels += (labels.empty() ? "" : ", ") + label;
  std::string bases;
  for (const std::string& base : v.request.bases) bases += (bases.empty() ? "" : ", ") + base;
  std::printf("labels     %s\nboxes      %s\nsplits     %s\nbases      %s\nlabelers   %s\ndevices    %s\n",
              labels.c_str(), counts(v.boxes_by_class).c_str(), counts(v.items_by_split).c_str(),
              bases.empty() ? "-" : bases.c_str(), counts(v.items_by_labeler).c_str(),
              counts(v.items_by_device).c_str());
}

// ".png" for a PNG, else ".jpg" (samples are JPEGs; an imported dataset may hold either).
std::string image_extension(const std::string& bytes) {
  return bytes.rfind("\x89PNG", 0) == 0 ? ".png" : ".jpg";
}

// Reads the dataset at `path` strictly (a malformed label fails with its
// file and line, and nothing is imported), uploads each image once, then
// makes the version of exactly these items.
Result<api::DatasetVersion> import_dataset(client::FleetClient& client, const std::string& name,
                                           const std::string& path, const std::string& format_name,
                                           bool quiet) {
  CANOPY_ASSIGN_OR_RETURN(vision::DatasetFormat format, vision::resolve_format(path, format_name));
  vision::ReadOptions options;
  options.strict = true;
  CANOPY_ASSIGN_OR_RETURN(vision::LoadedDataset loaded, vision::read_dataset(path, format, options));
  const vision::Dataset& dataset = loaded.dataset;
  ProgressReporter progress("importing " + name, dataset.samples.size(), false);
  if (quiet) progress.silence();
  std::vector<api::DatasetItem> items;
  std::uint64_t done = 0;
  for (const vision::Sample& sample : dataset.samples) {
    CANOPY_ASSIGN_OR_RETURN(std::string bytes, read_file(dataset.root / sample.image));
    api::DatasetItem item;
    item.sample_id = "import/" + name + "/" + sample.image.generic_string();
    item.image_sha256 = sha256_hex(bytes);
    item.width = sample.width;
    item.height = sample.height;
    item.labeled_by = "import " + path;
    for (const vision::Annotation& object : sample.objects)
      item.boxes.push_back({dataset.labels[static_cast<std::size_t>(object.label)], 1.0,
                            object.box.x1 / static_cast<double>(sample.width),
                            object.box.y1 / static_cast<double>(sample.height),
                            object.box.x2 / static_cast<double>(sample.width),
                            object.box.y2 / static_cast<double>(sample.height)});
    CANOPY_TRY(client.put_dataset_image(item.image_sha256, bytes));
    items.push_back(std::move(item));
    progress.update(++done);
  }
  progress.finish();
  return client.import_dataset_version(name, dataset.labels, items);
}

// Downloads every image of `version` into `staging` and writes the dataset
// in `format` to `out` (absent or empty). Nothing is left in `out` on error.
Status pull_version(client::FleetClient& client, const api::DatasetVersion& version,
                    vision::DatasetFormat format, const fs::path& out, bool quiet) {
  const fs::path staging = out.string() + ".images.part";
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create " + staging.string() + ": " + ec.message());
  vision::Dataset dataset;
  dataset.root = staging;
  dataset.labels = version.labels;
  ProgressReporter progress("pulling " + version.ref(), version.item_list.size(), false);
  if (quiet) progress.silence();
  std::uint64_t done = 0;
  for (const api::DatasetItem& item : version.item_list) {
    CANOPY_ASSIGN_OR_RETURN(std::string jpeg, client.dataset_image(item.image_sha256));
    if (sha256_hex(jpeg) != item.image_sha256)
      return make_error(ErrorCode::kCorrupt,
                        "the image of " + item.sample_id + " does not match the version's hash");
    vision::Sample sample;
    sample.image = sample_file_stem(item.sample_id) + image_extension(jpeg);
    sample.width = item.width;
    sample.height = item.height;
    for (const api::SampleBox& box : item.boxes) {
      vision::Annotation annotation;
      annotation.label = static_cast<int>(std::find(version.labels.begin(), version.labels.end(), box.label) -
                                          version.labels.begin());
      annotation.box = {static_cast<float>(box.x1 * item.width), static_cast<float>(box.y1 * item.height),
                        static_cast<float>(box.x2 * item.width), static_cast<float>(box.y2 * item.height)};
      sample.objects.push_back(annotation);
    }
    CANOPY_TRY(write_file_atomic(staging / sample.image, jpeg));
    dataset.samples.push_back(std::move(sample));
    progress.update(++done);
  }
  progress.finish();
  Status written = vision::write_dataset(dataset, format, out);
  fs::remove_all(staging, ec);
  return written;
}

}  // namespace

void register_dataset_version_commands(CLI::App& dataset, Globals& globals, int& exit_code) {
  auto* version = dataset.add_subcommand(
      "version",
      "Dataset versions on the server: immutable snapshots of labeled samples (create, list, show, pull)");
  version->require_subcommand(1);

  auto name = std::make_shared<std::string>();
  auto request = std::make_shared<api::DatasetVersionRequest>();
  auto* create = version->add_subcommand("create", "Make the next version of NAME from the labeled samples");
  create->add_option("NAME", *name, "dataset name, e.g. field")->required();
  create->add_option("--base", request->bases,
                     "include the items of this version, NAME:VERSION (repeatable)");
  create->add_option("--label", request->labels,
                     "the classes in order (repeatable; default: every class the labels use, sorted)");
  create->add_option("--field", request->field, "only samples of this field");
  create->add_flag("--reviewed-only", request->reviewed_only, "only samples a reviewer accepted");
  create
      ->add_option("--val-fraction", request->val_fraction,
                   "share of images in the validation split (default 0.2)")
      ->check(CLI::Range(0.0, 0.9));
  create
      ->add_option("--test-fraction", request->test_fraction,
                   "share of images in the test split (default 0.1)")
      ->check(CLI::Range(0.0, 0.9));
  add_server_flags(create, globals);
  set_action(create, exit_code, [&globals, name, request]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(api::DatasetVersion created, client.create_dataset_version(*name, *request));
    if (globals.json)
      print_json(created.to_json());
    else
      print_version(created);
    return {};
  });

  auto list_name = std::make_shared<std::string>();
  auto* list = version->add_subcommand("list", "List dataset versions, newest first");
  list->add_option("NAME", *list_name, "only this dataset's versions");
  add_server_flags(list, globals);
  set_action(list, exit_code, [&globals, list_name]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(auto versions, client.list_dataset_versions(*list_name));
    if (globals.json) {
      Json rows = Json::array();
      for (const api::DatasetVersion& v : versions) rows.push_back(v.to_json());
      print_json({{"versions", rows}});
      return {};
    }
    std::printf("%-24s %8s %-20s %-16s %s\n", "VERSION", "ITEMS", "CREATED", "BY", "SHA256");
    for (const api::DatasetVersion& v : versions)
      std::printf("%-24s %8lld %-20s %-16s %.16s\n", v.ref().c_str(), static_cast<long long>(v.items),
                  v.created_at.c_str(), v.created_by.c_str(), v.sha256.c_str());
    return {};
  });

  auto ref = std::make_shared<std::string>();
  auto* show =
      version->add_subcommand("show", "Show a version: classes, splits, lineage (labelers, devices, bases)");
  show->add_option("VERSION", *ref, "NAME:VERSION")->required();
  add_server_flags(show, globals);
  set_action(show, exit_code, [&globals, ref]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto parsed, api::parse_dataset_ref(*ref));
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(api::DatasetVersion v, client.dataset_version(parsed.first, parsed.second));
    if (globals.json)
      print_json(v.to_json());
    else
      print_version(v);
    return {};
  });

  auto import_path = std::make_shared<std::string>();
  auto import_name = std::make_shared<std::string>();
  auto import_format = std::make_shared<std::string>("auto");
  auto* import = version->add_subcommand(
      "import",
      "Import a dataset made elsewhere (the data a model was first trained on) as the next version of NAME");
  import
      ->add_option("PATH", *import_path,
                   "the dataset: its folder, or its data.yaml, COCO JSON, tasks.json or annotations.xml")
      ->required();
  import->add_option("--name", *import_name, "dataset name, e.g. base")->required();
  import->add_option("--format", *import_format, "auto (default), yolo, coco, voc, labelstudio or cvat")
      ->check(CLI::IsMember({"auto", "yolo", "coco", "voc", "labelstudio", "cvat"}));
  add_server_flags(import, globals);
  set_action(import, exit_code, [&globals, import_path, import_name, import_format]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(
        api::DatasetVersion imported,
        import_dataset(client, *import_name, *import_path, *import_format, globals.quiet || globals.json));
    if (globals.json)
      print_json(imported.to_json());
    else
      print_version(imported);
    return {};
  });

  auto pull_ref = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("yolo");
  auto splits = std::make_shared<std::vector<std::string>>();
  auto* pull = version->add_subcommand("pull", "Write a version as a dataset directory training reads");
  pull->add_option("VERSION", *pull_ref, "NAME:VERSION")->required();
  pull->add_option("-o,--out", *out, "directory to write (absent or empty)")->required();
  pull->add_option("--format", *format, "yolo (default), coco, voc, labelstudio or cvat")
      ->check(CLI::IsMember({"yolo", "coco", "voc", "labelstudio", "cvat"}));
  pull->add_option("--split", *splits, "only the items of this split: train, val or test (repeatable)")
      ->check(CLI::IsMember({"train", "val", "test"}));
  add_server_flags(pull, globals);
  set_action(pull, exit_code, [&globals, pull_ref, out, format, splits]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto parsed, api::parse_dataset_ref(*pull_ref));
    CANOPY_ASSIGN_OR_RETURN(vision::DatasetFormat target, vision::parse_format(*format));
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(api::DatasetVersion v, client.dataset_version(parsed.first, parsed.second));
    if (!splits->empty())
      std::erase_if(v.item_list, [&splits](const api::DatasetItem& item) {
        return std::find(splits->begin(), splits->end(), item.split) == splits->end();
      });
    if (v.item_list.empty())
      return make_error(ErrorCode::kNotFound, v.ref() + " has no items in the splits asked for");
    CANOPY_TRY(pull_version(client, v, target, *out, globals.quiet || globals.json));
    const auto written = static_cast<long long>(v.item_list.size());
    if (globals.json)
      print_json({{"version", v.ref()}, {"items", written}, {"out", *out}, {"format", *format}});
    else
      std::printf("%s: %lld image(s) in %s (%s)\n", v.ref().c_str(), written, out->c_str(), format->c_str());
    return {};
  });
}

}  // namespace canopy::cli
