// `canopy dataset ...`: convert detection datasets between the YOLO, COCO and
// Pascal VOC layouts, summarize them, and render synthetic field datasets.
// Each subcommand has its own register_* function below;
// register_dataset_commands lists them.
#include <cstdio>
#include <memory>

#include "cli.h"
#include "cli_support.h"
#include "common/progress.h"
#include "vision/dataset_formats.h"
#include "vision/field_renderer.h"

namespace canopy::cli {

namespace {

// Problems beyond this many are counted, not listed.
constexpr size_t kMaxProblemLines = 20;
// Distinct image sizes beyond this many are counted, not listed.
constexpr size_t kMaxImageSizeLines = 10;

// A dataset a command reads, as given on the command line.
struct SourceArgs {
  std::string path;
  std::string format = "auto";
  std::string labels;  // VOC only, comma-separated
  bool strict = false;
};

struct LoadedSource {
  vision::LoadedDataset loaded;
  vision::DatasetFormat format;
};

const std::vector<std::string> kSourceFormats = {"auto", "yolo", "coco", "voc", "labelstudio", "cvat"};
const std::vector<std::string> kTargetFormats = {"yolo", "coco", "voc", "labelstudio", "cvat"};

void add_read_flags(CLI::App* command, SourceArgs& source) {
  command->add_option(
      "--labels", source.labels,
      "VOC only: class names in index order, comma-separated (default: the names found, sorted)");
  command->add_flag("--strict", source.strict,
                    "fail on the first malformed label or image instead of skipping it");
}

void print_problems(const std::vector<vision::Problem>& problems) {
  for (size_t i = 0; i < problems.size() && i < kMaxProblemLines; ++i)
    std::fprintf(stderr, "%s\n", vision::to_string(problems[i]).c_str());
  if (problems.size() > kMaxProblemLines)
    std::fprintf(stderr, "... and %zu more problems\n", problems.size() - kMaxProblemLines);
}

// Reads the dataset, detecting its format unless one is named, and lists
// its problems on stderr.
Result<LoadedSource> load_source(const SourceArgs& source) {
  CANOPY_ASSIGN_OR_RETURN(vision::DatasetFormat format, vision::resolve_format(source.path, source.format));
  vision::ReadOptions options;
  options.strict = source.strict;
  options.labels = split(source.labels, ',');
  CANOPY_ASSIGN_OR_RETURN(vision::LoadedDataset loaded, vision::read_dataset(source.path, format, options));
  print_problems(loaded.problems);
  return LoadedSource{std::move(loaded), format};
}

size_t count_objects(const vision::Dataset& dataset) {
  size_t objects = 0;
  for (const auto& sample : dataset.samples) objects += sample.objects.size();
  return objects;
}

struct ConvertArgs {
  SourceArgs source;
  std::string to;
  std::string to_format;
};

void register_convert_command(CLI::App& dataset, Globals& globals, int& exit_code) {
  auto args = std::make_shared<ConvertArgs>();
  auto* command = dataset.add_subcommand(
      "convert",
      "Convert a dataset between YOLO, COCO and VOC, skipping (or with --strict, refusing) bad labels");
  command->add_option("--from", args->source.path, "dataset directory (or its data.yaml / COCO JSON file)")
      ->required();
  command->add_option("--from-format", args->source.format, "format of --from (default: auto-detect)")
      ->check(CLI::IsMember(kSourceFormats));
  command->add_option("--to", args->to, "output directory, new or empty")->required();
  command->add_option("--to-format", args->to_format, "format to write")
      ->required()
      ->check(CLI::IsMember(kTargetFormats));
  add_read_flags(command, args->source);
  set_action(command, exit_code, [args, &globals]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(LoadedSource source, load_source(args->source));
    CANOPY_ASSIGN_OR_RETURN(vision::DatasetFormat to_format, vision::parse_format(args->to_format));
    const auto& loaded = source.loaded;
    CANOPY_TRY(vision::write_dataset(loaded.dataset, to_format, args->to));
    const size_t objects = count_objects(loaded.dataset);
    if (globals.json) {
      print_json({{"from", args->source.path},
                  {"from_format", vision::format_name(source.format)},
                  {"to", args->to},
                  {"to_format", vision::format_name(to_format)},
                  {"images", loaded.dataset.samples.size()},
                  {"objects", objects},
                  {"skipped_images", loaded.skipped_images},
                  {"skipped_objects", loaded.skipped_objects},
                  {"problems", loaded.problems.size()}});
      return {};
    }
    std::printf("converted %s to %s: %zu images, %zu objects written to %s\n",
                std::string(vision::format_name(source.format)).c_str(), args->to_format.c_str(),
                loaded.dataset.samples.size(), objects, args->to.c_str());
    if (!loaded.problems.empty())
      std::printf("skipped %zu images and %zu objects (%zu problems, listed on stderr)\n",
                  loaded.skipped_images, loaded.skipped_objects, loaded.problems.size());
    return {};
  });
}

void print_stats(const vision::DatasetStats& stats, const std::string& path, vision::DatasetFormat format) {
  std::printf("dataset    %s (%s)\n", path.c_str(), std::string(vision::format_name(format)).c_str());
  std::printf("images     %zu (%zu without objects)\n", stats.images, stats.images_without_objects);
  std::printf("objects    %zu\n\n", stats.objects);
  std::printf("%-24s %9s %9s\n", "class", "objects", "images");
  for (const auto& c : stats.classes) std::printf("%-24s %9zu %9zu\n", c.label.c_str(), c.objects, c.images);
  std::printf("\n%-24s %9s %9s %9s\n", "box", "min", "median", "max");
  auto row = [](const char* name, const vision::Distribution& d) {
    std::printf("%-24s %9.1f %9.1f %9.1f\n", name, d.min, d.median, d.max);
  };
  row("width px", stats.box_width_px);
  row("height px", stats.box_height_px);
  row("area px^2", stats.box_area_px2);
  std::printf("sizes: small (area < 32^2) %zu, medium %zu, large (area > 96^2) %zu\n\n", stats.small_objects,
              stats.medium_objects, stats.large_objects);
  std::printf("%-24s %9s\n", "image size", "images");
  for (size_t i = 0; i < stats.image_sizes.size() && i < kMaxImageSizeLines; ++i) {
    const auto& size = stats.image_sizes[i];
    const std::string name = std::to_string(size.width) + "x" + std::to_string(size.height);
    std::printf("%-24s %9zu\n", name.c_str(), size.images);
  }
  if (stats.image_sizes.size() > kMaxImageSizeLines)
    std::printf("... and %zu more sizes\n", stats.image_sizes.size() - kMaxImageSizeLines);
}

void register_stats_command(CLI::App& dataset, Globals& globals, int& exit_code) {
  auto args = std::make_shared<SourceArgs>();
  auto* command = dataset.add_subcommand(
      "stats", "Count images, objects per class, box sizes and image sizes of a dataset");
  command->add_option("DIR", args->path, "dataset directory (or its data.yaml / COCO JSON file)")->required();
  command->add_option("--format", args->format, "dataset format (default: auto-detect)")
      ->check(CLI::IsMember(kSourceFormats));
  add_read_flags(command, *args);
  set_action(command, exit_code, [args, &globals]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(LoadedSource source, load_source(*args));
    const auto& loaded = source.loaded;
    const vision::DatasetStats stats = vision::compute_stats(loaded.dataset);
    if (globals.json) {
      Json out = vision::stats_to_json(stats);
      out["format"] = vision::format_name(source.format);
      out["skipped_images"] = loaded.skipped_images;
      out["skipped_objects"] = loaded.skipped_objects;
      out["problems"] = loaded.problems.size();
      print_json(out);
      return {};
    }
    print_stats(stats, args->path, source.format);
    if (!loaded.problems.empty())
      std::printf("\nskipped %zu images and %zu objects (%zu problems, listed on stderr)\n",
                  loaded.skipped_images, loaded.skipped_objects, loaded.problems.size());
    return {};
  });
}

