// GET /api/v1/events: the change feed as Server-Sent Events
// (docs/dashboard.md, "Live updates"). One stream per browser tab: it
// replays what the tab missed (Last-Event-ID), sends a comment every 15 s so
// that proxies keep it open and a vanished browser is noticed, and ends
// after 5 minutes so that the browser reconnects and no worker is held for
// ever. Streams are capped at a quarter of the HTTP workers; a browser
// refused one polls instead: `?after=ID` answers at once, in JSON.
#include <string>

#include "common/text.h"
#include "server/http/routes.h"

namespace canopy::server {

namespace {

using httplib::DataSink;
using httplib::Request;
using httplib::Response;

constexpr auto kHeartbeat = std::chrono::seconds(15);
constexpr std::int64_t kStreamLifetimeMs = 5 * 60 * 1000;
// The browser waits this long before reconnecting a stream that ended.
constexpr int kReconnectMs = 2000;

Json event_json(const ChangeEvent& event) {
  Json data = {{"id", event.id}, {"topic", event.topic}, {"method", event.method}};
  if (!event.path.empty()) data["path"] = event.path;
  return data;
}

std::string event_text(const ChangeEvent& event) {
  return "id: " + std::to_string(event.id) + "\nevent: change\ndata: " + event_json(event).dump() + "\n\n";
}

// The polling fallback: what came after `after`, at once.
void send_poll(Response& res, ChangeFeed& feed, const std::string& after_text) {
  auto after = parse_int(after_text);
  if (!after || *after < 0)
    return send_error(res, make_error(ErrorCode::kInvalidArgument,
                                      "after '" + after_text + "' must be an event id, 0 or more"));
  ChangeFeed::Batch batch = feed.wait_after(*after, std::chrono::milliseconds(0));
  Json events = Json::array();
  for (const ChangeEvent& event : batch.events) events.push_back(event_json(event));
  const std::int64_t last =
      batch.events.empty() ? (batch.gap ? feed.last_id() : *after) : batch.events.back().id;
  send_json(res, 200, {{"events", events}, {"last_id", last}, {"reset", batch.gap}});
}

// Where the stream starts: after the browser's Last-Event-ID when it sent one
// (a reconnect), else from now.
std::int64_t resume_point(const Request& req, const ChangeFeed& feed) {
  const std::string header = req.get_header_value("Last-Event-ID");
  if (auto id = parse_int(header); id && *id >= 0) return *id;
  return feed.last_id();
}

}  // namespace

void install_event_routes(Routes& routes, ChangeFeed& feed, int max_streams, Clock& clock) {
  routes.get(
      "/api/v1/events", Role::kReader,
      [&feed, max_streams, &clock](const Request& req, Response& res, const ApiKeyRecord&) {
        if (req.has_param("after")) return send_poll(res, feed, req.get_param_value("after"));
        if (!feed.try_open_stream(max_streams)) {
          res.set_header("Retry-After", "30");
          return send_json(res, 503,
                           {{"error",
                             {{"code", "unavailable"},
                              {"message", "every event stream is taken (" + std::to_string(max_streams) +
                                              "); poll the API instead"}}}});
        }
        res.set_header("Cache-Control", "no-store");
        struct Stream {
          std::int64_t last_id;
          std::int64_t ends_ms;
          bool started = false;
        };
        auto stream = std::make_shared<Stream>(
            Stream{resume_point(req, feed), clock.monotonic_ms() + kStreamLifetimeMs});
        res.set_chunked_content_provider(
            "text/event-stream",
            [&feed, &clock, stream](std::size_t, DataSink& sink) {
              std::string text;
              if (!stream->started) {
                stream->started = true;
                text = "retry: " + std::to_string(kReconnectMs) + "\n\n";
              }
              ChangeFeed::Batch batch =
                  feed.wait_after(stream->last_id, text.empty() ? kHeartbeat : std::chrono::seconds(0));
              if (batch.gap) {
                // The browser missed events it cannot have: it reads everything again.
                stream->last_id = feed.last_id();
                text += "id: " + std::to_string(stream->last_id) + "\nevent: reset\ndata: {}\n\n";
              }
              for (const ChangeEvent& event : batch.events) {
                text += event_text(event);
                stream->last_id = event.id;
              }
              if (text.empty()) text = ": heartbeat\n\n";
              if (!sink.write(text.data(), text.size())) return false;
              if (batch.closed || clock.monotonic_ms() >= stream->ends_ms) sink.done();
              return true;
            },
            [&feed](bool) { feed.close_stream(); });
      });
}

}  // namespace canopy::server
