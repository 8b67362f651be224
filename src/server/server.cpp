#include "server/server.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "common/files.h"
#include "common/hash.h"
#include "server/fleet.h"
#include "server/fleet_http.h"
#include "server/http_api.h"
#include "server/registry.h"

namespace canopy::server {

namespace {

Result<KeyPair> load_or_create_publishing_key(const fs::path& data_dir) {
  fs::path prefix = data_dir / "keys" / "publisher";
  fs::path secret = prefix.string() + ".key";
  std::error_code ec;
  if (fs::exists(secret, ec)) return load_key_pair(secret);
  fs::create_directories(prefix.parent_path(), ec);
  KeyPair pair = KeyPair::generate();
  CANOPY_TRY(save_key_pair(pair, prefix));
  spdlog::info("server.publishing_key.created key_id={}", pair.public_key.key_id());
  return pair;
}

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

constexpr std::size_t kHttpWorkers = 128;

// The keys a device accepts package signatures from: the server's own first.
std::vector<PublicKey> trusted_for_devices(const PublicKey& publishing_key, const std::vector<PublicKey>& trusted) {
  std::vector<PublicKey> keys = {publishing_key};
  for (const auto& key : trusted)
    if (key.bytes != publishing_key.bytes) keys.push_back(key);
  return keys;
}

Status bootstrap_admin_key(Registry& registry, const std::string& admin_key) {
  auto guard = registry.lock();
  if (!admin_key.empty()) return registry.keys().ensure(admin_key, Role::kAdmin, "CANOPY_ADMIN_KEY");
  CANOPY_ASSIGN_OR_RETURN(std::int64_t count, registry.keys().count());
  if (count > 0) return {};
  CANOPY_ASSIGN_OR_RETURN(NewApiKey key, registry.keys().create(Role::kAdmin, "bootstrap"));
  std::printf("bootstrap admin key (shown once, store it now): %s\n", key.secret.c_str());
  std::fflush(stdout);
  return {};
}

}  // namespace

int run_server(const ServerOptions& options) {
  auto started = std::chrono::steady_clock::now();
  if (!init_crypto().ok()) return 1;
  auto fail = [](const Error& error) {
    std::fprintf(stderr, "error: %s\n", error.message.c_str());
    return 1;
  };
  // Stop signals are taken by a dedicated thread, not an async handler, so
  // shutdown runs as ordinary code. Block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto publishing_key = load_or_create_publishing_key(options.data_dir);
  if (!publishing_key.ok()) return fail(publishing_key.error());
  auto trusted = load_trusted_keys(options);
  if (!trusted.ok()) return fail(trusted.error());
  RegistryOptions registry_options{options.limits, *trusted};
  auto registry = Registry::open(options.data_dir, registry_options, *publishing_key);
  if (!registry.ok()) return fail(registry.error());
  Status bootstrapped = bootstrap_admin_key(**registry, options.admin_key);
  if (!bootstrapped.ok()) return fail(bootstrapped.error());
  FleetOptions fleet_options;
  fleet_options.poll_interval_s = options.poll_interval_s;
  for (const PublicKey& key : trusted_for_devices(publishing_key->public_key, *trusted))
    fleet_options.trusted_keys.push_back(key.to_text().substr(0, key.to_text().size() - 1));
  auto fleet = Fleet::open(options.data_dir / "registry.db", **registry, fleet_options);
  if (!fleet.ok()) return fail(fleet.error());
  (*registry)->set_delete_guard([&fleet = **fleet](const std::string& model, std::int64_t version) {
    return fleet.check_version_unreferenced(model, version);
  });

  httplib::Server http;
  http.set_read_timeout(30);
  http.set_write_timeout(30);
  // Every open connection holds a worker while it waits for its next
  // request, so a fleet of pollers needs far more workers than cores (the
  // work per poll is microseconds); idle keep-alive connections are let go
  // after 2 s so they cannot hold the pool.
  http.new_task_queue = [] { return new httplib::ThreadPool(kHttpWorkers); };
  http.set_keep_alive_timeout(2);
  http.set_keep_alive_max_count(1000);
  install_http_api(http, **registry, HttpApiOptions{options.max_upload_bytes});
  install_fleet_routes(http, **fleet, **registry);

  int port = options.port;
  if (port == 0) {
    port = http.bind_to_any_port(options.host);
    if (port <= 0) return fail(make_error(ErrorCode::kNetwork, "cannot bind to " + options.host));
  } else if (!http.bind_to_port(options.host, port)) {
    return fail(make_error(ErrorCode::kNetwork, "cannot listen on " + options.host + ":" + std::to_string(port) +
                                                    " (in use, or not an address of this machine)"));
  }
  std::thread signal_waiter([&http, stop_signals] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    spdlog::info("server.stopping signal={}", signal_number);
    http.stop();
  });
  double startup_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  std::printf("listening on http://%s:%d\n", options.host.c_str(), port);
  std::fflush(stdout);
  spdlog::info("server.ready data={} startup_ms={:.1f}", options.data_dir.string(), startup_ms);
  bool clean = http.listen_after_bind();
  Status saved = (*fleet)->save_last_seen();
  if (!saved.ok()) spdlog::warn("fleet.last_seen.not_saved error=\"{}\"", saved.error().message);
  // listen_after_bind returns when stopped; make sure the waiter thread ends too.
  if (signal_waiter.joinable()) {
    pthread_kill(signal_waiter.native_handle(), SIGTERM);
    signal_waiter.join();
  }
  return clean ? 0 : 1;
}

}  // namespace canopy::server
