#include "server/samples/sample_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <opencv2/imgproc.hpp>
#include <set>

#include "common/files.h"
#include "common/hash.h"
#include "common/keys.h"
#include "common/time.h"
#include "server/storage/migrations.h"
#include "vision/image_codec.h"

namespace canopy::server {

namespace {

// samples holds one row per sample, with what queries filter by in columns
// and the whole description (the Sample without its image) in `meta`.
// sample_reasons and sample_boxes let a query ask for a strategy, or a class
// at a score (in thousandths), without reading every row's JSON.
const AreaSchema kSchema{"samples", {R"sql(
CREATE TABLE samples (
  id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  field TEXT NOT NULL,
  camera TEXT NOT NULL,
  captured_ms INTEGER NOT NULL,
  model TEXT NOT NULL,
  random INTEGER NOT NULL,
  top_label TEXT NOT NULL,
  image_sha256 TEXT NOT NULL,
  image_bytes INTEGER NOT NULL,
  thumbnail_sha256 TEXT NOT NULL,
  label_state TEXT NOT NULL DEFAULT 'unlabeled',
  received_ms INTEGER NOT NULL,
  meta TEXT NOT NULL
);
CREATE INDEX samples_by_time ON samples(captured_ms, id);
CREATE INDEX samples_by_device ON samples(device_id, captured_ms);
CREATE INDEX samples_by_received ON samples(label_state, received_ms);
CREATE INDEX samples_by_image ON samples(image_sha256);
CREATE TABLE sample_reasons (
  sample_id TEXT NOT NULL,
  strategy TEXT NOT NULL,
  score_milli INTEGER NOT NULL
);
CREATE INDEX sample_reasons_by_strategy ON sample_reasons(strategy, sample_id);
CREATE INDEX sample_reasons_by_sample ON sample_reasons(sample_id);
CREATE TABLE sample_boxes (
  sample_id TEXT NOT NULL,
  label TEXT NOT NULL,
  score_milli INTEGER NOT NULL
);
CREATE INDEX sample_boxes_by_label ON sample_boxes(label, score_milli, sample_id);
CREATE INDEX sample_boxes_by_sample ON sample_boxes(sample_id);
)sql"}};

constexpr const char* kColumns =
    "device_id, image_sha256, image_bytes, label_state, received_ms, meta, captured_ms, id";

// A sample checked and ready to store.
struct Checked {
  const api::Sample* sample = nullptr;
  std::string jpeg, sha256;
  std::string thumbnail, thumbnail_sha256;
};

std::int64_t milli(double score) { return std::llround(score * 1000); }

// Every refusal is one the device's uploader recognises (kInvalidArgument,
// kTooLarge: a 400 or a 413), so it drops the sample instead of sending it
// forever.
Error refused(const api::Sample& sample, ErrorCode code, const std::string& why) {
  return make_error(code, "sample " + sample.id + ": " + why);
}

std::string top_label(const api::Sample& sample) {
  const auto top = std::max_element(sample.predictions.begin(), sample.predictions.end(),
                                    [](const auto& a, const auto& b) { return a.score < b.score; });
  return top == sample.predictions.end() ? "none" : top->label;
}

Result<api::StoredSample> stored_from_row(const Statement& row) {
  api::StoredSample s;
  s.device_id = row.column_text(0);
  s.image_sha256 = row.column_text(1);
  s.image_bytes = row.column_int(2);
  s.label_state = row.column_text(3);
  s.received_at = format_utc(row.column_int(4));
  CANOPY_ASSIGN_OR_RETURN(Json meta, parse_json(row.column_text(5), "a stored sample"));
  CANOPY_ASSIGN_OR_RETURN(s.sample, api::Sample::from_json(meta));
  return s;
}

}  // namespace

Result<std::unique_ptr<SampleStore>> SampleStore::open(Database db, const std::filesystem::path& dir,
                                                       Clock& clock, SampleStoreOptions options) {
  CANOPY_TRY(migrate(db, kSchema));
  CANOPY_ASSIGN_OR_RETURN(BlobStore blobs, BlobStore::open(dir));
  auto swept =
      blobs.sweep_unnamed(db, "SELECT image_sha256 FROM samples UNION SELECT thumbnail_sha256 FROM samples");
  if (!swept.ok()) return swept.error();
  return std::unique_ptr<SampleStore>(new SampleStore(std::move(db), std::move(blobs), clock, options));
}

Status SampleStore::put_blob(const std::string& bytes, const std::string& sha256) {
  if (blobs_.contains(sha256)) return {};
  CANOPY_ASSIGN_OR_RETURN(TempFile file, TempFile::create(blobs_.tmp_dir(), "sample-"));
  CANOPY_TRY(file.write(bytes));
  return blobs_.put(file, sha256);
}

Status SampleStore::ingest(const std::string& device_id, const std::vector<api::Sample>& samples) {
  std::vector<Checked> checked;
  vision::ImageDecoder decoder;
  std::int64_t new_bytes = 0;
  std::set<std::string> ids;
  for (const api::Sample& sample : samples) {
    if (sample.id != api::sample_id(device_id, sample.camera, sample.captured_ms))
      return refused(sample, ErrorCode::kInvalidArgument,
                     "the id must be " + api::sample_id(device_id, sample.camera, sample.captured_ms) +
                         ": a device sends samples under its own name");
    if (!ids.insert(sample.id).second)
      return refused(sample, ErrorCode::kInvalidArgument, "sent twice in one batch");
    Checked c;
    c.sample = &sample;
    auto jpeg = base64_decode(sample.jpeg_base64);
    if (!jpeg.ok() || jpeg->empty())
      return refused(sample, ErrorCode::kInvalidArgument, "the image is not base64 of a JPEG");
    c.jpeg = std::move(*jpeg);
    if (vision::is_truncated_image(c.jpeg))
      return refused(sample, ErrorCode::kInvalidArgument, "the image is truncated");
    // The decoder reads PNG too, but a sample's image is answered and
    // pulled as a JPEG.
    if (!c.jpeg.starts_with("\xFF\xD8\xFF"))
      return refused(sample, ErrorCode::kInvalidArgument, "the image is not a JPEG");
    auto size = decoder.size(c.jpeg);
    if (!size.ok())
      return refused(sample, ErrorCode::kInvalidArgument, "not an image: " + size.error().message);
    if (static_cast<std::int64_t>(size->width) * size->height > options_.max_image_pixels)
      return refused(sample, ErrorCode::kTooLarge,
                     "the image declares " + std::to_string(size->width) + "x" +
                         std::to_string(size->height) + " pixels, more than the " +
                         std::to_string(options_.max_image_pixels) + " a sample may have");
    if (size->width != sample.width || size->height != sample.height)
      return refused(sample, ErrorCode::kInvalidArgument,
                     "the image is " + std::to_string(size->width) + "x" + std::to_string(size->height) +
                         ", not the " + std::to_string(sample.width) + "x" + std::to_string(sample.height) +
                         " the sample states");
    auto decoded = decoder.decode(c.jpeg);
    if (!decoded.ok())
      return refused(sample, ErrorCode::kInvalidArgument,
                     "the image does not decode: " + decoded.error().message);
    cv::Mat thumbnail;
    const int width = std::min(options_.thumbnail_width, decoded->cols);
    cv::resize(*decoded, thumbnail, cv::Size(width, std::max(1, decoded->rows * width / decoded->cols)), 0, 0,
               cv::INTER_AREA);
    CANOPY_ASSIGN_OR_RETURN(c.thumbnail, vision::encode_image(thumbnail, vision::ImageFormat::kJpeg, 80));
    c.sha256 = sha256_hex(c.jpeg);
    c.thumbnail_sha256 = sha256_hex(c.thumbnail);
    new_bytes += static_cast<std::int64_t>(c.jpeg.size());
    checked.push_back(std::move(c));
  }

  std::lock_guard guard(mutex_);
  // What is already here: a resent sample must be the same one.
  std::vector<Checked*> fresh;
  {
    CANOPY_ASSIGN_OR_RETURN(Statement find, db_.prepare("SELECT image_sha256 FROM samples WHERE id = ?"));
    for (Checked& c : checked) {
      find.reset();
      find.bind(1, c.sample->id);
      CANOPY_ASSIGN_OR_RETURN(bool row, find.step());
      if (!row) {
        fresh.push_back(&c);
        continue;
      }
      if (find.column_text(0) != c.sha256)
        return refused(*c.sample, ErrorCode::kInvalidArgument,
                       "a replay: this id is stored already, with another image");
      new_bytes -= static_cast<std::int64_t>(c.jpeg.size());
    }
  }
  if (fresh.empty()) return {};
  {
    CANOPY_ASSIGN_OR_RETURN(
        Statement usage,
        db_.prepare("SELECT COUNT(*), COALESCE(SUM(image_bytes), 0) FROM samples WHERE device_id = ?"));
    usage.bind(1, device_id);
    CANOPY_ASSIGN_OR_RETURN(bool row, usage.step());
    (void)row;
    const std::int64_t count = usage.column_int(0), bytes = usage.column_int(1);
    if (count + static_cast<std::int64_t>(fresh.size()) > options_.max_samples_per_device)
      return make_error(ErrorCode::kTooLarge, "device " + device_id + " holds " + std::to_string(count) +
                                                  " samples, its quota is " +
                                                  std::to_string(options_.max_samples_per_device));
    if (bytes + new_bytes > options_.max_bytes_per_device)
      return make_error(ErrorCode::kTooLarge,
                        "device " + device_id + "'s samples would take " +
                            format_bytes(static_cast<std::uint64_t>(bytes + new_bytes)) + ", its quota is " +
                            format_bytes(static_cast<std::uint64_t>(options_.max_bytes_per_device)));
  }
  for (const Checked* c : fresh) {
    CANOPY_TRY(put_blob(c->jpeg, c->sha256));
    CANOPY_TRY(put_blob(c->thumbnail, c->thumbnail_sha256));
  }
  const std::int64_t now = clock_.wall_ms();
  CANOPY_ASSIGN_OR_RETURN(Transaction transaction, Transaction::begin(db_));
  for (const Checked* c : fresh) {
    const api::Sample& s = *c->sample;
    Json meta = s.to_json();
    meta.erase("jpeg");
    CANOPY_TRY(db_.run(
        "INSERT INTO samples(id, device_id, field, camera, captured_ms, model, random, top_label, "
        "image_sha256, "
        "image_bytes, thumbnail_sha256, received_ms, meta) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
        {s.id, device_id, s.field, s.camera, s.captured_ms, s.model, std::int64_t{s.random}, top_label(s),
         c->sha256, static_cast<std::int64_t>(c->jpeg.size()), c->thumbnail_sha256, now, meta.dump()}));
    for (const api::SampleReason& reason : s.reasons)
      CANOPY_TRY(db_.run("INSERT INTO sample_reasons(sample_id, strategy, score_milli) VALUES(?,?,?)",
                         {s.id, reason.strategy, milli(reason.score)}));
    for (const api::SampleBox& box : s.predictions)
      CANOPY_TRY(db_.run("INSERT INTO sample_boxes(sample_id, label, score_milli) VALUES(?,?,?)",
                         {s.id, box.label, milli(box.score)}));
  }
  return transaction.commit();
}

Result<std::vector<api::StoredSample>> SampleStore::list(const api::SampleQuery& query) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM samples s WHERE captured_ms >= ?";
  std::vector<SqlValue> binds = {query.since_ms};
  auto where = [&](const std::string& clause, const std::vector<SqlValue>& values) {
    sql += " AND " + clause;
    binds.insert(binds.end(), values.begin(), values.end());
  };
  if (query.until_ms) where("captured_ms < ?", {*query.until_ms});
  if (!query.device_id.empty()) where("device_id = ?", {query.device_id});
  if (!query.field.empty()) where("field = ?", {query.field});
  if (!query.camera.empty()) where("camera = ?", {query.camera});
  if (!query.model.empty()) where("model = ?", {query.model});
  if (query.random) where("random = ?", {std::int64_t{*query.random}});
  if (!query.strategy.empty())
    where("EXISTS (SELECT 1 FROM sample_reasons r WHERE r.sample_id = s.id AND r.strategy = ?)",
          {query.strategy});
  if (!query.predicted_class.empty())
    where(
        "EXISTS (SELECT 1 FROM sample_boxes b WHERE b.sample_id = s.id AND b.label = ? AND b.score_milli >= "
        "?)",
        {query.predicted_class, milli(query.min_score)});
  std::lock_guard guard(mutex_);
  if (!query.before.empty()) {
    // The page after `before`: older, or as old with a smaller id.
    CANOPY_ASSIGN_OR_RETURN(Statement cursor, db_.prepare("SELECT captured_ms FROM samples WHERE id = ?"));
    cursor.bind(1, query.before);
    CANOPY_ASSIGN_OR_RETURN(bool row, cursor.step());
    if (!row) return make_error(ErrorCode::kNotFound, "no sample " + query.before + " to page after");
    where("(captured_ms < ? OR (captured_ms = ? AND id < ?))",
          {cursor.column_int(0), cursor.column_int(0), query.before});
  }
  sql += " ORDER BY captured_ms DESC, id DESC LIMIT ?";
  binds.push_back(static_cast<std::int64_t>(query.limit));
  CANOPY_ASSIGN_OR_RETURN(Statement select, db_.prepare(sql));
  for (std::size_t i = 0; i < binds.size(); ++i) select.bind(static_cast<int>(i + 1), binds[i]);
  std::vector<api::StoredSample> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    CANOPY_ASSIGN_OR_RETURN(api::StoredSample sample, stored_from_row(select));
    out.push_back(std::move(sample));
  }
  return out;
}

