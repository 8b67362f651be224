// What the fleet benchmarks share as clients of a running server: one-shot
// requests (a new connection each, as the agent makes them), the admin API,
// and devices enrolled with their own ed25519 keys (docs/fleet.md).
// Thread-safety: every function may run on many threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_server.h"
#include "common/http_client.h"
#include "common/json.h"
#include "common/keys.h"
#include "common/time.h"
#include "report.h"

namespace canopy::bench {

// A server and, for https, the pin its clients trust it by.
struct Target {
  // A URL alone is a plain-HTTP target, so a std::string converts.
  Target(std::string server_url, std::string server_pin = "")  // NOLINT(google-explicit-constructor)
      : url(std::move(server_url)), pin(std::move(server_pin)) {}
  std::string url, pin;
};

inline HttpResponse request(const Target& target, const std::string& method, const std::string& path,
                            const std::vector<std::string>& headers, const std::string& body = "") {
  HttpOptions options;
  options.max_attempts = 1;
  options.headers = headers;
  options.server_pin = target.pin;
  HttpClient client(target.url, options);
  auto response = method == "GET" ? client.get(path) : client.send(method, path, body, "application/json");
  if (!response.ok()) die(method + " " + path + ": " + response.error().message);
  return *response;
}

inline Json admin(const Target& target, const std::string& method, const std::string& path,
                  const Json& body = nullptr) {
  auto response = request(target, method, path, {std::string("X-API-KEY: ") + kAdminKey}, body.dump());
  if (response.status < 200 || response.status >= 300) die(path + ": " + response.body);
  return check(parse_json(response.body), path);
}

struct Device {
  std::string id;
  std::string token;
  std::string etag;
};

// Enrolls `count` devices into `group` from `threads` threads.
inline std::vector<Device> enroll(const Target& target, const std::string& group, int count, int threads) {
  const std::string token = admin(target, "POST", "/api/v1/enrollment-tokens",
                                  {{"group", group}, {"max_uses", count}, {"expires_in_s", 86400}})
                                .value("token", "");
  std::vector<Device> devices(static_cast<size_t>(count));
  std::atomic<int> next{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        KeyPair key = KeyPair::generate();
        std::string public_key = key.public_key.to_text();
        public_key.pop_back();
        const std::string name = group + "-" + std::to_string(i);
        const std::string timestamp = now_rfc3339();
        const std::string signed_text =
            "canopy-enroll\n" + token + "\n" + public_key + "\n" + name + "\n" + timestamp;
        Json body = {{"enrollment_token", token},
                     {"public_key", public_key},
                     {"name", name},
                     {"timestamp", timestamp},
                     {"agent_version", "bench"},
                     {"tags", {{"bench", group}}},
                     {"signature", base64_encode(sign_detached(key, signed_text))}};
        auto response = request(target, "POST", "/api/v1/enroll", {}, body.dump());
        if (response.status != 201) die("enroll: " + response.body);
        Json answer = check(parse_json(response.body), "enroll answer");
        devices[static_cast<size_t>(i)] = {answer.value("device_id", ""), answer.value("device_token", ""),
                                           ""};
      }
    });
  for (auto& w : workers) w.join();
  return devices;
}

struct PollResult {
  std::vector<double> latencies_ms;  // one per poll
  double rate = 0;                   // polls per second achieved
};

// Every device polls once per `interval_s`, spread evenly, for `duration_s`,
// from `threads` threads. Each thread calls `make_poller()` once and polls
// each device it is given with what that returns (a callable taking a
// Device&), so a thread may keep its own connection; a poll's latency is
// the time that call takes.
template <typename MakePoller>
PollResult scheduled_polls(std::vector<Device>& devices, double interval_s, double duration_s, int threads,
                           MakePoller make_poller) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> latencies;
  std::mutex latencies_mutex;
  const auto start = Clock::now();
  const double spacing = interval_s / static_cast<double>(devices.size());
  std::atomic<std::uint64_t> next{0};
  const auto total = static_cast<std::uint64_t>(duration_s / spacing);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      auto poll = make_poller();
      std::vector<double> mine;
      for (std::uint64_t k = next++; k < total; k = next++) {
        std::this_thread::sleep_until(start +
                                      std::chrono::duration<double>(static_cast<double>(k) * spacing));
        const auto sent = Clock::now();
        poll(devices[k % devices.size()]);
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
      }
      std::lock_guard lock(latencies_mutex);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  for (auto& w : workers) w.join();
  return {latencies,
          static_cast<double>(total) / std::chrono::duration<double>(Clock::now() - start).count()};
}

}  // namespace canopy::bench
