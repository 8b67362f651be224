// The sample store (docs/samples.md, "On the server"): the hard cases
// devices send on their samples stream. A sample's image is decoded whole
// before anything is kept, stored once per content in the area's own blob
// store (with a thumbnail for lists), and its description is a row that
// queries filter by device, field, camera, strategy, model, predicted class
// and score, the random flag and capture time.
//
// Ingest is all or nothing per batch: every sample is checked first (its id
// must name the sending device, its image must decode within the pixel
// bound and match its stated size, the device must stay within its quotas),
// blobs are written next, and the rows go in one transaction, so an error
// stores nothing; a blob written for a batch that then failed is swept at
// the next open. A sample id already stored with the same image is accepted
// again (a batch resent after a lost answer); with another image it is
// refused as a replay.
//
// Retention: unlabeled samples older than `unlabeled_ttl_ms` (by the time
// the server received them) go, and the oldest unlabeled go first while the
// images pass `max_total_bytes`; labeled samples stay. Times come from the
// area's Clock.
//
// Thread-safety: every public method may be called from any thread; the
// area's mutex guards its connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/samples.h"
#include "common/clock.h"
#include "common/error.h"
#include "server/storage/blob_store.h"
#include "server/storage/sqlite.h"

namespace canopy::server {

struct SampleStoreOptions {
  std::int64_t max_samples_per_device = 50'000;
  std::int64_t max_bytes_per_device = 2ll << 30;      // 2 GiB of images
  std::int64_t unlabeled_ttl_ms = 90ll * 86'400'000;  // 90 days
  std::int64_t max_total_bytes = 50ll << 30;          // 50 GiB of images
  std::int64_t max_image_pixels = 4096ll * 4096;      // more is a decompression bomb
  int thumbnail_width = 160;
};

// A stored sample with its place in the order of arrival (SQLite's rowid):
// the labeling queue reads the store forward from the last one it saw.
struct SequencedSample {
  std::int64_t sequence = 0;
  api::StoredSample sample;
};

class SampleStore {
 public:
  // Migrates the area's tables on `db` and keeps its blobs under `dir`
  // (sweeping what a failed ingest left there). `clock` must outlive it.
  static Result<std::unique_ptr<SampleStore>> open(Database db, const std::filesystem::path& dir,
                                                   Clock& clock, SampleStoreOptions options = {});

  // Checks and stores `samples` from `device_id`: all of them or, on an
  // error naming the sample, none.
  Status ingest(const std::string& device_id, const std::vector<api::Sample>& samples);

  Result<std::vector<api::StoredSample>> list(const api::SampleQuery& query);
  // kNotFound for an unknown id.
  Result<api::StoredSample> get(const std::string& id);
  // At most `limit` samples stored after `sequence`, in order of arrival.
  Result<std::vector<SequencedSample>> stored_after(std::int64_t sequence, int limit);
  // What the labeling queue says of a sample; anything but "unlabeled" is
  // kept by retention. kNotFound for an unknown id.
  Status set_label_state(const std::string& id, const std::string& state);
  // The JPEG a sample with this image hash holds; kNotFound when none does.
  Result<std::string> image_by_sha256(const std::string& sha256);
  // The JPEG of a sample, or its thumbnail.
  Result<std::string> image(const std::string& id, bool thumbnail);
  Result<api::SampleStats> stats();
  // Applies retention at the clock's time; answers how many samples went.
  Result<std::int64_t> prune();
  // prune() at most once an hour: after every ingest.
  void prune_if_due();

 private:
  SampleStore(Database db, BlobStore blobs, Clock& clock, SampleStoreOptions options)
      : db_(std::move(db)), blobs_(std::move(blobs)), clock_(clock), options_(options) {}
  Status put_blob(const std::string& bytes, const std::string& sha256);
  // Caller holds mutex_. Deletes the rows of `ids` and the blobs no row needs any more.
  Status remove_locked(const std::vector<std::string>& ids);

  std::mutex mutex_;  // guards db_
  Database db_;
  BlobStore blobs_;
  Clock& clock_;
  const SampleStoreOptions options_;
  std::atomic<std::int64_t> pruned_at_ms_{0};
};

}  // namespace canopy::server