Result<api::StoredSample> SampleStore::get(const std::string& id) {
  std::lock_guard guard(mutex_);
  CANOPY_ASSIGN_OR_RETURN(Statement select,
                          db_.prepare(std::string("SELECT ") + kColumns + " FROM samples WHERE id = ?"));
  select.bind(1, id);
  CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
  if (!row) return make_error(ErrorCode::kNotFound, "no sample " + id);
  return stored_from_row(select);
}

Result<std::vector<SequencedSample>> SampleStore::stored_after(std::int64_t sequence, int limit) {
  std::lock_guard guard(mutex_);
  CANOPY_ASSIGN_OR_RETURN(Statement select,
                          db_.prepare(std::string("SELECT ") + kColumns +
                                      ", rowid FROM samples WHERE rowid > ? ORDER BY rowid LIMIT ?"));
  select.bind(1, sequence).bind(2, std::int64_t{limit});
  std::vector<SequencedSample> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    CANOPY_ASSIGN_OR_RETURN(api::StoredSample sample, stored_from_row(select));
    out.push_back({select.column_int(8), std::move(sample)});
  }
  return out;
}

Status SampleStore::set_label_state(const std::string& id, const std::string& state) {
  std::lock_guard guard(mutex_);
  CANOPY_TRY(db_.run("UPDATE samples SET label_state = ? WHERE id = ?", {state, id}));
  if (db_.changes() == 0) return make_error(ErrorCode::kNotFound, "no sample " + id);
  return {};
}

