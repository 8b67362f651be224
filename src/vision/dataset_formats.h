// Detection datasets on disk: readers and writers for the YOLO, COCO and
// Pascal VOC layouts, format detection, and summary statistics.
//
//   YOLO  data.yaml (names: a list or {index: name}; optional path, train,
//         val, test), images/**.jpg|png, and labels/<same stem>.txt holding
//         one "class cx cy w h" line per object, normalized to 0..1. An image
//         without a label file has no objects.
//   COCO  one JSON file: images[{id, file_name, width, height}],
//         annotations[{id, image_id, category_id, bbox [x, y, w, h], iscrowd,
//         attributes}], categories[{id, name}]; file_name is relative to the
//         JSON's directory or to its images/ folder. Crowd regions
//         (iscrowd 1) are kept, marked with the attribute iscrowd=1.
//   VOC   Annotations/**.xml (<filename>, <size>, <object><name><bndbox>)
//         with the images in JPEGImages/. Coordinates are taken as written:
//         tools disagree on VOC's 1-based origin, and one pixel is below
//         annotation noise.
//   Label Studio  tasks.json, the JSON export: a list of tasks {id,
//         data: {image}, annotations: [{result: [{type: "rectanglelabels",
//         value: {x, y, width, height, rotation, rectanglelabels}}]}]} with
//         x..height in percent of the image; the latest annotation not
//         cancelled counts, tasks without one are skipped as unlabeled; the
//         image is the relative path, a local-files URL's path, or the URL's
//         file name, in the folder or its images/.
//   CVAT  annotations.xml, "CVAT for images 1.1": <meta> lists the labels in
//         order, <image name width height> holds <box label xtl ytl xbr ybr>
//         with <attribute name="..."> children; other shapes are left alone.
//
// Box coordinates are in the image as people saw it while labeling: upright,
// with a JPEG's EXIF orientation applied (read_image_size and read_image in
// vision/image.h do the same), so a phone photo taken sideways keeps its
// boxes on the right plants. A rotated box is refused in every format.
//
// Readers validate as they go. A malformed item (a label line, a COCO
// annotation, a VOC object, or a whole sample whose image is missing or
// unreadable) becomes a Problem naming its file and line; by default the item
// is skipped and counted, and with ReadOptions::strict the read fails
// instead. Faults that leave nothing to read (no such directory, a data.yaml
// or COCO JSON that does not parse) are Errors in both modes.
//
// Thread-safety: stateless functions; safe to call concurrently.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "vision/dataset.h"

namespace canopy::vision {

enum class DatasetFormat { kYolo, kCoco, kVoc, kLabelStudio, kCvat };

// "yolo", "coco", "voc", "labelstudio", "cvat".
std::string_view format_name(DatasetFormat format);
Result<DatasetFormat> parse_format(std::string_view name);

// Guesses the layout of `path`: a directory holding data.yaml is YOLO, one
// holding Annotations/ is VOC, and one holding a single JSON file with
// "images" and "annotations" (or a .json file itself) is COCO. Fails when no
// layout or more than one matches, so the caller can name the format.
Result<DatasetFormat> detect_format(const std::filesystem::path& path);
// The format `name` names ("yolo", ...), or for "auto" the one detect_format finds at `path`.
Result<DatasetFormat> resolve_format(const std::filesystem::path& path, std::string_view name);

struct Problem {
  std::filesystem::path file;
  int line = 0;  // 1-based; 0 when the format has no useful line (the message then names the item)
  std::string message;
};

// "file:line: message", or "file: message" when the line is 0.
std::string to_string(const Problem& problem);

struct ReadOptions {
  // Fail on the first problem instead of skipping the bad item. Default: skip.
  bool strict = false;
  // VOC only: the label names in index order. Default (empty): every name the
  // objects use, sorted. Objects with other names are problems.
  std::vector<std::string> labels;
};

struct LoadedDataset {
  Dataset dataset;
  std::vector<Problem> problems;  // in reading order
  size_t skipped_objects = 0;     // objects dropped for a problem of their own
  size_t skipped_images = 0;      // samples dropped whole (their objects are not counted above)
};

// Reads the dataset at `path`: its directory, or for YOLO and COCO also its
// data.yaml or JSON file. Samples come sorted by image path for YOLO and VOC,
// in file order for COCO. In strict mode the error message starts with the
// first problem's "file:line:".
Result<LoadedDataset> read_dataset(const std::filesystem::path& path, DatasetFormat format,
                                   const ReadOptions& options = {});

// Writes `dataset` in `format` under `out`, which must be absent or empty (so
// no stale label file can survive). Images are hard-linked when source and
// target share a filesystem and copied otherwise; every label and index file
// is written atomically. Fails on a dataset that cannot be represented: a
// label index out of range, an unknown image size, or two images that would
// land on the same file. YOLO cannot carry attributes; they are dropped.
Status write_dataset(const Dataset& dataset, DatasetFormat format, const std::filesystem::path& out);

// min, median and max of a set of values; all 0 for an empty set.
struct Distribution {
  double min = 0, median = 0, max = 0;
};

struct ClassStats {
  std::string label;
  size_t objects = 0;
  size_t images = 0;  // images with at least one object of this class
};

struct ImageSizeCount {
  int width = 0, height = 0;
  size_t images = 0;
};

struct DatasetStats {
  size_t images = 0;
  size_t objects = 0;
  size_t images_without_objects = 0;
  std::vector<ClassStats>
      classes;  // in label order; objects with an out-of-range label count only in `objects`
  Distribution box_width_px, box_height_px, box_area_px2;
  // COCO's size classes by box area: small < 32², large > 96², medium between.
  size_t small_objects = 0, medium_objects = 0, large_objects = 0;
  std::vector<ImageSizeCount> image_sizes;  // most frequent first
};

DatasetStats compute_stats(const Dataset& dataset);
Json stats_to_json(const DatasetStats& stats);

}  // namespace canopy::vision
