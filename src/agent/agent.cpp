#include "agent/agent.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "agent/backoff.h"
#include "agent/device_client.h"
#include "agent/identity.h"
#include "agent/report_outbox.h"
#include "agent/updater.h"
#include "common/hash.h"

namespace canopy::agent {

namespace {

std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "request_stop must be async-signal-safe");

// Sleeps in short steps so that a stop request ends the wait quickly.
void sleep_unless_stopped(std::chrono::milliseconds wait) {
  const auto until = std::chrono::steady_clock::now() + wait;
  while (!stop_requested.load() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(100), until - std::chrono::steady_clock::now()));
}

std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof(buffer) - 1) != 0 || buffer[0] == '\0') return "";
  return buffer;
}

Result<Enrollment> ensure_enrolled(const AgentOptions& options, DeviceClient& client, const KeyPair& identity,
                                   Backoff& backoff) {
  CANOPY_ASSIGN_OR_RETURN(std::optional<Enrollment> stored, load_enrollment(options.data_dir));
  if (stored) return *stored;
  if (options.enrollment_token.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "this device has not enrolled yet: pass --enroll-token (or set CANOPY_ENROLL_TOKEN)");
  EnrollRequest request;
  request.enrollment_token = options.enrollment_token;
  request.name = options.name.empty() ? host_name() : options.name;
  if (request.name.empty()) request.name = identity.public_key.key_id();
  request.tags = options.tags;
  request.agent_version = kAgentVersion;
  while (true) {
    auto enrolled = client.enroll(request, identity);
    if (enrolled.ok()) {
      CANOPY_TRY(save_enrollment(options.data_dir, *enrolled));
      spdlog::warn("agent.enrolled device={} group={} status={}", enrolled->device_id, enrolled->group,
                   enrolled->status);
      return enrolled;
    }
    if (enrolled.error().code != ErrorCode::kNetwork || options.once || stop_requested.load())
      return enrolled.error().with_context("enrollment");
    spdlog::info("agent.offline reason=\"{}\"", enrolled.error().message);
    sleep_unless_stopped(backoff.next_failure());
  }
}

}  // namespace

void request_stop() { stop_requested.store(true); }

Result<int> run_agent(const AgentOptions& options, ActiveModel& active) {
  CANOPY_TRY(init_crypto());
  if (options.server_url.empty())
    return make_error(ErrorCode::kInvalidArgument, "no server: pass --server URL");
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    return make_error(ErrorCode::kIo, "cannot create " + options.data_dir.string() + ": " + ec.message());
  // The directory holds the device's secrets.
  ::chmod(options.data_dir.c_str(), 0700);
  CANOPY_ASSIGN_OR_RETURN(FaultInjector faults, FaultInjector::parse(options.crash_at));
  CANOPY_ASSIGN_OR_RETURN(KeyPair identity, load_or_create_identity(options.data_dir));

  HttpOptions http;
  http.max_attempts = 2;  // the agent's own backoff covers longer outages
  http.backoff_max_ms = 2000;
  DeviceClient client(options.server_url, http);
  Backoff backoff(std::chrono::milliseconds(options.backoff_initial_ms),
                  std::chrono::milliseconds(options.backoff_max_ms));
  CANOPY_ASSIGN_OR_RETURN(Enrollment enrollment, ensure_enrolled(options, client, identity, backoff));
  client.set_device_token(enrollment.device_token);

  UpdaterOptions updater_options;
  updater_options.data_dir = options.data_dir;
  updater_options.max_attempts = options.max_attempts;
  updater_options.max_slot_bytes = options.max_slot_bytes;
  updater_options.health.engine = options.engine;
  updater_options.agent_version = kAgentVersion;
  CANOPY_ASSIGN_OR_RETURN(updater_options.trusted_keys, enrollment.parsed_trusted_keys());
  CANOPY_ASSIGN_OR_RETURN(std::unique_ptr<Updater> updater,
                          Updater::open(std::move(updater_options), client, std::move(faults), active));
  CANOPY_TRY(updater->recover());

  while (!stop_requested.load()) {
    auto outcome = updater->cycle();
    if (!outcome.ok()) {
      spdlog::error("agent.cycle_failed reason=\"{}\"", outcome.error().message);
      if (options.once) return 1;
      sleep_unless_stopped(backoff.next_failure());
      continue;
    }
    if (options.once) return outcome->reached_server ? 0 : 1;
    if (outcome->reached_server) {
      backoff.reset();
      sleep_unless_stopped(backoff.jittered(std::chrono::seconds(std::max(1, outcome->poll_interval_s))));
    } else {
      sleep_unless_stopped(backoff.next_failure());
    }
  }
  spdlog::info("agent.stopped");
  return 0;
}

Result<Json> describe_agent(const std::filesystem::path& data_dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(data_dir, ec))
    return make_error(ErrorCode::kNotFound, "no agent data directory at " + data_dir.string());
  Json out = Json::object();
  CANOPY_ASSIGN_OR_RETURN(std::optional<Enrollment> enrollment, load_enrollment(data_dir));
  out["enrolled"] = enrollment.has_value();
  // Before enrollment the id is already known: it is the key id of the device key.
  std::string device_id = enrollment ? enrollment->device_id : "";
  if (device_id.empty())
    if (auto key = load_public_key(data_dir / "identity.pub"); key.ok()) device_id = key->key_id();
  out["device_id"] = device_id;
  out["group"] = enrollment ? enrollment->group : "";
  CANOPY_ASSIGN_OR_RETURN(UpdateState state, StateStore(data_dir).load());
  out["state"] = state_to_json(state);
  out["current"] = model_ref_to_json(state.current());
  out["previous"] = model_ref_to_json(state.previous());
  const std::filesystem::path report = data_dir / "report.json";
  out["report_pending"] = std::filesystem::exists(report, ec);
  return out;
}

}  // namespace canopy::agent