Result<std::string> SampleStore::image_by_sha256(const std::string& sha256) {
  std::lock_guard guard(mutex_);
  CANOPY_ASSIGN_OR_RETURN(Statement select,
                          db_.prepare("SELECT 1 FROM samples WHERE image_sha256 = ? LIMIT 1"));
  select.bind(1, sha256);
  CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
  if (!row) return make_error(ErrorCode::kNotFound, "no image " + sha256);
  return read_file(blobs_.path_of(sha256));
}

Result<std::string> SampleStore::image(const std::string& id, bool thumbnail) {
  // Read under the lock: a prune between the row and the file would remove it.
  std::lock_guard guard(mutex_);
  CANOPY_ASSIGN_OR_RETURN(Statement select,
                          db_.prepare(thumbnail ? "SELECT thumbnail_sha256 FROM samples WHERE id = ?"
                                                : "SELECT image_sha256 FROM samples WHERE id = ?"));
  select.bind(1, id);
  CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
  if (!row) return make_error(ErrorCode::kNotFound, "no sample " + id);
  return read_file(blobs_.path_of(select.column_text(0)));
}

Result<api::SampleStats> SampleStore::stats() {
  api::SampleStats stats;
  std::lock_guard guard(mutex_);
  auto count_by = [&](const std::string& sql, std::map<std::string, std::int64_t>& into) -> Status {
    CANOPY_ASSIGN_OR_RETURN(Statement select, db_.prepare(sql));
    while (true) {
      CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
      if (!row) return {};
      into[select.column_text(0)] = select.column_int(1);
    }
  };
  CANOPY_TRY(count_by("SELECT strategy, COUNT(DISTINCT sample_id) FROM sample_reasons GROUP BY strategy",
                      stats.by_strategy));
  CANOPY_TRY(count_by("SELECT device_id, COUNT(*) FROM samples GROUP BY device_id", stats.by_device));
  CANOPY_TRY(
      count_by("SELECT top_label, COUNT(*) FROM samples GROUP BY top_label", stats.by_predicted_class));
  CANOPY_ASSIGN_OR_RETURN(Statement totals, db_.prepare("SELECT COUNT(*), COALESCE(SUM(random), 0), "
                                                        "(SELECT COALESCE(SUM(image_bytes), 0) FROM (SELECT "
                                                        "DISTINCT image_sha256, image_bytes FROM samples)) "
                                                        "FROM samples"));
  CANOPY_ASSIGN_OR_RETURN(bool row, totals.step());
  (void)row;
  stats.samples = totals.column_int(0);
  stats.random = totals.column_int(1);
  stats.bytes = totals.column_int(2);
  return stats;
}

