// The edge agent: enrol once, then poll the desired state, carry it out, and
// report, forever (or once, for tests), backing off with jitter while the
// network is away. With a field configuration it also runs the field loop
// (field_loop.h) on a thread of its own, at a lower priority so that
// inference never starves the updater, and drains the loop's durable outbox
// to the server on a third. `canopy-agent` is a thin shell over this.
// Thread-safety: run_agent blocks the calling thread; stop it with
// request_stop() from a signal handler or another thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "agent/active_model.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/json.h"
#include "infer/engine.h"

namespace canopy::agent {

inline constexpr const char* kAgentVersion = "0.1.0";

struct AgentOptions {
  std::string server_url;
  std::filesystem::path data_dir;
  std::string enrollment_token;  // needed only until the device has enrolled
  std::string name;              // device name shown in the inventory; default: the device id
  std::map<std::string, std::string> tags;
  bool once = false;  // one poll-and-update cycle, then return
  int max_attempts = 3;
  std::uint64_t max_slot_bytes = 0;
  std::string crash_at;  // fault injection (see fault_injection.h); empty: off
  infer::EngineOptions engine;
  long backoff_initial_ms = 1000;
  long backoff_max_ms = 300000;  // the longest wait between tries while offline
  // How often the files of the active and previous models are checked
  // against their signed manifests while running (they are at every start).
  std::int64_t integrity_check_interval_s = 86400;
  Clock* clock = &system_clock();  // polls, backoff and the periodic check wait on it
  // The field loop's configuration (docs/field.md); empty: no field loop.
  std::filesystem::path field_config;
  std::uint64_t outbox_max_bytes = 256ull << 20;  // the outbox's disk cap
  std::int64_t upload_bytes_per_s = 0;            // the uploader's bandwidth cap; 0: none
  // How the https server is trusted (HttpOptions). A pin given once is kept
  // in DATA/server.pin and used from then on without the flag.
  std::string ca_file, server_pin;
  // The device token crosses the network in clear over plain HTTP: only to
  // a loopback address unless this says so.
  bool allow_plain_http = false;
  // The device token is rotated once it is this old (docs/fleet.md,
  // "Rotating the device token"); 0: never.
  std::int64_t token_max_age_s = 30 * 86'400;
};

// Runs the updater. The returned code is the process exit code: 0, or 1
// when `once` could not reach the server or finish its work.
Result<int> run_agent(const AgentOptions& options, ActiveModel& active);

// Asks a running run_agent to return after the current step (async-signal-safe).
void request_stop();

// What `canopy-agent status` shows: identity, slots, state, last error,
// pending report. Reads the data directory only.
Result<Json> describe_agent(const std::filesystem::path& data_dir);

// describe_agent's answer as the lines `canopy-agent status` prints.
std::string format_status(const Json& status);

}  // namespace canopy::agent
