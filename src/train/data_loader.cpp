#include "train/data_loader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <numeric>

#include "vision/image.h"

namespace canopy::train {
namespace {

constexpr std::size_t kPrefetch = 3;  // batches made ahead of the trainer

std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  // splitmix64 of the pair: distinct, well-spread seeds per (epoch, item).
  std::uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

torch::Tensor image_to_tensor(const cv::Mat& bgr) {
  torch::Tensor out = torch::empty({3, bgr.rows, bgr.cols}, torch::kFloat32);
  vision::Normalization normalization;  // RGB, 1/255, no mean or std
  vision::to_nchw(bgr, normalization, out.data_ptr<float>());
  return out;
}

DataLoader::DataLoader(const vision::Dataset& dataset, LoaderOptions options)
    : dataset_(dataset), options_(std::move(options)) {}

DataLoader::~DataLoader() { stop(); }

std::int64_t DataLoader::batches_per_epoch() const {
  const std::int64_t n = images(), b = options_.batch_size;
  return options_.drop_last && n >= b ? n / b : (n + b - 1) / b;
}

vision::LabeledImage DataLoader::read(std::size_t index) const {
  const vision::Sample& sample = dataset_.samples[index];
  vision::LabeledImage item;
  auto image = vision::read_image(dataset_.root / sample.image);
  if (!image) {
    // The dataset reader checked every image; one that breaks afterwards is
    // trained as an empty grey frame rather than stopping a long run.
    spdlog::warn("cannot read {}: {}", sample.image.string(), image.error().message);
    item.image = cv::Mat(std::max(sample.height, 32), std::max(sample.width, 32), CV_8UC3, cv::Scalar::all(114));
    return item;
  }
  item.image = std::move(*image);
  for (const vision::Annotation& object : sample.objects) {
    item.boxes.push_back(object.box);
    item.labels.push_back(object.label);
  }
  return item;
}

vision::LabeledImage DataLoader::load(std::size_t index, std::mt19937_64& random) const {
  const auto another = [&] {
    return read(std::uniform_int_distribution<std::size_t>(0, dataset_.samples.size() - 1)(random));
  };
  return vision::augment(read(index), options_.input_size, options_.augment, random, another);
}

Batch DataLoader::make_batch(const std::vector<std::size_t>& indices, int epoch, std::int64_t position) const {
  Batch batch;
  std::vector<torch::Tensor> images;
  for (std::size_t k = 0; k < indices.size(); ++k) {
    std::mt19937_64 random(mix(options_.seed, mix(std::uint64_t(epoch), std::uint64_t(position) + k)));
    const vision::LabeledImage item = load(indices[k], random);
    images.push_back(image_to_tensor(item.image));
    Targets targets;
    std::vector<float> flat;
    for (const vision::Box& b : item.boxes) flat.insert(flat.end(), {b.x1, b.y1, b.x2, b.y2});
    targets.boxes = torch::tensor(flat, torch::kFloat32).reshape({-1, 4});
    targets.labels = torch::tensor(std::vector<std::int64_t>(item.labels.begin(), item.labels.end()), torch::kLong);
    batch.targets.push_back(std::move(targets));
  }
  batch.images = torch::stack(images);
  return batch;
}

void DataLoader::start_epoch(int epoch, std::int64_t first) {
  stop();
  std::lock_guard lock(mutex_);
  ready_.clear();
  finished_ = false;
  stopping_ = false;
  producer_ = std::thread(&DataLoader::produce, this, epoch, first, ++generation_);
}

void DataLoader::produce(int epoch, std::int64_t first, std::int64_t generation) {
  std::vector<std::size_t> order(dataset_.samples.size());
  std::iota(order.begin(), order.end(), 0);
  if (options_.shuffle) {
    std::mt19937_64 random(mix(options_.seed, std::uint64_t(epoch)));
    std::shuffle(order.begin(), order.end(), random);
  }
  const std::int64_t batches = batches_per_epoch();
  for (std::int64_t b = first; b < batches; ++b) {
    const std::size_t begin = std::size_t(b * options_.batch_size);
    const std::size_t end = std::min(order.size(), begin + std::size_t(options_.batch_size));
    Batch batch = make_batch({order.begin() + std::ptrdiff_t(begin), order.begin() + std::ptrdiff_t(end)}, epoch,
                             std::int64_t(begin));
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return stopping_ || ready_.size() < kPrefetch; });
    if (stopping_ || generation != generation_) return;
    ready_.push_back(std::move(batch));
    changed_.notify_all();
  }
  std::lock_guard lock(mutex_);
  finished_ = true;
  changed_.notify_all();
}

std::optional<Batch> DataLoader::next() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return !ready_.empty() || finished_; });
  if (ready_.empty()) return std::nullopt;
  Batch batch = std::move(ready_.front());
  ready_.pop_front();
  changed_.notify_all();
  return batch;
}

void DataLoader::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
  }
  if (producer_.joinable()) producer_.join();
  std::lock_guard lock(mutex_);
  finished_ = true;
}

}  // namespace canopy::train
