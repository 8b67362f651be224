#include "server/server.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <thread>

#include "common/clock.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/http_client.h"
#include "server/area_links.h"
#include "server/auth/accounts.h"
#include "server/auth/api_keys.h"
#include "server/auth/audit_log.h"
#include "server/field_data/field_data.h"
#include "server/fleet/fleet.h"
#include "server/http/http_server.h"
#include "server/labeling/label_queue.h"
#include "server/publishing_keys.h"
#include "server/registry/registry.h"
#include "server/retrain/drift_monitor.h"
#include "server/retrain/retrain_jobs.h"
#include "server/runs/run_records.h"
#include "server/samples/sample_store.h"
#include "server/storage/blob_store.h"
#include "server/storage/sqlite.h"

namespace canopy::server {

namespace {

// Held (flock) by the server that uses the data directory, for its lifetime.
constexpr const char* kDataLockName = "server.lock";

Result<std::vector<PublicKey>> load_trusted_keys(const ServerOptions& options) {
  std::vector<fs::path> files = options.trusted_key_files;
  std::error_code ec;
  fs::path trusted_dir = options.data_dir / "trusted";
  if (fs::is_directory(trusted_dir, ec)) {
    for (const auto& entry : fs::directory_iterator(trusted_dir, ec))
      if (entry.path().extension() == ".pub") files.push_back(entry.path());
  }
  std::vector<PublicKey> keys;
  for (const auto& file : files) {
    CANOPY_ASSIGN_OR_RETURN(PublicKey key, load_public_key(file));
    keys.push_back(std::move(key));
  }
  return keys;
}

// The keys a device accepts package signatures from: the server's own first.
std::vector<PublicKey> trusted_for_devices(const PublicKey& publishing_key,
                                           const std::vector<PublicKey>& trusted) {
  std::vector<PublicKey> keys = {publishing_key};
  for (const auto& key : trusted)
    if (key.bytes != publishing_key.bytes) keys.push_back(key);
  return keys;
}

// The certificate and key to serve HTTPS with: the given files, or the
// self-signed pair (made on the first start) for the names a client may use.
Status choose_tls_files(ServerOptions& options) {
  if (!options.self_signed) return {};
  if (options.tls_cert_file.empty()) options.tls_cert_file = options.data_dir / "tls" / "server.crt";
  if (options.tls_key_file.empty()) options.tls_key_file = options.data_dir / "tls" / "server.key";
  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  char hostname[256] = {};
  if (::gethostname(hostname, sizeof hostname - 1) == 0 && hostname[0] != '\0') names.emplace_back(hostname);
  if (options.host != "0.0.0.0" && options.host != "::" &&
      std::find(names.begin(), names.end(), options.host) == names.end())
    names.push_back(options.host);
  CANOPY_ASSIGN_OR_RETURN(bool made, ensure_self_signed(options.tls_cert_file, options.tls_key_file, names));
  if (made) spdlog::info("server.tls.self_signed cert={}", options.tls_cert_file.string());
  return {};
}

// Plain HTTP carries keys and tokens in clear: only where nobody else can
// listen, unless the operator says the network is safe (a TLS proxy in front).
Status check_plain_http(const ServerOptions& options) {
  if (!options.tls_cert_file.empty() || is_loopback_host(options.host)) return {};
  if (!options.allow_plain_http)
    return make_error(
        ErrorCode::kInvalidArgument,
        "refusing to serve plain HTTP on " + options.host +
            ": API keys and device tokens would cross the network in clear; pass --tls-cert and "
            "--tls-key, or --self-signed, or --allow-plain-http when a TLS proxy fronts the server");
  spdlog::warn(
      "server.plain_http host={} reason=\"allowed by --allow-plain-http; keys and tokens cross the "
      "network in clear\"",
      options.host);
  return {};
}

Status bootstrap_admin_key(ApiKeys& keys, const std::string& admin_key) {
  CANOPY_ASSIGN_OR_RETURN(std::optional<NewApiKey> created, keys.bootstrap_admin(admin_key));
  if (created) {
    std::printf("bootstrap admin key (shown once, store it now): %s\n", created->secret.c_str());
    std::fflush(stdout);
  }
  return {};
}

}  // namespace

Result<std::string> rotate_publishing_key_of(const fs::path& data_dir) {
  if (!fs::exists(data_dir / "keys" / "publisher.key"))
    return make_error(ErrorCode::kNotFound,
                      data_dir.string() + " holds no publishing key (keys/publisher.key)");
  auto lock = FileLock::try_acquire(data_dir / kDataLockName);
  if (!lock.ok())
    return make_error(ErrorCode::kConflict, "a canopy server is using " + data_dir.string() +
                                                "; stop it, rotate, and start it again");
  CANOPY_ASSIGN_OR_RETURN(api::KeyEndorsement endorsement, rotate_publishing_key(data_dir));
  CANOPY_ASSIGN_OR_RETURN(PublicKey key, PublicKey::from_text(endorsement.key));
  return key.key_id();
}

// Every area and the links between them, in the order they are opened:
// destroyed in reverse, the HTTP server first, while what its routes use
// still stands, and the data directory's lock last.
struct Server::Parts {
  std::optional<FileLock> data_lock;
  std::unique_ptr<Registry> registry;
  std::unique_ptr<ApiKeys> keys;
  std::optional<RegistryLineage> lineage;
  std::unique_ptr<RunRecords> runs;
  std::optional<RegistryCatalog> catalog;
  std::unique_ptr<Fleet> fleet;
  std::unique_ptr<FieldData> field_data;
  std::unique_ptr<SampleStore> samples;
  std::unique_ptr<Accounts> accounts;
  std::unique_ptr<AuditLog> audit;
  std::optional<SampleStoreSource> sample_source;
  std::unique_ptr<LabelQueue> labeling;
  std::optional<LabeledFieldSamples> labeled;
  std::unique_ptr<DatasetVersions> datasets;
  std::optional<RegistryProductionPackages> production_packages;
  std::optional<Prelabeler> prelabeler;
  std::optional<LabelingAccuracy> labeling_accuracy;
  std::unique_ptr<DriftMonitor> drift;
  std::optional<LoopLinks> loop_links;
  std::unique_ptr<RetrainJobs> retrain;
  std::unique_ptr<HttpServer> http;
};

Result<std::unique_ptr<Server>> Server::open(ServerOptions options) {
  Clock& clock = system_clock();
  CANOPY_TRY(init_crypto());
  CANOPY_TRY(check_plain_http(options));
  // Refused before the data directory is touched, as plain HTTP off loopback is.
  CANOPY_TRY(check_device_certificates_transport(options.device_certificates,
                                                 options.self_signed || !options.tls_cert_file.empty()));
  if (options.device_certificates != DeviceCertificates::kOff)
    spdlog::info("server.device_certificates mode={}", device_certificates_name(options.device_certificates));
  auto parts = std::make_unique<Parts>();

  // One server per data directory: two would interleave writes to one store.
  std::error_code ec;
  fs::create_directories(options.data_dir, ec);
  if (ec)
    return make_error(ErrorCode::kIo,
                      "cannot create data directory " + options.data_dir.string() + ": " + ec.message());
  auto data_lock = FileLock::try_acquire(options.data_dir / kDataLockName);
  if (!data_lock.ok()) {
    if (data_lock.error().code != ErrorCode::kConflict) return data_lock.error();
    return make_error(ErrorCode::kConflict, "data directory " + options.data_dir.string() +
                                                " is in use by another canopy server (" +
                                                data_lock.error().message +
                                                "); stop that server, or pass another --data");
  }
  parts->data_lock.emplace(std::move(*data_lock));

  CANOPY_TRY(choose_tls_files(options));

  CANOPY_ASSIGN_OR_RETURN(PublishingKeys publishing, load_or_create_publishing_keys(options.data_dir));
  CANOPY_ASSIGN_OR_RETURN(std::vector<PublicKey> trusted, load_trusted_keys(options));
  // What the retired publishing keys signed stays valid.
  trusted.insert(trusted.end(), publishing.retired.begin(), publishing.retired.end());

  // Each area gets a connection of its own, so each has its own lock.
  auto connect = [&options] { return Database::open_in(options.data_dir); };
  CANOPY_ASSIGN_OR_RETURN(Database registry_db, connect());
  CANOPY_ASSIGN_OR_RETURN(BlobStore blobs, BlobStore::open(options.data_dir));
  CANOPY_ASSIGN_OR_RETURN(
      parts->registry, Registry::open(std::move(registry_db), std::move(blobs),
                                      RegistryOptions{options.limits, trusted}, publishing.current, clock));

  CANOPY_ASSIGN_OR_RETURN(Database keys_db, connect());
  CANOPY_ASSIGN_OR_RETURN(parts->keys, ApiKeys::open(std::move(keys_db), clock));
  CANOPY_TRY(bootstrap_admin_key(*parts->keys, options.admin_key));

  parts->lineage.emplace(*parts->registry);
  CANOPY_ASSIGN_OR_RETURN(Database runs_db, connect());
  CANOPY_ASSIGN_OR_RETURN(parts->runs, RunRecords::open(std::move(runs_db), *parts->lineage, clock));

  FleetOptions fleet_options;
  fleet_options.poll_interval_s = options.poll_interval_s;
  fleet_options.key_endorsements = publishing.endorsements;
  for (const PublicKey& key : trusted_for_devices(publishing.current.public_key, trusted))
    fleet_options.trusted_keys.push_back(key.to_line());
  parts->catalog.emplace(*parts->registry);
  CANOPY_ASSIGN_OR_RETURN(Database fleet_db, connect());
  CANOPY_ASSIGN_OR_RETURN(parts->fleet,
                          Fleet::open(std::move(fleet_db), *parts->catalog, fleet_options, clock));

  CANOPY_ASSIGN_OR_RETURN(Database field_data_db, connect());
  CANOPY_ASSIGN_OR_RETURN(parts->field_data, FieldData::open(std::move(field_data_db), clock));

  CANOPY_ASSIGN_OR_RETURN(Database samples_db, connect());
  SampleStoreOptions sample_options;
  sample_options.unlabeled_ttl_ms = options.sample_days * 86'400'000;
  sample_options.max_total_bytes = options.samples_max_bytes;
  sample_options.max_bytes_per_device = options.samples_device_max_bytes;
  sample_options.max_samples_per_device = options.samples_per_device;
  CANOPY_ASSIGN_OR_RETURN(
      parts->samples,
      SampleStore::open(std::move(samples_db), options.data_dir / "samples", clock, sample_options));

  CANOPY_ASSIGN_OR_RETURN(Database accounts_db, connect());
  CANOPY_ASSIGN_OR_RETURN(parts->accounts, Accounts::open(std::move(accounts_db), clock));
  CANOPY_ASSIGN_OR_RETURN(Database audit_db, connect());
  CANOPY_ASSIGN_OR_RETURN(parts->audit, AuditLog::open(std::move(audit_db), clock));

  parts->sample_source.emplace(*parts->samples);
  CANOPY_ASSIGN_OR_RETURN(Database labeling_db, connect());
  CANOPY_ASSIGN_OR_RETURN(parts->labeling,
                          LabelQueue::open(std::move(labeling_db), *parts->sample_source, clock));

  parts->labeled.emplace(*parts->labeling, *parts->samples);
  CANOPY_ASSIGN_OR_RETURN(Database datasets_db, connect());
  CANOPY_ASSIGN_OR_RETURN(
      parts->datasets,
      DatasetVersions::open(std::move(datasets_db), options.data_dir / "datasets", *parts->labeled, clock));

  parts->production_packages.emplace(*parts->registry);
  parts->prelabeler.emplace(*parts->production_packages, options.data_dir / "prelabel");

  parts->labeling_accuracy.emplace(*parts->labeling);
  CANOPY_ASSIGN_OR_RETURN(Database drift_db, connect());
  DriftOptions drift_options;
  drift_options.window_ms = options.drift_window_s * 1000;
  CANOPY_ASSIGN_OR_RETURN(
      parts->drift, DriftMonitor::open(std::move(drift_db), *parts->labeling_accuracy, clock, drift_options));

  parts->loop_links.emplace(*parts->labeling, *parts->datasets, *parts->registry, *parts->fleet,
                            *parts->drift);
  CANOPY_ASSIGN_OR_RETURN(Database retrain_db, connect());
  RetrainOptions retrain_options;
  retrain_options.lease_ms = options.job_lease_s * 1000;
  CANOPY_ASSIGN_OR_RETURN(
      parts->retrain, RetrainJobs::open(std::move(retrain_db), *parts->loop_links, clock, retrain_options));

  CANOPY_ASSIGN_OR_RETURN(
      parts->http,
      HttpServer::bind(
          ServerAreas{*parts->keys, *parts->accounts, *parts->audit, *parts->registry, *parts->runs,
                      *parts->fleet, *parts->field_data, *parts->samples, *parts->labeling, *parts->datasets,
                      *parts->prelabeler, *parts->retrain, *parts->drift, clock},
          HttpServerOptions{options.host, options.port, options.max_upload_bytes, options.web_dir,
                            options.tls_cert_file, options.tls_key_file, options.device_certificates,
                            ClientPace{options.request_timeout_s * 1000, options.request_timeout_s * 1000,
                                       options.min_upload_rate, options.min_download_rate}}));
  return std::unique_ptr<Server>(new Server(std::move(parts)));
}

Server::Server(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Server::~Server() = default;

HttpServer& Server::http() { return *parts_->http; }

bool Server::serve() {
  const bool clean = parts_->http->serve();
  Status saved = parts_->fleet->save_last_seen();
  if (!saved.ok()) spdlog::warn("fleet.last_seen.not_saved error=\"{}\"", saved.error().message);
  return clean;
}

int run_server(ServerOptions options) {
  const std::int64_t started_ms = system_clock().monotonic_ms();
  // Stop signals are taken by a dedicated thread, not an async handler, so
  // shutdown runs as ordinary code. Block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto opened = Server::open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "error: %s\n", opened.error().message.c_str());
    return 1;
  }
  HttpServer& server = (*opened)->http();
  std::thread signal_waiter([&server, stop_signals] {
    int signal_number = 0;
    while (sigwait(&stop_signals, &signal_number) == 0 && signal_number == SIGHUP) {
      Status reloaded = server.reload_tls();
      if (reloaded.ok())
        spdlog::info("server.tls.reloaded pin={}", server.tls_pin());
      else
        spdlog::warn("server.tls.not_reloaded error=\"{}\"", reloaded.error().message);
    }
    spdlog::info("server.stopping signal={}", signal_number);
    server.stop();
  });
  if (!server.tls_pin().empty()) std::printf("tls pin %s\n", server.tls_pin().c_str());
  std::printf("listening on %s://%s:%d\n", server.scheme(), options.host.c_str(), server.port());
  std::fflush(stdout);
  spdlog::info("server.ready data={} startup_ms={}", options.data_dir.string(),
               system_clock().monotonic_ms() - started_ms);
  const bool clean = (*opened)->serve();
  // serve() returns when stopped; make sure the waiter thread ends too.
  if (signal_waiter.joinable()) {
    pthread_kill(signal_waiter.native_handle(), SIGTERM);
    signal_waiter.join();
  }
  return clean ? 0 : 1;
}

}  // namespace canopy::server
