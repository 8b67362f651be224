#include "server/registry/registry.h"

#include <spdlog/spdlog.h>

#include <map>

#include "common/hash.h"
#include "common/text.h"
#include "common/time.h"
#include "server/storage/migrations.h"

namespace canopy::server {

namespace {

// Step 1 is the schema as it was before areas had their own versions (every
// table created only if missing, so an older data directory is adopted).
const AreaSchema kSchema{"registry", {R"sql(
CREATE TABLE IF NOT EXISTS models (
  name TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  next_version INTEGER NOT NULL DEFAULT 1,  -- numbers are never reused, even after a delete
  -- kept with every publish and delete so that listing reads one row per model
  version_count INTEGER NOT NULL DEFAULT 0,
  latest_version INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS versions (
  model TEXT NOT NULL REFERENCES models(name),
  version INTEGER NOT NULL,
  content_sha256 TEXT NOT NULL,   -- SHA-256 of the uploaded canopy.json: identical uploads dedupe on it
  manifest_sha256 TEXT NOT NULL,  -- SHA-256 of the stored canopy.json (differs when the server signed)
  blob_sha256 TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  manifest TEXT NOT NULL,
  summary TEXT NOT NULL,          -- labels, tags, metrics, lineage: what listings show, without the manifest
  signed_by TEXT NOT NULL,
  server_signed INTEGER NOT NULL,
  uploaded_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (model, version),
  UNIQUE (model, content_sha256)
);
CREATE INDEX IF NOT EXISTS versions_by_blob ON versions(blob_sha256);
CREATE TABLE IF NOT EXISTS version_tags (
  model TEXT NOT NULL, version INTEGER NOT NULL, tag TEXT NOT NULL,
  PRIMARY KEY (model, version, tag)
);
CREATE INDEX IF NOT EXISTS version_tags_by_tag ON version_tags(tag);
CREATE TABLE IF NOT EXISTS aliases (
  model TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
  updated_at TEXT NOT NULL, updated_by TEXT NOT NULL,
  PRIMARY KEY (model, alias)
);
CREATE TABLE IF NOT EXISTS alias_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  model TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER,
  changed_at TEXT NOT NULL, changed_by TEXT NOT NULL
);
)sql"}};

constexpr const char* kVersionColumns =
    "model, version, manifest_sha256, blob_sha256, size_bytes, summary, signed_by, server_signed, "
    "uploaded_by, created_at";

VersionRecord read_version(const Statement& stmt) {
  VersionRecord v;
  v.model = stmt.column_text(0);
  v.version = stmt.column_int(1);
  v.manifest_sha256 = stmt.column_text(2);
  v.blob_sha256 = stmt.column_text(3);
  v.size_bytes = static_cast<std::uint64_t>(stmt.column_int(4));
  auto summary = parse_json(stmt.column_text(5));
  v.summary = summary.ok() ? *summary : Json::object();
  v.signed_by = stmt.column_text(6);
  v.server_signed = stmt.column_int(7) != 0;
  v.uploaded_by = stmt.column_text(8);
  v.created_at = stmt.column_text(9);
  return v;
}

Error no_such_version(const std::string& model, std::int64_t version) {
  return make_error(ErrorCode::kNotFound, "model '" + model + "' has no version " + std::to_string(version));
}

}  // namespace

bool is_valid_alias(const std::string& alias) {
  // Never "latest" or a number: those already mean versions.
  return is_plain_name(alias, 64, "._-", "._-") && alias != "latest" &&
         alias.find_first_not_of("0123456789") != std::string::npos;
}

Json VersionRecord::to_json(bool with_manifest) const {
  Json out = {{"model", model},
              {"version", version},
              {"sha256", blob_sha256},
              {"manifest_sha256", manifest_sha256},
              {"size_bytes", size_bytes},
              {"signed_by", signed_by},
              {"server_signed", server_signed},
              {"uploaded_by", uploaded_by},
              {"created_at", created_at},
              {"aliases", aliases}};
  for (const auto& [key, value] : summary.items()) out[key] = value;
  if (with_manifest) {
    auto parsed = parse_json(manifest);
    if (parsed.ok()) out["manifest"] = *parsed;
  }
  return out;
}

Json ModelSummary::to_json() const {
  Json alias_map = Json::object();
  for (const auto& [alias, version] : aliases) alias_map[alias] = version;
  return {{"name", name},
          {"versions", version_count},
          {"latest_version", latest_version},
          {"updated_at", updated_at},
          {"aliases", alias_map}};
}

Result<std::unique_ptr<Registry>> Registry::open(Database db, BlobStore blobs, RegistryOptions options,
                                                 KeyPair publishing_key, Clock& clock) {
  CANOPY_TRY(migrate(db, kSchema));
  std::unique_ptr<Registry> registry(
      new Registry(std::move(db), std::move(blobs), std::move(options), std::move(publishing_key), clock));
  CANOPY_TRY(registry->sweep_orphans());
  return registry;
}

std::string Registry::now_utc() const { return format_utc(clock_.wall_ms()); }

Status Registry::sweep_orphans() {
  // A crash between storing a blob and committing its row leaves a blob that
  // no version names; a crash mid-upload leaves a temp file. Both go here.
  CANOPY_ASSIGN_OR_RETURN(auto report,
                          blobs_.sweep_unnamed(db_, "SELECT DISTINCT blob_sha256 FROM versions"));
  (void)report;
  return {};
}

Result<PublishResult> Registry::publish(TempFile upload, const std::string& upload_sha256,
                                        const std::optional<std::string>& expected_name,
                                        const Publisher& publisher) {
  package::VerifyOptions verify;
  verify.limits = options_.limits;
  verify.trusted_keys = options_.trusted_publishers;
  verify.trusted_keys.push_back(publishing_key_.public_key);
  verify.allow_unsigned = true;
  verify.display_name = "upload";
  CANOPY_ASSIGN_OR_RETURN(package::PackageInfo info, package::verify_package(upload.path(), verify));
  if (expected_name && info.manifest.name != *expected_name)
    return make_error(ErrorCode::kInvalidArgument, "the package's manifest names model '" +
                                                       info.manifest.name + "', but it was uploaded to '" +
                                                       *expected_name + "'");
  const std::string content_sha256 = info.manifest_sha256;
  {
    auto guard = lock();
    CANOPY_ASSIGN_OR_RETURN(auto existing, find_by_content_locked(info.manifest.name, content_sha256));
    if (existing) {
      spdlog::info("registry.publish.duplicate model={} version={}", existing->model, existing->version);
      return PublishResult{*existing, false};
    }
  }

  fs::path stored_file = upload.path();
  std::optional<fs::path> staging;
  bool server_signed = false;
  if (!info.signature) {
    // Unsigned upload: repack it with the server's signature so that devices
    // can always verify what they download.
    CANOPY_ASSIGN_OR_RETURN(fs::path dir, make_temp_dir(blobs_.tmp_dir(), "resign-"));
    staging = dir;
    auto extracted = package::extract_package(upload.path(), dir / "package", verify);
    Result<package::PackageInfo> signed_info =
        extracted.ok() ? package::create_package(dir / "package", dir / "signed.zip", publishing_key_)
                       : Result<package::PackageInfo>(extracted.error());
    if (!signed_info.ok()) {
      std::error_code ec;
      fs::remove_all(dir, ec);
      return signed_info.error();
    }
    info = std::move(*signed_info);
    stored_file = dir / "signed.zip";
    server_signed = true;
  }
  auto cleanup = [&] {
    std::error_code ec;
    if (staging) fs::remove_all(*staging, ec);
  };

  auto blob_sha256 = server_signed ? sha256_file_hex(stored_file) : Result<std::string>(upload_sha256);
  std::error_code ec;
  std::uint64_t size_bytes = fs::file_size(stored_file, ec);
  if (!blob_sha256.ok()) {
    cleanup();
    return blob_sha256.error();
  }
  // Flush the bytes before taking the lock; the rename into the store and the
  // row go under it together, so a concurrent delete of an identical blob
  // cannot remove the file between the two.
  Status synced = server_signed ? Status() : upload.sync();
  if (!synced.ok()) {
    cleanup();
    return synced.error();
  }
  auto guard = lock();
  Status stored =
      server_signed ? blobs_.put_path(stored_file, *blob_sha256) : blobs_.put(upload, *blob_sha256);
  cleanup();
  CANOPY_TRY(stored);

  info.manifest_sha256 = sha256_hex(info.manifest_bytes);
  auto result = record_locked(info, content_sha256, *blob_sha256, size_bytes, server_signed, publisher);
  if (!result.ok() || !result->created) {
    // Nothing refers to the blob we just stored unless an identical version does.
    CANOPY_ASSIGN_OR_RETURN(Statement stmt, db_.prepare("SELECT 1 FROM versions WHERE blob_sha256 = ?"));
    stmt.bind(1, *blob_sha256);
    CANOPY_ASSIGN_OR_RETURN(bool referenced, stmt.step());
    if (!referenced) (void)blobs_.remove(*blob_sha256);
    return result;
  }
  spdlog::info("registry.publish model={} version={} sha256={} size={} server_signed={}",
               result->version.model, result->version.version, *blob_sha256, size_bytes, server_signed);
  return result;
}

Result<PublishResult> Registry::record_locked(const package::PackageInfo& info,
                                              const std::string& content_sha256,
                                              const std::string& blob_sha256, std::uint64_t size_bytes,
                                              bool server_signed, const Publisher& publisher) {
  const std::string& model = info.manifest.name;
  CANOPY_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  // An identical upload may have been recorded while this one was being stored.
  CANOPY_ASSIGN_OR_RETURN(auto existing, find_by_content_locked(model, content_sha256));
  if (existing) return PublishResult{*existing, false};
  std::string now = now_utc();
  CANOPY_TRY(db_.run("INSERT INTO models(name, created_at) VALUES(?, ?) ON CONFLICT(name) DO NOTHING",
                     {model, now}));
  CANOPY_ASSIGN_OR_RETURN(Statement next, db_.prepare("SELECT next_version FROM models WHERE name = ?"));
  next.bind(1, model);
  CANOPY_ASSIGN_OR_RETURN(bool has_row, next.step());
  if (!has_row) return make_error(ErrorCode::kInternal, "model row vanished during publish");
  std::int64_t version = next.column_int(0);
  std::string signed_by = info.signature ? info.signature->key_id : "";
  Json lineage = info.manifest.lineage;
  if (!publisher.pipeline_run.empty()) {
    const Json built_by = lineage.value("pipeline_run", Json());
    if (built_by.is_string() && built_by != publisher.pipeline_run) lineage["built_by_run"] = built_by;
    lineage["pipeline_run"] = publisher.pipeline_run;
  }
  Json summary = {{"labels", info.manifest.labels},
                  {"tags", info.manifest.tags},
                  {"metrics", info.manifest.metrics},
                  {"lineage", lineage}};
  CANOPY_TRY(
      db_.run(std::string("INSERT INTO versions(") + kVersionColumns +
                  ", content_sha256, manifest) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
              {model, version, info.manifest_sha256, blob_sha256, static_cast<std::int64_t>(size_bytes),
               summary.dump(), signed_by, static_cast<std::int64_t>(server_signed ? 1 : 0), publisher.key_id,
               now, content_sha256, info.manifest_bytes}));
  for (const auto& tag : info.manifest.tags)
    CANOPY_TRY(db_.run("INSERT OR IGNORE INTO version_tags(model, version, tag) VALUES(?,?,?)",
                       {model, version, tag}));
  CANOPY_TRY(
      db_.run("UPDATE models SET next_version = ?, version_count = version_count + 1, latest_version = ?, "
              "updated_at = ? WHERE name = ?",
              {version + 1, version, now, model}));
  CANOPY_TRY(tx.commit());
  CANOPY_ASSIGN_OR_RETURN(VersionRecord record, load_version_locked(model, version));
  return PublishResult{record, true};
}

Result<std::optional<VersionRecord>> Registry::find_by_content_locked(const std::string& model,
                                                                      const std::string& content_sha256) {
  CANOPY_ASSIGN_OR_RETURN(Statement stmt,
                          db_.prepare("SELECT version FROM versions WHERE model = ? AND content_sha256 = ?"));
  stmt.bind(1, model).bind(2, content_sha256);
  CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
  if (!row) return std::optional<VersionRecord>();
  CANOPY_ASSIGN_OR_RETURN(VersionRecord existing, load_version_locked(model, stmt.column_int(0)));
  return std::optional<VersionRecord>(std::move(existing));
}

Result<VersionRecord> Registry::load_version_locked(const std::string& model, std::int64_t version) {
  CANOPY_ASSIGN_OR_RETURN(Statement stmt, db_.prepare(std::string("SELECT ") + kVersionColumns +
                                                      " FROM versions WHERE model = ? AND version = ?"));
  stmt.bind(1, model).bind(2, version);
  CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
  if (!row) return no_such_version(model, version);
  VersionRecord record = read_version(stmt);
  CANOPY_ASSIGN_OR_RETURN(Statement manifest,
                          db_.prepare("SELECT manifest FROM versions WHERE model = ? AND version = ?"));
  manifest.bind(1, model).bind(2, version);
  CANOPY_ASSIGN_OR_RETURN(bool found, manifest.step());
  if (found) record.manifest = manifest.column_text(0);
  CANOPY_ASSIGN_OR_RETURN(record.aliases, aliases_of_locked(model, version));
  return record;
}

Result<std::vector<std::string>> Registry::aliases_of_locked(const std::string& model, std::int64_t version) {
  CANOPY_ASSIGN_OR_RETURN(
      Statement stmt,
      db_.prepare("SELECT alias FROM aliases WHERE model = ? AND version = ? ORDER BY alias"));
  stmt.bind(1, model).bind(2, version);
  std::vector<std::string> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    out.push_back(stmt.column_text(0));
  }
  return out;
}

Result<std::vector<ModelSummary>> Registry::list_models(const std::string& query, const std::string& tag) {
  auto guard = lock();
  std::string sql =
      "SELECT name, version_count, latest_version, updated_at FROM models "
      "WHERE version_count > 0 AND name LIKE ? ESCAPE '\\'";
  // The tag selects models; their counts still cover every version.
  if (!tag.empty()) sql += " AND name IN (SELECT model FROM version_tags WHERE tag = ?)";
  sql += " ORDER BY name";
  CANOPY_ASSIGN_OR_RETURN(Statement stmt, db_.prepare(sql));
  std::string pattern = "%";
  for (char c : query) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += c;
  }
  pattern += "%";
  stmt.bind(1, pattern);
  if (!tag.empty()) stmt.bind(2, tag);
  std::vector<ModelSummary> out;
  std::map<std::string, size_t> index;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    ModelSummary summary;
    summary.name = stmt.column_text(0);
    summary.version_count = stmt.column_int(1);
    summary.latest_version = stmt.column_int(2);
    summary.updated_at = stmt.column_text(3);
    index[summary.name] = out.size();
    out.push_back(std::move(summary));
  }
  CANOPY_ASSIGN_OR_RETURN(Statement aliases,
                          db_.prepare("SELECT model, alias, version FROM aliases ORDER BY alias"));
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, aliases.step());
    if (!row) break;
    auto it = index.find(aliases.column_text(0));
    if (it != index.end())
      out[it->second].aliases.emplace_back(aliases.column_text(1), aliases.column_int(2));
  }
  return out;
}

