// Train/validation/test splits that stay put: an image's split follows from
// the SHA-256 of its bytes, so adding images (the retraining loop adds them
// all the time) never moves an old image from validation into training.
// Thread-safety: stateless.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "vision/dataset.h"

namespace canopy::vision {

struct DatasetSplits {
  Dataset train, val, test;
};

// "val" for the first `val_fraction` of the hash space, "test" for the next
// `test_fraction`, "train" for the rest.
std::string split_for_hash(std::string_view sha256_hex, double val_fraction, double test_fraction = 0);

// Splits by each image file's hash (the files are read once).
Result<DatasetSplits> split_dataset(const Dataset& dataset, double val_fraction, double test_fraction = 0);

}  // namespace canopy::vision
