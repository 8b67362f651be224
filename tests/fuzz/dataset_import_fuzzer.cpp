// libFuzzer target over the dataset importers (vision/dataset_formats.h):
// `canopy dataset import` and the server's dataset uploads read annotation
// files from labeling tools and from whoever shared the dataset. The first
// input byte picks the format and the rest becomes its annotation file in a
// fresh directory laid out as that reader expects, next to one tiny JPEG and
// PNG (img.jpg, img.png, 8x6 pixels) the annotations can name:
//   0  COCO          annotations.json, images beside it and in images/
//   1  Pascal VOC    Annotations/img.xml, images in JPEGImages/
//   2  Label Studio  tasks.json, images beside it and in images/
//   3  CVAT          annotations.xml, images beside it and in images/
//   4  YOLO          labels/img.txt under a fixed data.yaml (names a, b, c), images in images/
// The reader goes through JSON, libxml2, the label-line parser, image size
// reading and box checks, and on success the summary statistics. Any input
// must end in a dataset or an Error: never a crash, a leak or a hang. Run by
// the dataset_import_fuzz test over tests/fuzz/corpus/dataset_import/.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <string>
#include <string_view>

#include "vision/dataset_formats.h"
#include "vision/image_codec.h"

namespace fs = std::filesystem;

namespace {

fs::path base;  // holds the two images, and each run's directory

void write(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Hard links to the images written once, under the names annotations use.
void place_images(const fs::path& dir) {
  fs::create_directories(dir);
  fs::create_hard_link(base / "img.jpg", dir / "img.jpg");
  fs::create_hard_link(base / "img.png", dir / "img.png");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace canopy::vision;
  spdlog::set_level(spdlog::level::off);
  std::string pattern = (fs::temp_directory_path() / "canopy-dataset-fuzz-XXXXXX").string();
  if (!mkdtemp(pattern.data())) std::abort();
  base = pattern;
  const cv::Mat image(6, 8, CV_8UC3, cv::Scalar(40, 160, 80));
  auto jpeg = encode_image(image, ImageFormat::kJpeg);
  auto png = encode_image(image, ImageFormat::kPng);
  if (!jpeg.ok() || !png.ok()) std::abort();
  write(base / "img.jpg", *jpeg);
  write(base / "img.png", *png);
  std::atexit([] {
    std::error_code ec;
    fs::remove_all(base, ec);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  using namespace canopy::vision;
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const fs::path dir = base / "run";
  fs::remove_all(dir);
  fs::path path = dir;
  DatasetFormat format = DatasetFormat::kCoco;
  switch (data[0] % 5) {
    case 0:
      place_images(dir);
      place_images(dir / "images");
      write(path = dir / "annotations.json", bytes);
      break;
    case 1:
      format = DatasetFormat::kVoc;
      place_images(dir / "JPEGImages");
      fs::create_directories(dir / "Annotations");
      write(dir / "Annotations" / "img.xml", bytes);
      break;
    case 2:
      format = DatasetFormat::kLabelStudio;
      place_images(dir);
      place_images(dir / "images");
      write(dir / "tasks.json", bytes);
      break;
    case 3:
      format = DatasetFormat::kCvat;
      place_images(dir);
      place_images(dir / "images");
      write(dir / "annotations.xml", bytes);
      break;
    default:
      format = DatasetFormat::kYolo;
      place_images(dir / "images");
      fs::create_directories(dir / "labels");
      write(dir / "data.yaml", "names: [a, b, c]\n");
      write(dir / "labels" / "img.txt", bytes);
      break;
  }
  auto loaded = read_dataset(path, format);
  if (loaded.ok()) {
    for (const auto& problem : loaded->problems) (void)to_string(problem);
    (void)stats_to_json(compute_stats(loaded->dataset));
  }
  ReadOptions strict;
  strict.strict = true;
  (void)read_dataset(path, format, strict);
  return 0;
}
