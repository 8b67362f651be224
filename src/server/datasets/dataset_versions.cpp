#include "server/datasets/dataset_versions.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/files.h"
#include "common/hash.h"
#include "common/time.h"
#include "server/storage/migrations.h"
#include "vision/dataset_split.h"
#include "vision/image_codec.h"

namespace canopy::server {

namespace {

const AreaSchema kSchema{"datasets",
                         {R"sql(
CREATE TABLE dataset_versions (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (name, version)
);
CREATE TABLE dataset_items (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  sample_id TEXT NOT NULL,
  image_sha256 TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (name, version, sample_id)
);
CREATE INDEX dataset_items_by_image ON dataset_items(image_sha256);
)sql",
                          // Lineage: the versions a sample is in.
                          "CREATE INDEX dataset_items_by_sample ON dataset_items(sample_id);"}};

Status check_name(const std::string& name) {
  auto ref = api::parse_dataset_ref(name + ":1");
  if (!ref.ok())
    return make_error(ErrorCode::kInvalidArgument,
                      "dataset name '" + name + "' must be 1-128 letters, digits, '.', '_' or '-'");
  return {};
}

// The content hash: every item's image and boxes, in sample id order.
std::string content_hash(const std::vector<api::DatasetItem>& items, const std::vector<std::string>& labels) {
  Sha256 hash;
  hash.update(Json(labels).dump());
  for (const api::DatasetItem& item : items) {
    hash.update(item.sample_id + " " + item.image_sha256 + " ");
    hash.update(api::boxes_to_json(item.boxes).dump());
    hash.update("\n");
  }
  return hash.finish_hex();
}

}  // namespace

Result<std::unique_ptr<DatasetVersions>> DatasetVersions::open(Database db, const std::filesystem::path& dir,
                                                               LabeledSamples& labeled, Clock& clock) {
  CANOPY_TRY(migrate(db, kSchema));
  CANOPY_ASSIGN_OR_RETURN(BlobStore blobs, BlobStore::open(dir));
  // Images no version names are what a failed import left: swept.
  auto swept = blobs.sweep_unnamed(db, "SELECT DISTINCT image_sha256 FROM dataset_items");
  if (!swept.ok()) return swept.error();
  return std::unique_ptr<DatasetVersions>(
      new DatasetVersions(std::move(db), std::move(blobs), labeled, clock));
}

Status DatasetVersions::put_image(const std::string& bytes, const std::string& sha256) {
  if (!is_sha256_hex(sha256) || sha256_hex(bytes) != sha256)
    return make_error(ErrorCode::kInvalidArgument, "the image's bytes do not have the SHA-256 " + sha256);
  auto size = vision::decode_image_size(bytes);
  if (!size.ok())
    return make_error(ErrorCode::kInvalidArgument, "image " + sha256 + ": " + size.error().message);
  if (size->width > 4096 || size->height > 4096)
    return make_error(ErrorCode::kInvalidArgument, "image " + sha256 + " is larger than 4096x4096");
  if (blobs_.contains(sha256)) return {};
  CANOPY_ASSIGN_OR_RETURN(TempFile file, TempFile::create(blobs_.tmp_dir(), "image-"));
  CANOPY_TRY(file.write(bytes));
  return blobs_.put(file, sha256);
}

Result<std::string> DatasetVersions::image(const std::string& sha256) {
  if (!is_sha256_hex(sha256) || !blobs_.contains(sha256))
    return make_error(ErrorCode::kNotFound, "no imported image " + sha256);
  return read_file(blobs_.path_of(sha256));
}