Result<std::vector<VersionRecord>> Registry::list_versions(const std::string& model) {
  auto guard = lock();
  CANOPY_ASSIGN_OR_RETURN(Statement stmt, db_.prepare(std::string("SELECT ") + kVersionColumns +
                                                      " FROM versions WHERE model = ? ORDER BY version"));
  stmt.bind(1, model);
  std::vector<VersionRecord> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    out.push_back(read_version(stmt));
  }
  if (out.empty()) return make_error(ErrorCode::kNotFound, "no model named '" + model + "'");
  std::map<std::int64_t, size_t> index;
  for (size_t i = 0; i < out.size(); ++i) index[out[i].version] = i;
  CANOPY_ASSIGN_OR_RETURN(Statement aliases,
                          db_.prepare("SELECT alias, version FROM aliases WHERE model = ? ORDER BY alias"));
  aliases.bind(1, model);
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, aliases.step());
    if (!row) break;
    auto it = index.find(aliases.column_int(1));
    if (it != index.end()) out[it->second].aliases.push_back(aliases.column_text(0));
  }
  return out;
}

Result<VersionRecord> Registry::get_version(const std::string& model, std::int64_t version) {
  auto guard = lock();
  return load_version_locked(model, version);
}

Result<VersionRecord> Registry::resolve(const std::string& model, const std::string& reference) {
  auto guard = lock();
  std::int64_t version = 0;
  if (reference == "latest" || reference.empty()) {
    CANOPY_ASSIGN_OR_RETURN(Statement stmt, db_.prepare("SELECT MAX(version) FROM versions WHERE model = ?"));
    stmt.bind(1, model);
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row || stmt.column_is_null(0))
      return make_error(ErrorCode::kNotFound, "no model named '" + model + "'");
    version = stmt.column_int(0);
  } else if (reference.front() == '@') {
    std::string alias = reference.substr(1);
    CANOPY_ASSIGN_OR_RETURN(Statement stmt,
                            db_.prepare("SELECT version FROM aliases WHERE model = ? AND alias = ?"));
    stmt.bind(1, model).bind(2, alias);
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) return make_error(ErrorCode::kNotFound, "model '" + model + "' has no alias '" + alias + "'");
    version = stmt.column_int(0);
  } else {
    try {
      size_t used = 0;
      version = std::stoll(reference, &used);
      if (used != reference.size() || version <= 0) throw std::invalid_argument(reference);
    } catch (const std::exception&) {
      return make_error(ErrorCode::kInvalidArgument,
                        "version '" + reference + "' must be a positive number, 'latest' or '@alias'");
    }
  }
  return load_version_locked(model, version);
}