void register_generate_command(CLI::App& dataset, Globals& globals, int& exit_code) {
  auto options = std::make_shared<vision::FieldOptions>();
  auto* command = dataset.add_subcommand(
      "generate", "Render a synthetic field dataset (YOLO layout, with sensor records in samples.jsonl)");
  command->add_option("--out", options->out, "directory to create")->required();
  command->add_option("--images", options->images, "number of images")
      ->check(cli_support::integer_at_least(0));
  command->add_option("--seed", options->seed, "seed; the same seed gives the same files");
  command
      ->add_option("--scenario", options->scenario, "world: baseline, new-disease, late-season, new-variety")
      ->check(CLI::IsMember(vision::field_scenarios()));
  command->add_option("--width", options->width, "image width in pixels");
  command->add_option("--height", options->height, "image height in pixels");
  command->add_option("--field", options->field_id, "field id in the sensor records");
  command->add_option("--device", options->device_id, "device id in the sensor records");
  set_action(command, exit_code, [options, &globals]() -> Status {
    ProgressReporter progress("generate", std::uint64_t(options->images), false);
    if (globals.quiet) progress.silence();
    CANOPY_TRY(
        vision::generate_field_dataset(*options, [&](int done) { progress.update(std::uint64_t(done)); }));
    progress.finish();
    // Read back what was written, so the summary counts the files, not the plan.
    vision::ReadOptions read;
    CANOPY_ASSIGN_OR_RETURN(vision::LoadedDataset written,
                            vision::read_dataset(options->out, vision::DatasetFormat::kYolo, read));
    const vision::DatasetStats stats = vision::compute_stats(written.dataset);
    if (globals.json) {
      Json boxes = Json::object();
      for (const auto& c : stats.classes) boxes[c.label] = c.objects;
      print_json(Json{{"out", options->out.string()},
                      {"images", stats.images},
                      {"boxes", stats.objects},
                      {"boxes_per_class", boxes},
                      {"scenario", options->scenario},
                      {"seed", options->seed}});
      return {};
    }
    std::string per_class;
    for (const auto& c : stats.classes)
      per_class += (per_class.empty() ? "" : ", ") + c.label + " " + std::to_string(c.objects);
    std::printf("generated %zu images with %zu boxes (%s) in %s\n", stats.images, stats.objects,
                per_class.c_str(), options->out.string().c_str());
    return {};
  });
}

}  // namespace

void register_dataset_commands(CLI::App& app, Globals& globals, int& exit_code) {
  auto* dataset =
      app.add_subcommand(
          "dataset", "Convert and inspect detection datasets (YOLO, COCO, Pascal VOC, Label Studio, CVAT) and dataset versions");
  dataset->require_subcommand(1);
  register_convert_command(*dataset, globals, exit_code);
  register_stats_command(*dataset, globals, exit_code);
  register_generate_command(*dataset, globals, exit_code);
  register_dataset_version_commands(*dataset, globals, exit_code);
}

}  // namespace canopy::cli
