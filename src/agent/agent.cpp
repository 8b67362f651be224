#include "agent/agent.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>

#include "agent/client_certificate.h"
#include "agent/device_client.h"
#include "agent/field_work.h"
#include "agent/identity.h"
#include "agent/report_outbox.h"
#include "agent/updater.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/http_client.h"
#include "common/keys.h"
#include "common/text.h"

namespace canopy::agent {

namespace {

std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "request_stop must be async-signal-safe");

std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof(buffer) - 1) != 0 || buffer[0] == '\0') return "";
  return buffer;
}

Result<Enrollment> ensure_enrolled(const AgentOptions& options, DeviceClient& client, const KeyPair& identity,
                                   Backoff& backoff, Clock& clock) {
  CANOPY_ASSIGN_OR_RETURN(std::optional<Enrollment> stored, load_enrollment(options.data_dir));
  if (stored) return *stored;
  if (options.enrollment_token.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "this device has not enrolled yet: pass --enroll-token (or set CANOPY_ENROLL_TOKEN)");
  api::EnrollRequest request;
  request.enrollment_token = options.enrollment_token;
  request.name = options.name.empty() ? host_name() : options.name;
  if (request.name.empty()) request.name = identity.public_key.key_id();
  request.tags = options.tags;
  request.agent_version = kAgentVersion;
  while (true) {
    auto enrolled = client.enroll(request, identity);
    if (enrolled.ok()) {
      CANOPY_TRY(save_enrollment(options.data_dir, *enrolled));
      spdlog::info("agent.enrolled device={} group={} status={}", enrolled->device_id, enrolled->group,
                   api::device_status_name(enrolled->status));
      return enrolled;
    }
    if (enrolled.error().code != ErrorCode::kNetwork || options.once || stop_requested.load())
      return enrolled.error().with_context("enrollment");
    spdlog::info("agent.offline reason=\"{}\"", enrolled.error().message);
    clock.sleep_for_ms_unless(backoff.next_failure().count(), stop_requested);
  }
}

// The plain-HTTP rule of AgentOptions::allow_plain_http.
Status check_transport(const AgentOptions& options) {
  if (!options.server_url.starts_with("http://") || options.allow_plain_http ||
      is_loopback_host(url_host(options.server_url)))
    return {};
  return make_error(ErrorCode::kInvalidArgument,
                    "refusing plain HTTP to " + options.server_url +
                        ": the device token would cross the network in clear; use an https:// server, or "
                        "--allow-plain-http on a network that is safe");
}

// The server's pin: the one given, kept for the next starts, or the one kept.
Result<std::string> server_pin(const AgentOptions& options) {
  const std::filesystem::path kept = options.data_dir / "server.pin";
  if (options.server_pin.empty()) {
    if (!std::filesystem::exists(kept)) return std::string();
    CANOPY_ASSIGN_OR_RETURN(std::string pin, read_file(kept));
    return std::string(trim(pin));
  }
  auto digest = base64_decode(options.server_pin.starts_with("sha256//") ? options.server_pin.substr(8) : "");
  if (!digest.ok() || digest->size() != 32)
    return make_error(ErrorCode::kInvalidArgument,
                      "--server-pin '" + options.server_pin + "' must be sha256// and 44 base64 characters");
  CANOPY_TRY(write_file_atomic(kept, options.server_pin + "\n", 0600));
  return options.server_pin;
}

// Rotates the device token once it is older than the options allow
// (docs/fleet.md, "Rotating the device token"). DATA/token_issued_ms holds
// when the token in use was issued (the first start after enrollment
// writes it). The new token is on disk before any request uses it, so a
// crash at any point leaves a token the server accepts: until its first
// use the old one works too.
Status rotate_token_if_due(const AgentOptions& options, DeviceClient& client, Clock& clock) {
  if (options.token_max_age_s == 0) return {};
  const std::filesystem::path issued_file = options.data_dir / "token_issued_ms";
  const std::int64_t now = clock.wall_ms();
  auto issued_text = read_file(issued_file);
  const std::optional<std::int64_t> issued =
      issued_text.ok() ? parse_int(trim(*issued_text)) : std::optional<std::int64_t>();
  if (!issued) return write_file_atomic(issued_file, std::to_string(now) + "\n", 0600);
  if (now - *issued < options.token_max_age_s * 1000) return {};
  CANOPY_ASSIGN_OR_RETURN(std::string token, client.rotate_token());
  // The enrollment as it is on disk now: the updater may have added trusted keys to it.
  CANOPY_ASSIGN_OR_RETURN(std::optional<Enrollment> enrollment, load_enrollment(options.data_dir));
  if (!enrollment) return make_error(ErrorCode::kNotFound, "enrollment.json is gone");
  enrollment->device_token = token;
  CANOPY_TRY(save_enrollment(options.data_dir, *enrollment));
  client.set_device_token(token);
  CANOPY_TRY(write_file_atomic(issued_file, std::to_string(now) + "\n", 0600));
  spdlog::info("agent.token_rotated device={}", enrollment->device_id);
  return {};
}

}  // namespace

void request_stop() { stop_requested.store(true); }