Status SampleStore::remove_locked(const std::vector<std::string>& ids) {
  if (ids.empty()) return {};
  std::set<std::string> digests;
  {
    CANOPY_ASSIGN_OR_RETURN(Transaction transaction, Transaction::begin(db_));
    CANOPY_ASSIGN_OR_RETURN(Statement digest_of,
                            db_.prepare("SELECT image_sha256, thumbnail_sha256 FROM samples WHERE id = ?"));
    for (const std::string& id : ids) {
      digest_of.reset();
      digest_of.bind(1, id);
      CANOPY_ASSIGN_OR_RETURN(bool row, digest_of.step());
      if (row) digests.insert({digest_of.column_text(0), digest_of.column_text(1)});
      for (const char* table : {"sample_reasons", "sample_boxes"})
        CANOPY_TRY(db_.run(std::string("DELETE FROM ") + table + " WHERE sample_id = ?", {id}));
      CANOPY_TRY(db_.run("DELETE FROM samples WHERE id = ?", {id}));
    }
    CANOPY_TRY(transaction.commit());
  }
  // A blob goes once no row names it; a crash before this leaves an orphan
  // that the next open sweeps.
  CANOPY_ASSIGN_OR_RETURN(
      Statement used,
      db_.prepare("SELECT 1 FROM samples WHERE image_sha256 = ?1 OR thumbnail_sha256 = ?1 LIMIT 1"));
  for (const std::string& digest : digests) {
    used.reset();
    used.bind(1, digest);
    CANOPY_ASSIGN_OR_RETURN(bool row, used.step());
    if (!row) (void)blobs_.remove(digest);
  }
  return {};
}

