// Dataset versions (docs/labeling.md, "Datasets"): immutable snapshots of
// what people labeled, for training. A version holds its items (image hash,
// size, boxes, split, who labeled it, which device sent it) as they were
// when it was made; later labels never change it. Bases bring the items of
// earlier versions in (a sample in both takes its newest labels). Splits
// follow each image's hash (vision::split_for_hash), so an image stays in
// its split in every version, and training (canopy-train) splits the same
// way.
//
// The labels come through LabeledSamples, which the server's composition
// implements over the labeling queue and the sample store. A dataset made
// elsewhere (the data a model was first trained on) is imported as a
// version of its own: its images go to the area's blob store (DATA/datasets)
// one by one, named by their SHA-256, and the version is made last, so a
// failed import makes no version (images it left are swept at the next
// start).
//
// Thread-safety: every public method may be called from any thread; the
// area's mutex guards its connection. Lock order: this area, then the
// labeling queue, then the sample store.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/datasets.h"
#include "common/clock.h"
#include "common/error.h"
#include "server/storage/blob_store.h"
#include "server/storage/sqlite.h"

namespace canopy::server {

// What the datasets area needs of the labeling queue and the sample store.
class LabeledSamples {
 public:
  virtual ~LabeledSamples() = default;
  // The labeled items of `field` (empty: every field), reviewed only or
  // labeled and reviewed, with their images' hashes and sizes; split empty.
  virtual Result<std::vector<api::DatasetItem>> labeled(const std::string& field, bool reviewed_only) = 0;
};

class DatasetVersions {
 public:
  static Result<std::unique_ptr<DatasetVersions>> open(Database db, const std::filesystem::path& dir,
                                                       LabeledSamples& labeled, Clock& clock);

  // The next version of `name`. kInvalidArgument when nothing matches, a
  // base is unknown, or a box has a class `request.labels` does not list.
  Result<api::DatasetVersion> create(const std::string& name, const api::DatasetVersionRequest& request,
                                     const std::string& actor);
  // Every version of `name` (empty: of every name), newest first, without items.
  Result<std::vector<api::DatasetVersion>> list(const std::string& name);
  // One version with its items; kNotFound for an unknown one.
  Result<api::DatasetVersion> get(const std::string& name, std::int64_t version);
  // NAME:VERSION of every version holding the sample (lineage).
  Result<std::vector<std::string>> versions_with_sample(const std::string& sample_id);

  // Keeps an imported image under its SHA-256: kInvalidArgument when the
  // bytes have another digest or are no JPEG or PNG of at most 4096x4096.
  Status put_image(const std::string& bytes, const std::string& sha256);
  // An imported image; kNotFound when the area does not hold it.
  Result<std::string> image(const std::string& sha256);
  // The next version of `name`, of exactly `items` (their images imported
  // first), with `labels` in order.
  Result<api::DatasetVersion> import_version(const std::string& name, const std::vector<std::string>& labels,
                                             std::vector<api::DatasetItem> items, const std::string& actor);

 private:
  DatasetVersions(Database db, BlobStore blobs, LabeledSamples& labeled, Clock& clock)
      : db_(std::move(db)), blobs_(std::move(blobs)), labeled_(labeled), clock_(clock) {}
  Result<api::DatasetVersion> get_locked(const std::string& name, std::int64_t version, bool with_items);
  // Caller holds mutex_: numbers, counts and stores `v` with its items.
  Result<api::DatasetVersion> store_locked(api::DatasetVersion v,
                                           std::map<std::string, api::DatasetItem> items);

  std::mutex mutex_;  // guards db_
  Database db_;
  BlobStore blobs_;
  LabeledSamples& labeled_;
  Clock& clock_;
};

}  // namespace canopy::server