Status Registry::delete_version(const std::string& model, std::int64_t version) {
  auto guard = lock();
  CANOPY_ASSIGN_OR_RETURN(VersionRecord record, load_version_locked(model, version));
  if (!record.aliases.empty())
    return make_error(ErrorCode::kConflict, "version " + std::to_string(version) + " of '" + model +
                                                "' is referenced by alias '" + record.aliases.front() +
                                                "'; move or remove the alias first");
  if (delete_guard_) CANOPY_TRY(delete_guard_(model, version));
  {
    CANOPY_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
    CANOPY_TRY(db_.run("DELETE FROM version_tags WHERE model = ? AND version = ?", {model, version}));
    CANOPY_TRY(db_.run("DELETE FROM versions WHERE model = ? AND version = ?", {model, version}));
    CANOPY_TRY(
        db_.run("UPDATE models SET version_count = version_count - 1, "
                "latest_version = COALESCE((SELECT MAX(version) FROM versions WHERE model = ?), 0), "
                "updated_at = ? WHERE name = ?",
                {model, now_utc(), model}));
    CANOPY_TRY(tx.commit());
  }
  CANOPY_ASSIGN_OR_RETURN(Statement stmt, db_.prepare("SELECT 1 FROM versions WHERE blob_sha256 = ?"));
  stmt.bind(1, record.blob_sha256);
  CANOPY_ASSIGN_OR_RETURN(bool still_used, stmt.step());
  // The row is gone first: a crash before the file is removed leaves an orphan the next start sweeps.
  if (!still_used) CANOPY_TRY(blobs_.remove(record.blob_sha256));
  spdlog::info("registry.delete model={} version={}", model, version);
  return {};
}

