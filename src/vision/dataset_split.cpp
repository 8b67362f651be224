#include "vision/dataset_split.h"

#include <cstdint>

#include "common/hash.h"

namespace canopy::vision {

std::string split_for_hash(std::string_view sha256_hex, double val_fraction, double test_fraction) {
  // The first 8 hex digits as a uniform number in [0, 1).
  std::uint32_t prefix = 0;
  for (size_t i = 0; i < 8 && i < sha256_hex.size(); ++i) {
    const char c = sha256_hex[i];
    prefix = prefix * 16 + std::uint32_t(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
  }
  const double position = prefix / 4294967296.0;
  if (position < val_fraction) return "val";
  if (position < val_fraction + test_fraction) return "test";
  return "train";
}

Result<DatasetSplits> split_dataset(const Dataset& dataset, double val_fraction, double test_fraction) {
  if (val_fraction < 0 || test_fraction < 0 || val_fraction + test_fraction >= 1) {
    return Error{ErrorCode::kInvalidArgument, "split fractions must be >= 0 and leave room for training"};
  }
  DatasetSplits splits;
  for (Dataset* part : {&splits.train, &splits.val, &splits.test}) {
    part->root = dataset.root;
    part->labels = dataset.labels;
  }
  for (const Sample& sample : dataset.samples) {
    CANOPY_ASSIGN_OR_RETURN(std::string digest, sha256_file_hex(dataset.root / sample.image));
    const std::string split = split_for_hash(digest, val_fraction, test_fraction);
    (split == "val" ? splits.val : split == "test" ? splits.test : splits.train).samples.push_back(sample);
  }
  return splits;
}

}  // namespace canopy::vision