Result<api::DatasetVersion> DatasetVersions::import_version(const std::string& name,
                                                            const std::vector<std::string>& labels,
                                                            std::vector<api::DatasetItem> items,
                                                            const std::string& actor) {
  CANOPY_TRY(check_name(name));
  if (items.empty())
    return make_error(ErrorCode::kInvalidArgument, "an imported dataset needs at least one item");
  if (labels.empty()) return make_error(ErrorCode::kInvalidArgument, "an imported dataset needs its labels");
  std::map<std::string, api::DatasetItem> by_id;
  for (api::DatasetItem& item : items) {
    if (!blobs_.contains(item.image_sha256))
      return make_error(ErrorCode::kInvalidArgument, "item " + item.sample_id + ": its image " +
                                                         item.image_sha256 + " was not imported first");
    const std::string id = item.sample_id;
    if (!by_id.emplace(id, std::move(item)).second)
      return make_error(ErrorCode::kInvalidArgument, "item " + id + " is listed twice");
  }
  api::DatasetVersion v;
  v.name = name;
  v.created_at = format_utc(clock_.wall_ms());
  v.created_by = actor;
  v.request.labels = labels;
  v.labels = labels;
  std::lock_guard guard(mutex_);
  return store_locked(std::move(v), std::move(by_id));
}

Result<api::DatasetVersion> DatasetVersions::create(const std::string& name,
                                                    const api::DatasetVersionRequest& request,
                                                    const std::string& actor) {
  CANOPY_TRY(check_name(name));
  std::lock_guard guard(mutex_);
  // Bases first, so the labeled samples replace what a base says of the same sample.
  std::map<std::string, api::DatasetItem> items;
  for (const std::string& base : request.bases) {
    CANOPY_ASSIGN_OR_RETURN(auto ref, api::parse_dataset_ref(base));
    auto version = get_locked(ref.first, ref.second, true);
    if (!version.ok() && version.error().code == ErrorCode::kNotFound)
      return make_error(ErrorCode::kInvalidArgument, "base " + base + " is not a dataset version");
    if (!version.ok()) return version.error();
    for (api::DatasetItem& item : version->item_list) items[item.sample_id] = std::move(item);
  }
  CANOPY_ASSIGN_OR_RETURN(std::vector<api::DatasetItem> labeled,
                          labeled_.labeled(request.field, request.reviewed_only));
  for (api::DatasetItem& item : labeled) items[item.sample_id] = std::move(item);
  if (items.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "no labeled samples" + (request.field.empty() ? "" : " of field " + request.field) +
                          " and no base items: nothing to make a version of");

  api::DatasetVersion v;
  v.name = name;
  v.created_at = format_utc(clock_.wall_ms());
  v.created_by = actor;
  v.request = request;
  std::set<std::string> used;
  for (const auto& [id, item] : items)
    for (const api::SampleBox& box : item.boxes) used.insert(box.label);
  v.labels = request.labels.empty() ? std::vector<std::string>(used.begin(), used.end()) : request.labels;
  return store_locked(std::move(v), std::move(items));
}

Result<api::DatasetVersion> DatasetVersions::store_locked(api::DatasetVersion v,
                                                          std::map<std::string, api::DatasetItem> items) {
  const std::string name = v.name;
  for (auto& [id, item] : items) {
    for (const api::SampleBox& box : item.boxes)
      if (std::find(v.labels.begin(), v.labels.end(), box.label) == v.labels.end())
        return make_error(ErrorCode::kInvalidArgument, "item " + id + " has a " + box.label +
                                                           " box, a class the version's labels do not list");
    item.split = vision::split_for_hash(item.image_sha256, v.request.val_fraction, v.request.test_fraction);
    ++v.items;
    ++v.items_by_split[item.split];
    if (!item.labeled_by.empty()) ++v.items_by_labeler[item.labeled_by];
    if (!item.device_id.empty()) ++v.items_by_device[item.device_id];
    for (const api::SampleBox& box : item.boxes) ++v.boxes_by_class[box.label];
    v.item_list.push_back(item);
  }
  v.sha256 = content_hash(v.item_list, v.labels);

  CANOPY_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  CANOPY_ASSIGN_OR_RETURN(Statement latest,
                          db_.prepare("SELECT MAX(version) FROM dataset_versions WHERE name = ?"));
  latest.bind(1, name);
  CANOPY_ASSIGN_OR_RETURN(bool row, latest.step());
  v.version = (row && !latest.column_is_null(0) ? latest.column_int(0) : 0) + 1;
  api::DatasetVersion summary = v;
  summary.item_list.clear();
  CANOPY_TRY(db_.run("INSERT INTO dataset_versions(name, version, body) VALUES(?,?,?)",
                     {name, v.version, summary.to_json().dump()}));
  CANOPY_ASSIGN_OR_RETURN(
      Statement insert,
      db_.prepare(
          "INSERT INTO dataset_items(name, version, sample_id, image_sha256, body) VALUES(?,?,?,?,?)"));
  for (const api::DatasetItem& item : v.item_list) {
    insert.bind(1, name).bind(2, v.version).bind(3, item.sample_id).bind(4, item.image_sha256);
    insert.bind(5, item.to_json().dump());
    CANOPY_TRY(insert.step());
    insert.reset();
  }
  CANOPY_TRY(tx.commit());
  return v;
}