Result<int> run_agent(const AgentOptions& options, ActiveModel& active) {
  CANOPY_TRY(init_crypto());
  Clock& clock = *options.clock;
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
  CANOPY_TRY(check_transport(options));
  http.ca_file = options.ca_file;
  CANOPY_ASSIGN_OR_RETURN(http.server_pin, server_pin(options));
  // Offered to every https server: one that does not ask for a client
  // certificate never sees it, and one with mutual TLS binds it to the key
  // this device enrolls with (docs/security.md).
  if (options.server_url.starts_with("https://")) {
    CANOPY_ASSIGN_OR_RETURN(ClientCertificateFiles certificate,
                            ensure_client_certificate(options.data_dir, identity));
    http.client_cert_file = certificate.cert_file.string();
    http.client_key_file = certificate.key_file.string();
  }
  DeviceClient client(options.server_url, http);
  Backoff backoff(std::chrono::milliseconds(options.backoff_initial_ms),
                  std::chrono::milliseconds(options.backoff_max_ms));
  CANOPY_ASSIGN_OR_RETURN(Enrollment enrollment, ensure_enrolled(options, client, identity, backoff, clock));
  client.set_device_token(enrollment.device_token);

  UpdaterOptions updater_options;
  updater_options.data_dir = options.data_dir;
  updater_options.max_attempts = options.max_attempts;
  updater_options.max_slot_bytes = options.max_slot_bytes;
  updater_options.health.engine = options.engine;
  updater_options.agent_version = kAgentVersion;
  updater_options.clock = options.clock;
  CANOPY_ASSIGN_OR_RETURN(updater_options.trusted_keys, trusted_keys_of(enrollment));
  CANOPY_ASSIGN_OR_RETURN(std::unique_ptr<Updater> updater,
                          Updater::open(std::move(updater_options), client, std::move(faults), active));
  CANOPY_TRY(updater->recover());  // checks the installed models' files as it loads them

  // The field loop is the device's purpose, but the updater is its way to be
  // fixed: a field loop that cannot start is logged and the updater runs on.
  FieldWork field(options, active, client);
  if (!options.once) field.start();

  const std::int64_t check_every_ms = options.integrity_check_interval_s * 1000;
  std::int64_t next_check_ms = clock.monotonic_ms() + check_every_ms;
  while (!stop_requested.load()) {
    auto outcome = updater->cycle();
    if (!outcome.ok()) spdlog::error("agent.cycle_failed reason=\"{}\"", outcome.error().message);
    if (outcome.ok() && outcome->field_config && !options.once) field.offer(*outcome->field_config);
    if (outcome.ok() && outcome->reached_server) {
      Status rotated = rotate_token_if_due(options, client, clock);
      if (!rotated.ok()) spdlog::warn("agent.token_not_rotated reason=\"{}\"", rotated.error().message);
    }
    if (options.once) return outcome.ok() && outcome->reached_server ? 0 : 1;
    std::chrono::milliseconds wait;
    if (outcome.ok() && outcome->reached_server) {
      backoff.reset();
      wait = backoff.jittered(std::chrono::seconds(std::max<std::int64_t>(1, outcome->poll_interval_s)));
    } else {
      wait = backoff.next_failure();
    }
    // The periodic integrity check wakes the loop when it is due before the next poll.
    const std::int64_t until_check_ms = std::max<std::int64_t>(0, next_check_ms - clock.monotonic_ms());
    clock.sleep_for_ms_unless(std::min<std::int64_t>(wait.count(), until_check_ms), stop_requested);
    if (clock.monotonic_ms() >= next_check_ms) {
      Status checked = updater->check_installed_models();
      if (!checked.ok()) spdlog::error("agent.integrity_check_failed reason=\"{}\"", checked.error().message);
      next_check_ms = clock.monotonic_ms() + check_every_ms;
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
  out["current"] = api::to_json(model_of(state.current()));
  out["previous"] = api::to_json(model_of(state.previous()));
  const std::filesystem::path report = data_dir / "report.json";
  out["report_pending"] = std::filesystem::exists(report, ec);
  return out;
}

std::string format_status(const Json& status) {
  const Json& state = status["state"];
  auto model = [](const Json& ref) {
    return ref.is_null()
               ? std::string("-")
               : ref["name"].get<std::string>() + ":" + std::to_string(ref["version"].get<long long>());
  };
  std::string out;
  auto line = [&out](const std::string& label, const std::string& value) {
    out += label + std::string(label.size() < 12 ? 12 - label.size() : 1, ' ') + value + "\n";
  };
  line("device:",
       status["device_id"].get<std::string>() + (status["enrolled"].get<bool>() ? "" : " (not enrolled)"));
  line("state:", state["phase"].get<std::string>());
  const std::string active = state["active_slot"].get<std::string>();
  for (const char* slot : {"a", "b"})
    line(std::string("slot ") + slot + ":",
         model(state["slots"][slot]) + (active == slot ? "  (active)" : ""));
  line("current:", model(status["current"]));
  line("previous:", model(status["previous"]));
  if (!state["target"].is_null())
    line("updating:",
         model(state["target"]["model"]) + " (attempt " + std::to_string(state["attempts"].get<int>()) + ")");
  if (!state["failed"].is_null()) line("failed:", model(state["failed"]));
  const std::string last_error = state["last_error"].get<std::string>();
  line("last error:", last_error.empty() ? "-" : last_error);
  line("report:", status["report_pending"].get<bool>() ? "pending (server not reached yet)" : "none pending");
  return out;
}

}  // namespace canopy::agent
