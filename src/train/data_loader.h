// Batches for training and validation: reads a dataset's images, places and
// augments them (vision/augment.h) in a background thread while the model
// trains on the previous batch, and hands out input tensors with targets.
//
// Deterministic: the order of an epoch comes from (seed, epoch) and each
// image's augmentation from (seed, epoch, position), never from thread
// timing, so a resumed run sees the very batches an uninterrupted one would.
// Thread-safety: one consumer thread; the producer is internal.
#pragma once

#include <torch/torch.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "train/loss.h"
#include "vision/augment.h"
#include "vision/dataset.h"

namespace canopy::train {

struct Batch {
  torch::Tensor images;          // [B, 3, S, S] float, RGB, 0-1
  std::vector<Targets> targets;  // input pixels
};

struct LoaderOptions {
  int input_size = 320;
  int batch_size = 16;
  bool shuffle = true;
  bool drop_last = false;       // training drops a ragged last batch (BatchNorm dislikes tiny ones)
  std::uint64_t seed = 0;
  vision::AugmentOptions augment = vision::AugmentOptions::none();
};

class DataLoader {
 public:
  DataLoader(const vision::Dataset& dataset, LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  std::int64_t batches_per_epoch() const;
  std::int64_t images() const { return std::int64_t(dataset_.samples.size()); }
  // Starts producing `epoch`'s batches in the background, from batch `first`.
  void start_epoch(int epoch, std::int64_t first = 0);
  // The next batch of the epoch, or nothing when it is over.
  std::optional<Batch> next();

 private:
  // Reads one image and places it (augmented when the options say so).
  vision::LabeledImage load(std::size_t index, std::mt19937_64& random) const;
  void produce(int epoch, std::int64_t first, std::int64_t generation);
  void stop();
  Batch make_batch(const std::vector<std::size_t>& indices, int epoch, std::int64_t position) const;
  vision::LabeledImage read(std::size_t index) const;

  const vision::Dataset& dataset_;
  LoaderOptions options_;
  std::thread producer_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;
  bool finished_ = true;
  bool stopping_ = false;
  std::int64_t generation_ = 0;
};

// An RGB 0-1 [3, S, S] tensor from an 8-bit BGR image of size S x S.
torch::Tensor image_to_tensor(const cv::Mat& bgr);

}  // namespace canopy::train