Status Registry::set_alias(const std::string& model, const std::string& alias, std::int64_t version,
                           const std::string& changed_by) {
  if (!is_valid_alias(alias))
    return make_error(
        ErrorCode::kInvalidArgument,
        "alias '" + alias + "' must be 1-64 of A-Z a-z 0-9 . _ -, not a number and not 'latest'");
  auto guard = lock();
  CANOPY_ASSIGN_OR_RETURN(VersionRecord record, load_version_locked(model, version));
  (void)record;
  CANOPY_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  std::string now = now_utc();
  CANOPY_TRY(db_.run(
      "INSERT INTO aliases(model, alias, version, updated_at, updated_by) VALUES(?,?,?,?,?) "
      "ON CONFLICT(model, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at, "
      "updated_by = excluded.updated_by",
      {model, alias, version, now, changed_by}));
  CANOPY_TRY(
      db_.run("INSERT INTO alias_history(model, alias, version, changed_at, changed_by) VALUES(?,?,?,?,?)",
              {model, alias, version, now, changed_by}));
  CANOPY_TRY(tx.commit());
  spdlog::info("registry.alias model={} alias={} version={}", model, alias, version);
  return {};
}

Status Registry::remove_alias(const std::string& model, const std::string& alias,
                              const std::string& changed_by) {
  auto guard = lock();
  CANOPY_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  CANOPY_TRY(db_.run("DELETE FROM aliases WHERE model = ? AND alias = ?", {model, alias}));
  if (db_.changes() == 0)
    return make_error(ErrorCode::kNotFound, "model '" + model + "' has no alias '" + alias + "'");
  CANOPY_TRY(
      db_.run("INSERT INTO alias_history(model, alias, version, changed_at, changed_by) VALUES(?,?,NULL,?,?)",
              {model, alias, now_utc(), changed_by}));
  return tx.commit();
}

