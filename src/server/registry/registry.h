// The model registry: immutable, numbered versions per model name, movable
// aliases with history, packages kept in the blob store and metadata in
// SQLite. publish() verifies a package completely before anything is stored;
// a rejected upload leaves no row and no file behind. Other areas reach it
// through narrow queries (resolve, get_version, versions_of_run) and the
// delete guard, never through its tables.
// Thread-safety: every public method may be called from any thread. The
// registry's connection is guarded by its own mutex, which no other area
// takes; verifying and hashing an upload happen outside it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "common/keys.h"
#include "package/package.h"
#include "server/storage/blob_store.h"
#include "server/storage/sqlite.h"

namespace canopy::server {

struct RegistryOptions {
  package::Limits limits;
  std::vector<PublicKey> trusted_publishers;  // signed uploads must be signed by one of these
};

struct VersionRecord {
  std::string model;
  std::int64_t version = 0;
  std::string manifest_sha256;
  std::string blob_sha256;
  std::uint64_t size_bytes = 0;
  Json summary = Json::object();  // labels, tags, metrics, lineage
  std::string manifest;           // canopy.json bytes as stored; filled for single-version reads only
  std::string signed_by;          // key id
  bool server_signed = false;
  std::string uploaded_by;  // API key id
  std::string created_at;
  std::vector<std::string> aliases;

  Json to_json(bool with_manifest) const;
};

struct ModelSummary {
  std::string name;
  std::int64_t version_count = 0;
  std::int64_t latest_version = 0;
  std::string updated_at;
  std::vector<std::pair<std::string, std::int64_t>> aliases;
  Json to_json() const;
};

struct AliasChange {
  std::string alias;
  std::optional<std::int64_t> version;  // nullopt when the alias was removed
  std::string changed_at;
  std::string changed_by;
};

// Who publishes an upload.
struct Publisher {
  std::string key_id;        // the API key that sent it
  std::string pipeline_run;  // the pipeline run publishing it, when the upload names one; else empty
};

struct PublishResult {
  VersionRecord version;
  bool created = false;  // false when identical content was already published
};

class Registry {
 public:
  // Migrates the registry's tables on `db` (a connection of its own) and
  // removes leftovers of a crash from `blobs`. `clock` must outlive the Registry.
  static Result<std::unique_ptr<Registry>> open(Database db, BlobStore blobs, RegistryOptions options,
                                                KeyPair publishing_key, Clock& clock);

  // Verifies `upload` (whose SHA-256 the caller computed while receiving it)
  // and stores it as the next version of the model its manifest names, which
  // must equal `expected_name` when given. Unsigned packages are signed with
  // the server's publishing key. The new version's lineage names
  // `publisher.pipeline_run` when set: a run whose package step came from the
  // cache publishes a manifest an earlier run built, and that earlier run is
  // kept as lineage.built_by_run.
  Result<PublishResult> publish(TempFile upload, const std::string& upload_sha256,
                                const std::optional<std::string>& expected_name, const Publisher& publisher);

  Result<std::vector<ModelSummary>> list_models(const std::string& query, const std::string& tag);
  Result<std::vector<VersionRecord>> list_versions(const std::string& model);
  Result<VersionRecord> get_version(const std::string& model, std::int64_t version);
  // Accepts "latest", a number, or "@alias".
  Result<VersionRecord> resolve(const std::string& model, const std::string& reference);
  // Refuses (409) while an alias or the delete guard (set_delete_guard) holds the version.
  Status delete_version(const std::string& model, std::int64_t version);
  // Called under the registry's lock before a version is deleted; an error
  // refuses the delete. The server wires it to the fleet, which keeps the
  // versions devices run or deployments hand out.
  // An empty guard removes it.
  using DeleteGuard = std::function<Status(const std::string& model, std::int64_t version)>;
  void set_delete_guard(DeleteGuard guard) {
    std::lock_guard held(mutex_);
    delete_guard_ = std::move(guard);
  }

  Status set_alias(const std::string& model, const std::string& alias, std::int64_t version,
                   const std::string& changed_by);
  Status remove_alias(const std::string& model, const std::string& alias, const std::string& changed_by);
  Result<std::vector<AliasChange>> alias_history(const std::string& model, const std::string& alias);

  // Every version whose lineage has pipeline_run equal to `run_id` (the run
  // that published it, or else the one canopy-train wrote into the manifest
  // from CANOPY_RUN_ID), by model and version, with aliases and without manifests.
  Result<std::vector<VersionRecord>> versions_of_run(const std::string& run_id);

  fs::path blob_path(const std::string& sha256) const { return blobs_.path_of(sha256); }
  const fs::path& tmp_dir() const { return blobs_.tmp_dir(); }
  const PublicKey& publishing_key() const { return publishing_key_.public_key; }

 private:
  Registry(Database db, BlobStore blobs, RegistryOptions options, KeyPair publishing_key, Clock& clock)
      : db_(std::move(db)),
        blobs_(std::move(blobs)),
        options_(std::move(options)),
        publishing_key_(std::move(publishing_key)),
        clock_(clock) {}
  std::unique_lock<std::mutex> lock() { return std::unique_lock<std::mutex>(mutex_); }
  std::string now_utc() const;
  Status sweep_orphans();
  Result<std::optional<VersionRecord>> find_by_content_locked(const std::string& model,
                                                              const std::string& content_sha256);
  Result<VersionRecord> load_version_locked(const std::string& model, std::int64_t version);
  Result<std::vector<std::string>> aliases_of_locked(const std::string& model, std::int64_t version);
  Result<PublishResult> record_locked(const package::PackageInfo& info, const std::string& content_sha256,
                                      const std::string& blob_sha256, std::uint64_t size_bytes,
                                      bool server_signed, const Publisher& publisher);

  std::mutex mutex_;  // guards db_ and delete_guard_
  Database db_;
  BlobStore blobs_;
  RegistryOptions options_;
  KeyPair publishing_key_;
  Clock& clock_;
  DeleteGuard delete_guard_;
};

// An alias: 1-64 of [A-Za-z0-9._-], not all digits (so it never reads as a version).
bool is_valid_alias(const std::string& alias);

}  // namespace canopy::server