Result<std::vector<api::DatasetVersion>> DatasetVersions::list(const std::string& name) {
  std::lock_guard guard(mutex_);
  CANOPY_ASSIGN_OR_RETURN(
      Statement select,
      db_.prepare(name.empty() ? "SELECT body FROM dataset_versions ORDER BY name, version DESC"
                               : "SELECT body FROM dataset_versions WHERE name = ? ORDER BY version DESC"));
  if (!name.empty()) select.bind(1, name);
  std::vector<api::DatasetVersion> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    CANOPY_ASSIGN_OR_RETURN(Json body, parse_json(select.column_text(0), "a stored dataset version"));
    CANOPY_ASSIGN_OR_RETURN(api::DatasetVersion version, api::DatasetVersion::from_json(body));
    out.push_back(std::move(version));
  }
  return out;
}

Result<api::DatasetVersion> DatasetVersions::get(const std::string& name, std::int64_t version) {
  std::lock_guard guard(mutex_);
  return get_locked(name, version, true);
}

Result<api::DatasetVersion> DatasetVersions::get_locked(const std::string& name, std::int64_t version,
                                                        bool with_items) {
  CANOPY_ASSIGN_OR_RETURN(Statement select,
                          db_.prepare("SELECT body FROM dataset_versions WHERE name = ? AND version = ?"));
  select.bind(1, name).bind(2, version);
  CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
  if (!row)
    return make_error(ErrorCode::kNotFound, "no dataset version " + name + ":" + std::to_string(version));
  CANOPY_ASSIGN_OR_RETURN(Json body, parse_json(select.column_text(0), "a stored dataset version"));
  CANOPY_ASSIGN_OR_RETURN(api::DatasetVersion out, api::DatasetVersion::from_json(body));
  if (!with_items) return out;
  CANOPY_ASSIGN_OR_RETURN(
      Statement items,
      db_.prepare("SELECT body FROM dataset_items WHERE name = ? AND version = ? ORDER BY sample_id"));
  items.bind(1, name).bind(2, version);
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool item_row, items.step());
    if (!item_row) break;
    CANOPY_ASSIGN_OR_RETURN(Json item_json, parse_json(items.column_text(0), "a stored dataset item"));
    CANOPY_ASSIGN_OR_RETURN(api::DatasetItem item, api::DatasetItem::from_json(item_json));
    out.item_list.push_back(std::move(item));
  }
  return out;
}

Result<std::vector<std::string>> DatasetVersions::versions_with_sample(const std::string& sample_id) {
  std::lock_guard guard(mutex_);
  CANOPY_ASSIGN_OR_RETURN(
      Statement select,
      db_.prepare("SELECT name, version FROM dataset_items WHERE sample_id = ? ORDER BY name, version"));
  select.bind(1, sample_id);
  std::vector<std::string> refs;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    refs.push_back(select.column_text(0) + ":" + std::to_string(select.column_int(1)));
  }
  return refs;
}

}  // namespace canopy::server