Result<std::vector<AliasChange>> Registry::alias_history(const std::string& model, const std::string& alias) {
  auto guard = lock();
  CANOPY_ASSIGN_OR_RETURN(Statement stmt,
                          db_.prepare("SELECT version, changed_at, changed_by FROM alias_history "
                                      "WHERE model = ? AND alias = ? ORDER BY id"));
  stmt.bind(1, model).bind(2, alias);
  std::vector<AliasChange> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    AliasChange change{alias, std::nullopt, stmt.column_text(1), stmt.column_text(2)};
    if (!stmt.column_is_null(0)) change.version = stmt.column_int(0);
    out.push_back(std::move(change));
  }
  if (out.empty())
    return make_error(ErrorCode::kNotFound, "model '" + model + "' never had alias '" + alias + "'");
  return out;
}

Result<std::vector<VersionRecord>> Registry::versions_of_run(const std::string& run_id) {
  auto guard = lock();
  CANOPY_ASSIGN_OR_RETURN(
      Statement stmt, db_.prepare(std::string("SELECT ") + kVersionColumns +
                                  " FROM versions WHERE json_extract(summary, '$.lineage.pipeline_run') = ? "
                                  "ORDER BY model, version"));
  stmt.bind(1, run_id);
  std::vector<VersionRecord> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) break;
    out.push_back(read_version(stmt));
  }
  for (VersionRecord& version : out) {
    CANOPY_ASSIGN_OR_RETURN(version.aliases, aliases_of_locked(version.model, version.version));
  }
  return out;
}

}  // namespace canopy::server