Result<std::int64_t> SampleStore::prune() {
  const std::int64_t now = clock_.wall_ms();
  std::lock_guard guard(mutex_);
  std::vector<std::string> doomed;
  CANOPY_ASSIGN_OR_RETURN(
      Statement expired,
      db_.prepare("SELECT id FROM samples WHERE label_state = 'unlabeled' AND received_ms < ?"));
  expired.bind(1, now - options_.unlabeled_ttl_ms);
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, expired.step());
    if (!row) break;
    doomed.push_back(expired.column_text(0));
  }
  CANOPY_TRY(remove_locked(doomed));
  std::int64_t removed = static_cast<std::int64_t>(doomed.size());
  // Over the size cap: the oldest unlabeled go, one page at a time.
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(Statement total,
                            db_.prepare("SELECT COALESCE(SUM(image_bytes), 0) FROM samples"));
    CANOPY_ASSIGN_OR_RETURN(bool row, total.step());
    (void)row;
    std::int64_t excess = total.column_int(0) - options_.max_total_bytes;
    if (excess <= 0) break;
    CANOPY_ASSIGN_OR_RETURN(Statement oldest,
                            db_.prepare("SELECT id, image_bytes FROM samples WHERE label_state = 'unlabeled' "
                                        "ORDER BY received_ms, id LIMIT 100"));
    std::vector<std::string> page;
    while (excess > 0) {
      CANOPY_ASSIGN_OR_RETURN(bool more, oldest.step());
      if (!more) break;
      page.push_back(oldest.column_text(0));
      excess -= oldest.column_int(1);
    }
    if (page.empty()) break;  // only labeled samples left: they stay
    CANOPY_TRY(remove_locked(page));
    removed += static_cast<std::int64_t>(page.size());
  }
  if (removed > 0) spdlog::info("samples.pruned removed={}", removed);
  return removed;
}

void SampleStore::prune_if_due() {
  const std::int64_t now = clock_.wall_ms();
  std::int64_t last = pruned_at_ms_.load();
  if (now - last < 3'600'000 || !pruned_at_ms_.compare_exchange_strong(last, now)) return;
  if (auto pruned = prune(); !pruned.ok())
    spdlog::warn("samples.prune_failed error=\"{}\"", pruned.error().message);
}

}  // namespace canopy::server
