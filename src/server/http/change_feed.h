// What changed, for the dashboard's live view (docs/dashboard.md, "Live
// updates"): every successful change made through the API becomes a small
// event, numbered, kept in a ring of the latest few thousand, and handed to
// the Server-Sent Events streams (event_routes.cpp). An event names what
// changed (its topic and path), not the new state: the page asks for what it
// shows, with its own role, so the stream can never show more than the API.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace canopy::server {

struct ChangeEvent {
  std::int64_t id = 0;  // from 1 upwards; the stream's Last-Event-ID
  std::string topic;    // the area: "deployments", "device/status", "models", ...
  std::string method;   // POST, PUT, PATCH or DELETE
  std::string path;     // empty where the path itself is not for every reader (keys, users)
};

// The topic of a successful change to `path`, or nullopt when the request
// changes nothing anyone watches (signing in or out). A pure function.
std::optional<std::string> change_topic(std::string_view path);

class ChangeFeed {
 public:
  explicit ChangeFeed(std::size_t capacity = 4096) : capacity_(capacity) {}

  void publish(std::string topic, std::string method, std::string path);

  struct Batch {
    std::vector<ChangeEvent> events;  // oldest first
    // Events after the asked-for id have left the ring, or the id is from
    // before a restart: the reader must read everything again.
    bool gap = false;
    bool closed = false;  // the server is stopping
  };
  // The events after `last_id`, waiting up to `timeout` for one to come.
  Batch wait_after(std::int64_t last_id, std::chrono::milliseconds timeout);
  std::int64_t last_id() const;
  // Ends every wait at once, now and from now on (the server is stopping).
  void close();

  // Open streams, bounded so that they cannot take every HTTP worker: false
  // when `max` are open already.
  bool try_open_stream(int max);
  void close_stream();
  int open_streams() const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<ChangeEvent> events_;
  std::int64_t last_id_ = 0;
  bool closed_ = false;
  int open_streams_ = 0;
};

}  // namespace canopy::server
